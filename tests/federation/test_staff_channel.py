"""Requests the city's own staff raised: imported on a channel of their own, counted apart from
what citizens send in the node's snapshot, at the hub and in the digital-channel share."""

import csv
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from evaluation.kpis import build_cells, compute_kpis
from evaluation.tables import validate_cities, validate_observations
from node.database import get_db as node_db
from node.intake import imports
from node.sync import service as sync
from tests.factories import make_template_node_app
from tests.federation.test_node_sync import enroll_in_process, hub_rows
from tests.node.test_import import run_import

MAPPING = Path(imports.__file__).parent / "import_examples" / "maengelmelder.toml"
GERMAN = MAPPING.with_suffix(".csv")
HEADER = GERMAN.read_text(encoding="cp1252").splitlines()[0].split(";")


def write_export(path: Path, *, by_staff: int, by_web: int, by_phone: int) -> None:
    """A February of German-style reports: inspectors' own, and citizens' by web or phone."""
    start = datetime(2026, 2, 2, 8, 0)
    channels = ["Außendienst"] * by_staff + ["Internet"] * by_web + ["Telefon"] * by_phone
    with path.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for n, channel in enumerate(channels):
            opened = start + timedelta(hours=7 * n)
            closed = opened + timedelta(hours=30)
            writer.writerow(
                [
                    f"2026-{n:06d}",
                    opened.strftime("%d.%m.%Y %H:%M"),
                    closed.strftime("%d.%m.%Y %H:%M"),
                    (opened + timedelta(days=7)).strftime("%d.%m.%Y %H:%M"),
                    "Straßenschäden" if channel == "Außendienst" else "Lärm",
                    "Schlagloch" if channel == "Außendienst" else "Musik",
                    "Gemeldet vom Straßenkontrolldienst." if channel == "Außendienst" else "",
                    "erledigt",
                    channel,
                    "Ordnungsamt",
                    "Bonner Straße",
                    str(n + 1),
                    "50677",
                    "50,918213",
                    "6,957042",
                    "",
                ]
            )


@pytest.fixture
def node_app(tmp_path):
    app = make_template_node_app(tmp_path / "node")
    yield app
    node_db(app).engine.dispose()


def test_staff_raised_requests_reach_the_hub_as_a_channel_apart_from_citizens(
    hub_app, node_app, tmp_path
):
    export = tmp_path / "maengel.csv"
    write_export(export, by_staff=30, by_web=45, by_phone=15)
    transport = httpx.WSGITransport(app=hub_app)
    enroll_in_process(hub_app, node_app, transport)
    key = sync.load_or_create_key(Path(node_app.instance_path))
    report = run_import(node_app, export, MAPPING)
    assert (report.imported, report.quarantined) == (90, 0)
    with node_db(node_app).session() as session:
        sync.refresh_outbox(db_session=session)
        session.commit()
        with httpx.Client(transport=transport, base_url="http://hub") as http:
            for row in sync.pending_periods(db_session=session):
                sync.push_period(db_session=session, period=row.period, key=key, http=http)
                session.commit()
        assert sync.pending_periods(db_session=session) == []

    stored = {
        (channel, measure): value
        for period, _, _, channel, measure, value in hub_rows(hub_app)
        if period == "2026-02"
    }
    assert stored[("staff", "submitted")] == 30
    assert stored[("web", "submitted")] == 45
    assert stored[("phone", "submitted")] == 15
    assert stored[("all", "submitted")] == 90  # the case load counts them all

    observations = pd.DataFrame(
        [
            {
                "city_id": "bologna",
                "service": service,
                "period": period,
                "segment": segment,
                "channel": channel,
                "measure": measure,
                "value": float(value),
            }
            for period, service, segment, channel, measure, value in hub_rows(hub_app)
        ]
    )
    cities = validate_cities(pd.DataFrame({"city_id": ["bologna"], "population": [390_000]}))
    obs = validate_observations(observations, city_ids=cities["city_id"])
    kpis = compute_kpis(cities, build_cells(cities, obs)).kpis
    february = kpis[kpis["period"] == "2026-02"].iloc[0]
    assert february["digital_share"] == pytest.approx(45 / 60)  # of what citizens sent
