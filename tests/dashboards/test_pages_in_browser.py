"""Every page in Debian's Chromium against a seeded hub: load, change a selection, see it change."""

import socket
from pathlib import Path

import pytest

from carmen.operations import mount_dashboard
from dashboards import create_dashboard
from tests.dashboards.conftest import Served

pytestmark = pytest.mark.browser
TIMEOUT = 20_000


@pytest.fixture
def visit(page):
    """Open a page of a dashboard, wait for its callbacks, and record every request it makes."""
    return _visitor(page)


@pytest.fixture
def visit_fresh(fresh_page):
    """As visit, in a browser context with no cookies yet."""
    return _visitor(fresh_page)


def _visitor(page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def go(url: str):
        page.goto(url, timeout=TIMEOUT)
        _wait_ready(page)
        origin = url.split("/", 3)[:3]
        outside = [u for u in requested if u.split("/", 3)[:3] != origin]
        assert outside == [], f"the page fetched from other hosts: {outside}"
        return page

    return go


def _wait_ready(page) -> None:
    page.wait_for_load_state("networkidle", timeout=TIMEOUT)
    page.wait_for_function(
        "() => !document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=TIMEOUT
    )


def _choose(page, dropdown_id: str, label: str) -> None:
    page.locator(f"#{dropdown_id}").click()
    page.get_by_role("option", name=label, exact=True).click()
    _wait_ready(page)


def _title(page, graph_id: str) -> str:
    return page.locator(f"#{graph_id} .gtitle").first.text_content(timeout=TIMEOUT) or ""


def _shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"dashboard-{name}.png"), full_page=True)


def test_federation_lists_cities_health_and_services_for_a_chosen_city(
    visit, dashboard_server, artifacts_dir
):
    page = visit(dashboard_server.url + "/")
    assert "6 cities" in page.locator("#federation-summary").inner_text()
    assert "Tallinn" in page.locator("#federation-nodes").inner_text()
    assert "tallinn/bins" in page.locator("#federation-services").inner_text()  # provenance
    _choose(page, "federation-city", "Gent")
    services = page.locator("#federation-services").inner_text()
    assert "traffic_alerts" in services and "bulky_waste" not in services
    assert "city=gent" in page.url
    assert "Eurostat" in page.locator(".credit").inner_text()
    _shot(page, artifacts_dir, "federation")


def test_services_heatmap_follows_the_chosen_kpi_and_the_address_keeps_it(
    visit, dashboard_server, artifacts_dir
):
    page = visit(dashboard_server.url + "/services?service=traffic_alerts&city=gent")
    assert _title(page, "services-heatmap").startswith("Uptake")
    assert "traffic_alerts" in _title(page, "services-series")
    assert "gent" in _title(page, "services-channels")
    _choose(page, "services-kpi", "Completion rate")
    assert _title(page, "services-heatmap").startswith("Completion rate")
    assert "kpi=completion_rate" in page.url and "service=traffic_alerts" in page.url
    assert "completion rate" in page.locator("#services-table").inner_text()
    _shot(page, artifacts_dir, "services")
    shared = visit(page.url)  # the shared address opens the same view
    assert _title(shared, "services-heatmap").startswith("Completion rate")


def test_profiles_show_the_chosen_clusters_cities(visit, dashboard_server, artifacts_dir):
    page = visit(dashboard_server.url + "/profiles")
    assert page.locator("#profiles-map .scatterlayer .trace").count() >= 2
    before = page.locator("#profiles-cities").inner_text()
    _choose(page, "profiles-cluster", "cluster 1")
    assert page.locator("#profiles-cities-title").inner_text().startswith("Cities of cluster 1")
    assert page.locator("#profiles-cities").inner_text() != before
    assert "cluster=1" in page.url
    _shot(page, artifacts_dir, "profiles")


def test_replication_ranks_cities_and_gives_the_clone_command_for_the_chosen_target(
    visit, dashboard_server, artifacts_dir
):
    page = visit(dashboard_server.url + "/replication?service=bulky_waste")
    ranking = page.locator("#replication-table").inner_text()
    assert "piloted" in ranking and ("replicate" in ranking or "viable" in ranking)
    stated = page.locator("#replication-target").inner_text()
    assert "break-even uptake" in stated and "the default cost model" in stated
    command = page.locator("#replication-command").inner_text()
    assert command.startswith("carmen service clone bins --from /srv/carmen/")
    target = "gent" if command.endswith("/brno") else "brno"
    _choose(page, "replication-city", target)
    assert page.locator("#replication-command").inner_text().endswith(f"--to /srv/carmen/{target}")
    assert f"city={target}" in page.url
    assert _title(page, "replication-drivers") == f"Drivers for {target}"
    europe = page.locator("#replication-europe-table").inner_text()
    assert "bulky_waste" in europe and "noise_report" in europe
    with page.expect_download() as download:
        page.locator("#replication-table button.export").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").strip().splitlines()
    assert "expected uptake" in lines[0]
    assert len(lines) == 1 + 6  # every city: four pilots and two judged
    _shot(page, artifacts_dir, "replication")


def test_validation_phase_shows_the_chosen_services_timeline_and_phases(
    visit, dashboard_server, artifacts_dir
):
    page = visit(dashboard_server.url + "/validation")
    _choose(page, "validation-service", "traffic_alerts")
    assert "traffic_alerts" in _title(page, "validation-phases")
    assert "months 7-12" in page.locator("#validation-table").inner_text()
    assert "service=traffic_alerts" in page.url
    _shot(page, artifacts_dir, "validation")


def test_an_unknown_service_or_city_in_the_address_gets_a_clear_message(visit, dashboard_server):
    page = visit(dashboard_server.url + "/services?service=teleportation")
    assert "Unknown service 'teleportation'" in page.locator("main").inner_text()
    page = visit(dashboard_server.url + "/replication?service=bulky_waste&city=atlantis")
    text = page.locator("main").inner_text()
    assert "Unknown city 'atlantis'" in text and "Traceback" not in text


def test_an_unreachable_hub_shows_a_banner(visit, artifacts_dir):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = Served(create_dashboard(f"http://127.0.0.1:{port}", "chub_x").server)
    try:
        for path in ("/", "/services", "/replication"):
            page = visit(served.url + path)
            banner = page.locator("#hub-banner")
            assert "hub is unreachable" in banner.inner_text()
        _shot(page, artifacts_dir, "hub-down")
    finally:
        served.close()


def test_a_coordinator_logs_in_with_the_hub_account(visit_fresh, login_server, seeded_hub):
    visit = visit_fresh
    page = visit(login_server.url + "/services")
    assert page.locator("#login-needed").is_visible()
    page = visit(login_server.url + "/login")
    page.fill("#login-username", seeded_hub.username)
    page.fill("#login-password", "wrong password")
    page.click("#login-submit")
    page.wait_for_selector("text=refused the login", timeout=TIMEOUT)
    page.fill("#login-password", seeded_hub.password)
    page.click("#login-submit")
    page.wait_for_selector("#federation-summary", timeout=TIMEOUT)
    assert "6 cities" in page.locator("#federation-summary").inner_text()
    page = visit(login_server.url + "/logout")
    page = visit(login_server.url + "/services")
    assert page.locator("#login-needed").is_visible()


def test_the_hub_serves_the_dashboards_under_dashboard(visit_fresh, seeded_hub, hub_server):
    visit = visit_fresh
    served = Served(mount_dashboard(seeded_hub.app, hub_url=hub_server.url, secret_key="test"))
    try:
        page = visit(served.url + "/dashboard/")
        assert page.locator("#login-needed").is_visible()
        background = page.evaluate(
            "() => getComputedStyle(document.querySelector('.topbar')).backgroundColor"
        )
        assert background == "rgb(11, 61, 92)"  # the stylesheet came from the app's assets
        page.locator("a.nav-link", has_text="Log in").click()
        page.wait_for_selector("#login-username", timeout=TIMEOUT)
        assert page.url == served.url + "/dashboard/login"
        page.fill("#login-username", seeded_hub.username)
        page.fill("#login-password", seeded_hub.password)
        page.click("#login-submit")
        page.wait_for_selector("#federation-summary", timeout=TIMEOUT)
        assert page.request.get(served.url + "/healthz").json() == {"status": "ok"}
    finally:
        served.close()
