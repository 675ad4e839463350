"""The dashboard app without a browser: the hub's read API it uses, offline assets, bad input."""

import re
import socket
from importlib import resources

import pytest

from carmen.cities import ATTRIBUTION
from dashboards import components, create_dashboard
from dashboards.client import HubClient, HubRefused, HubUnavailable
from dashboards.pages import federation, profiles, replication, services, validation

PAGES = ["/", "/services", "/profiles", "/replication", "/validation", "/login", "/logout"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_pages_credit_eurostat_and_un_desa_as_the_city_table_does():
    assert components.ATTRIBUTION == ATTRIBUTION


def test_every_page_and_stylesheet_names_no_other_host():
    app = create_dashboard("http://127.0.0.1:9", "t")
    client = app.server.test_client()
    for path in PAGES:
        html = client.get(path).get_data(as_text=True)
        hosts = set(re.findall(r"https?://([^/\"'\s<>]+)", html))
        assert hosts <= {"localhost"}, f"{path} names {hosts}"
        # Dash's CDN switch, not the letters (a random token may hold them)
        assert not re.search(r"serve_locally\W+false|cdn\.|unpkg", html, re.IGNORECASE)
    assets = resources.files("dashboards").joinpath("assets")
    for asset in assets.iterdir():
        assert not re.search(r"https?://", asset.read_text(encoding="utf-8")), asset.name


def test_the_hub_serves_one_evaluation_table_at_a_time(seeded_hub):
    client = seeded_hub.app.test_client()
    headers = {"Authorization": f"Bearer {seeded_hub.token}"}
    answer = client.get("/api/v1/evaluations/latest/viability", headers=headers)
    assert answer.status_code == 200
    body = answer.json
    assert body["table"] == "viability" and body["run_id"] >= 1
    assert {row["service"] for row in body["rows"]} == {"bulky_waste", "traffic_alerts"}
    unknown = client.get("/api/v1/evaluations/latest/horoscope", headers=headers)
    assert unknown.status_code == 404
    assert "horoscope" in unknown.json["message"] and "viability" in unknown.json["message"]
    assert client.get("/api/v1/evaluations/latest/kpis").status_code == 401


def test_the_hub_judges_every_european_city_when_given_the_table(seeded_hub):
    client = seeded_hub.app.test_client()
    headers = {"Authorization": f"Bearer {seeded_hub.token}"}
    rows = client.get("/api/v1/evaluations/latest/europe", headers=headers).json["rows"]
    by_service = {}
    for row in rows:
        by_service.setdefault(row["service"], set()).add((row["city"], row["country"]))
    assert set(by_service) == {"bulky_waste", "noise_report", "traffic_alerts"}
    assert all(len(cities) > 900 for cities in by_service.values())


def test_the_client_says_when_the_hub_is_unreachable_or_refuses():
    with pytest.raises(HubUnavailable, match="cannot be reached"):
        HubClient(f"http://127.0.0.1:{_closed_port()}").nodes(token="t")


def test_a_bad_token_is_refused_with_the_hubs_message(hub_server):
    with pytest.raises(HubRefused) as refused:
        HubClient(hub_server.url).nodes(token="chub_not-a-token")
    assert refused.value.status == 401 and "token" in refused.value.message


@pytest.mark.parametrize(
    ("page", "query", "message"),
    [
        (services, {"service": "teleportation"}, "Unknown service 'teleportation'"),
        (services, {"city": "atlantis"}, "Unknown city 'atlantis'"),
        (services, {"kpi": "happiness"}, "Unknown KPI 'happiness'"),
        (replication, {"service": "teleportation"}, "Unknown service 'teleportation'"),
        (replication, {"city": "atlantis"}, "Unknown city 'atlantis'"),
        (validation, {"service": "teleportation"}, "Unknown service 'teleportation'"),
        (profiles, {"cluster": "99"}, "Unknown cluster '99'"),
        (federation, {"city": "atlantis"}, "Unknown city 'atlantis'"),
    ],
)
def test_unknown_names_in_the_address_get_a_clear_message(
    hub_server, seeded_hub, page, query, message
):
    app = create_dashboard(hub_server.url, seeded_hub.token)
    with app.server.test_request_context("/"):
        assert message in str(page.layout(**query))


def test_a_page_without_a_token_asks_to_log_in_and_a_revoked_one_says_so(hub_server):
    app = create_dashboard(hub_server.url)
    with app.server.test_request_context("/"):
        assert "login-needed" in str(services.layout())
    app = create_dashboard(hub_server.url, "chub_revoked")
    with app.server.test_request_context("/"):
        assert "refused the API token" in str(replication.layout())


def test_rows_of_a_cached_table_are_the_rows_with_that_value():
    import pandas as pd

    from dashboards.data import distinct, rows_of

    frame = pd.DataFrame({"service": ["b", "a", "b", "c"], "value": [1, 2, 3, 4]})
    assert list(rows_of(frame, "service", "b")["value"]) == [1, 3]
    assert list(rows_of(frame, "service", "c")["value"]) == [4]
    assert rows_of(frame, "service", "zzz").empty
    assert distinct(frame, "service") == ["a", "b", "c"]


def test_pages_before_the_first_evaluation_say_so(tmp_path):
    from federation.hub.accounts import service as accounts
    from federation.hub.accounts.models import Role
    from federation.hub.database import get_db, utcnow
    from federation.hub.migrate import upgrade
    from tests.dashboards.conftest import Served
    from tests.federation.conftest import make_hub

    upgrade(f"sqlite:///{tmp_path / 'migrated.db'}")
    hub = make_hub(tmp_path / "hub", tmp_path / "migrated.db")
    with hub.app_context(), get_db(hub).session() as session:
        user, _ = accounts.create_user(
            db_session=session, username="cora", role=Role.COORDINATOR, password="a-password"
        )
        token, _ = accounts.create_api_token(
            db_session=session, user=user, name="t", now=utcnow(), ttl_days=1
        )
        session.commit()
    served = Served(hub)
    try:
        app = create_dashboard(served.url, token)
        with app.server.test_request_context("/"):
            for page in (services, profiles, replication, validation):
                assert "no evaluation yet" in str(page.layout())
            assert "0 cities" in str(federation.layout())
    finally:
        served.close()
        get_db(hub).engine.dispose()


def test_carmen_dashboard_is_a_command_of_the_cli():
    from click.testing import CliRunner

    from carmen.cli import main

    result = CliRunner().invoke(main, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "--hub" in result.output and "--token" in result.output
    missing = CliRunner().invoke(main, ["dashboard"])
    assert missing.exit_code != 0 and "--hub" in missing.output
