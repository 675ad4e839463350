"""Fixtures of the dashboard tests: a seeded hub and the dashboards served on loopback ports."""

import threading
from collections.abc import Iterator
from importlib import resources

import pytest
from werkzeug.serving import make_server

from dashboards import create_dashboard
from federation.hub.database import get_db
from federation.hub.migrate import upgrade
from tests.dashboards.seeding import SeededHub, seed_hub


class Served:
    """A WSGI app served by werkzeug in a thread on a free loopback port."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def seeded_hub(tmp_path_factory) -> Iterator[SeededHub]:
    """A hub with six cities, three services, eight months each and an evaluation with Europe."""
    base = tmp_path_factory.mktemp("dashboard-hub")
    upgrade(f"sqlite:///{base / 'migrated.db'}")
    europe = resources.files("carmen.data").joinpath("eu_cities.csv")
    hub = seed_hub(base / "hub", base / "migrated.db", EUROPE_CITIES=str(europe))
    yield hub
    get_db(hub.app).engine.dispose()


@pytest.fixture(scope="session")
def hub_server(seeded_hub) -> Iterator[Served]:
    """The seeded hub on a loopback port."""
    served = Served(seeded_hub.app)
    yield served
    served.close()


@pytest.fixture(scope="session")
def dashboard_server(hub_server, seeded_hub) -> Iterator[Served]:
    """The dashboards reading the seeded hub with a coordinator's token."""
    served = Served(create_dashboard(hub_server.url, seeded_hub.token).server)
    yield served
    served.close()


@pytest.fixture(scope="session")
def login_server(hub_server) -> Iterator[Served]:
    """The dashboards reading the seeded hub, with no token: coordinators log in."""
    served = Served(create_dashboard(hub_server.url).server)
    yield served
    served.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One browser context for the pages that need no log-in: Dash's scripts load once."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    """A new page in the shared context."""
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.fixture
def fresh_page(browser):
    """A page with its own cookies (log-in tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()
