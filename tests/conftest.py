"""Fixtures shared by every part's tests: the real services named by the environment."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _skip_without(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        pytest.skip(f"{what}: set {variable} to run this test")
    return value


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the PostgreSQL server named by CARMEN_TEST_DATABASE_URL, or skip."""
    url = _skip_without("CARMEN_TEST_DATABASE_URL", "no PostgreSQL server configured")
    import sqlalchemy as sa

    try:
        sa.create_engine(url).connect().close()
    except Exception as exc:  # the server is named but down: say so rather than fail obscurely
        pytest.skip(f"PostgreSQL at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"carmen_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server named by CARMEN_TEST_REDIS_URL, or skip."""
    url = _skip_without("CARMEN_TEST_REDIS_URL", "no Redis server configured")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except Exception as exc:
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium for browser tests, or skip."""
    path = os.environ.get("CARMEN_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        pytest.skip("Chromium not installed: apt-get install chromium, or set CARMEN_TEST_CHROMIUM")
    return path


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """A Playwright browser on Debian's Chromium; nothing is downloaded."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder where browser tests save screenshots for people to look at."""
    path = Path(os.environ.get("CARMEN_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
