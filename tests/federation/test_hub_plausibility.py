"""Plausibility at the hub: implausible figures are refused with the rule named, nothing stored;
whatever a correct node builds from its event log is accepted."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation.hub.database import get_db, utcnow
from federation.hub.plausibility import month_of, revision_ceiling, snapshot_breaches
from node.cases.models import EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import get_db as node_db
from node.services.models import Service
from node.sync import service as sync
from tests.factories import make_citizen, make_node_app, seed_month
from tests.federation.conftest import stored_counts
from tests.federation.factories import make_identity, make_registration, make_snapshot

NOTHING = {"snapshots": 0, "aggregate_cells": 0, "seen_nonces": 0, "node_services": 0}


@pytest.fixture
def bologna(enrolled):
    return enrolled("bologna")


def service_cells(snapshot, code="noise"):
    """The snapshot as JSON, and its cells of one service by dimension value ("total" for the
    total), to be bent into implausible shapes."""
    data = snapshot.model_dump(mode="json", exclude_none=True)
    cells = {
        cell.get("channel") or cell.get("segment") or "total": cell
        for cell in data["cells"]
        if cell["service"] == code
    }
    return data, cells


def plain_cells(*cells):
    """A one-service snapshot with the given cells (all values well above k)."""
    return {
        "node": "bologna",
        "period": "2025-03",
        "revision": 1,
        "k": 10,
        "services": [{"code": "noise"}],
        "cells": [{"service": "noise", **cell} for cell in cells],
    }


def body_of_dict(data: dict) -> bytes:
    return json.dumps(data).encode()


def assert_implausible(response, rule: str, app, field: str | None = None) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.json
    assert body["error"] == "implausible"
    assert f"rule {body['details'][0]['rule']}: " in body["message"]  # the first one named
    assert rule in {detail["rule"] for detail in body["details"]}
    if field is not None:
        assert field in {detail["field"] for detail in body["details"]}
    assert stored_counts(app) == NOTHING


def test_channel_cells_adding_up_to_35_times_the_total_are_refused(bologna, push, hub_app):
    body = plain_cells(
        {"measures": {"events": {"submitted": 20}}},
        {"channel": "web", "measures": {"events": {"submitted": 400}}},
        {"channel": "sms", "measures": {"events": {"submitted": 300}}},
    )
    response = push(bologna, body_of_dict(body))
    assert_implausible(
        response, "channels_above_total", hub_app, "cells.0.measures.events.submitted"
    )
    assert "700" in response.json["message"] and "20" in response.json["message"]


def test_segment_cells_above_their_total_are_refused(bologna, push, hub_app):
    data, cells = service_cells(make_snapshot("bologna"))
    total = cells["total"]["measures"]
    total["citizens"] = 10  # the segments hold more people than the service saw
    for band in ("25-54", "75+"):
        cells[band]["measures"]["citizens"] = 40
    assert_implausible(push(bologna, body_of_dict(data)), "segments_above_total", hub_app)


def test_a_histogram_above_the_count_it_splits_is_refused(bologna, push, hub_app):
    body = plain_cells(
        {"measures": {"events": {"completed": 30}, "time_to_complete": [20, 20] + [None] * 8}}
    )
    assert_implausible(push(bologna, body_of_dict(body)), "histogram_above_count", hub_app)


def test_a_channel_with_more_citizens_than_the_service_is_refused(bologna, push, hub_app):
    body = plain_cells(
        {"measures": {"citizens": 50, "events": {"submitted": 80}}},
        {"channel": "web", "measures": {"citizens": 60, "events": {"submitted": 70}}},
    )
    assert_implausible(push(bologna, body_of_dict(body)), "channel_citizens_above_total", hub_app)


def test_citizens_above_every_use_they_made_are_refused(bologna, push, hub_app):
    uses = {"submitted": 20, "subscribed": 0, "booked": 0, "participated": 0}
    body = plain_cells({"measures": {"citizens": 500, "events": uses}})
    assert_implausible(push(bologna, body_of_dict(body)), "citizens_above_uses", hub_app)


def test_a_withheld_count_is_bounded_by_its_total_and_the_sent_members(bologna, push, hub_app):
    # The web cell's submissions are withheld, but the total leaves them at most 30 - 15.
    uses = {"submitted": 30, "subscribed": 0, "booked": 0, "participated": 0}
    body = plain_cells(
        {"measures": {"citizens": 25, "events": uses}},
        {"channel": "sms", "measures": {"events": {"submitted": 15}}},
        {"channel": "web", "measures": {"citizens": 20}},
    )
    assert_implausible(push(bologna, body_of_dict(body)), "citizens_above_uses", hub_app)


def test_resolutions_in_time_above_resolutions_are_refused(bologna, push, hub_app):
    body = plain_cells({"measures": {"events": {"completed": 30}, "completed_within_sla": 31}})
    assert_implausible(push(bologna, body_of_dict(body)), "within_sla_above_completed", hub_app)


def test_a_count_below_k_is_refused_but_a_true_zero_is_not(bologna, push, hub_app):
    body = plain_cells({"measures": {"events": {"submitted": 40, "rejected": 3}}})
    response = push(bologna, body_of_dict(body))
    assert_implausible(response, "below_k", hub_app, "cells.0.measures.events.rejected")
    zero = plain_cells({"measures": {"events": {"submitted": 40, "rejected": 0}}})
    assert push(bologna, body_of_dict(zero)).status_code == 200


@pytest.mark.parametrize("period", ["0000-01", "1900-01", "1999-12"])
def test_a_period_before_the_earliest_month_is_refused(bologna, push, hub_app, period):
    response = push(bologna, make_snapshot("bologna", period))
    assert_implausible(response, "period_before_pilot_start", hub_app, "period")


def test_a_period_after_the_current_month_is_refused(bologna, push, hub_app):
    for period in ("2099-12", month_of(utcnow() + timedelta(days=40))):
        response = push(bologna, make_snapshot("bologna", period))
        assert_implausible(response, "period_in_future", hub_app, "period")
    assert push(bologna, make_snapshot("bologna", month_of(utcnow()))).status_code == 200


def test_a_period_before_the_pilot_start_its_token_named_is_refused(client, push, hub_app):
    from tests.federation.test_hub_enrollment import issue_token, post_enroll

    identity = make_identity("bologna")
    token = issue_token(hub_app, pilot_start="2025-02")
    assert post_enroll(client, token, make_registration(identity)).status_code == 201
    response = push(identity, make_snapshot("bologna", "2025-01"))
    assert_implausible(response, "period_before_pilot_start", hub_app)
    assert "2025-02" in response.json["message"]
    assert push(identity, make_snapshot("bologna", "2025-02")).status_code == 200


def test_a_revision_that_jumps_absurdly_is_refused_and_the_month_stays_open(bologna, push, hub_app):
    response = push(bologna, make_snapshot("bologna", revision=2**62))
    assert_implausible(response, "revision_too_high", hub_app, "revision")
    # Counters and clock-based revisions both fit under the bound; a later one still replaces.
    clock = int(utcnow().timestamp() * 1000)
    assert push(bologna, make_snapshot("bologna", revision=7)).json["status"] == "stored"
    assert push(bologna, make_snapshot("bologna", revision=clock)).json["status"] == "stored"
    later = revision_ceiling(utcnow(), 0)
    assert push(bologna, make_snapshot("bologna", revision=later)).json["status"] == "stored"


def test_every_broken_rule_is_listed(bologna, push, hub_app):
    body = plain_cells(
        {"measures": {"events": {"submitted": 20, "rejected": 4}}},
        {"channel": "web", "measures": {"events": {"submitted": 400}}},
    )
    body["period"] = "1900-01"
    response = push(bologna, body_of_dict(body))
    rules = [detail["rule"] for detail in response.json["details"]]
    assert rules == ["period_before_pilot_start", "below_k", "channels_above_total"]
    assert "(and 2 more)" in response.json["message"]


def test_a_noised_snapshot_is_checked_for_k_period_and_revision_only(bologna, push, hub_app):
    noise = {"mechanism": "geometric", "epsilon": 1.0}
    body = plain_cells(
        {"measures": {"events": {"submitted": 20}}},
        {"channel": "web", "measures": {"events": {"submitted": 34}}},  # noise on both
    )
    body["differential_privacy"] = noise
    assert push(bologna, body_of_dict(body)).status_code == 200
    small = plain_cells({"measures": {"events": {"submitted": 4}}})
    small["differential_privacy"] = noise
    small["period"] = "2025-04"
    assert push(bologna, body_of_dict(small)).json["details"][0]["rule"] == "below_k"


def test_a_registration_with_some_age_band_shares_is_refused_and_the_token_kept(client, hub_app):
    from tests.federation.test_hub_enrollment import issue_token, node_count, post_enroll

    token = issue_token(hub_app)
    partial = make_registration(
        make_identity("bologna"), population_shares={"16-24": 0.1, "25-54": 0.4}
    )
    response = post_enroll(client, token, partial)
    assert response.status_code == 422
    assert response.json["details"][0]["rule"] == "partial_population_shares"
    assert "55-74, 75+" in response.json["message"]
    assert node_count(hub_app) == 0
    whole = post_enroll(client, token, make_registration(make_identity("bologna")))
    assert whole.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"context": {"internet_use_pct": 835.0}}, "context_out_of_range"),
        ({"context": {"egov_index_2018": 82}}, "context_out_of_range"),
        (
            {"population_shares": {"16-24": 0.01, "25-54": 0.04, "55-74": 0.02, "75+": 0.01}},
            "population_shares_too_low",
        ),
    ],
)
def test_registrations_with_figures_out_of_range_are_refused(client, hub_app, overrides, rule):
    from tests.federation.test_hub_enrollment import issue_token, node_count, post_enroll

    response = post_enroll(
        client, issue_token(hub_app), make_registration(make_identity("bologna"), **overrides)
    )
    assert response.status_code == 422 and response.json["details"][0]["rule"] == rule
    assert node_count(hub_app) == 0


# ---------------------------------------------------------------- what a correct node sends


def busy_months(app, rng: random.Random, months: list[tuple[int, int]]) -> None:
    """Cases of every kind, and subscriptions, bookings and participations without a case, as
    services that are more than cases record them."""
    with node_db(app).session() as session:
        service = session.get(Service, "noise-report")
        service.spec = {
            **service.spec,
            "events": {
                "subscribed": "subscribed",
                "unsubscribed": "unsubscribed",
                "booked": "booked",
                "attended": "attended",
                "no_show": "no_show",
                "participated": "participated",
            },
        }
        people = [
            make_citizen(session, birth_year=rng.choice([1945, 1962, 1985, 2003]))
            for _ in range(40)
        ]
        for year, month in months:
            seed_month(session, year=year, month=month, cases=rng.randint(5, 90), rng=rng)
            for _ in range(rng.randint(0, 60)):
                kind = rng.choice(
                    [
                        EventKind.SUBSCRIBED,
                        EventKind.UNSUBSCRIBED,
                        EventKind.BOOKED,
                        EventKind.ATTENDED,
                        EventKind.NO_SHOW,
                        EventKind.PARTICIPATED,
                    ]
                )
                citizen = rng.choice(people)
                record(
                    db_session=session,
                    kind=kind,
                    actor=Actor.citizen(),
                    citizen_id=citizen.id,
                    channel=rng.choice(["web", "sms", "app", "phone"]),
                    at=datetime(year, month, rng.randint(1, 28), rng.randrange(24), tzinfo=UTC),
                    service_code="noise-report",
                )
        session.commit()


@pytest.mark.parametrize("seed", range(6))
def test_every_snapshot_a_node_builds_is_plausible(tmp_path, seed):
    rng = random.Random(seed)
    app = make_node_app(tmp_path / "node")
    months = [(2026, month) for month in range(1, 5)]
    busy_months(app, rng, months)
    periods = [f"{year}-{month:02d}" for year, month in months]
    privacy = [None]
    try:
        import opendp  # noqa: F401

        privacy.append(sync.NoiseSettings(epsilon=rng.choice([0.5, 2.0, 8.0])))
    except ImportError:
        pass
    with node_db(app).session() as session:
        for k in (5, 10, 25):
            for noise in privacy:
                built = sync.build_snapshots(
                    db_session=session, node_slug="it-bologna", periods=periods, k=k, privacy=noise
                )
                for period, snapshot in built.items():
                    breaches = snapshot_breaches(
                        snapshot,
                        pilot_start="2000-01",
                        now=datetime.now(UTC),
                        max_skew_seconds=300,
                    )
                    assert breaches == [], (period, k, noise, breaches)
    node_db(app).engine.dispose()


def test_a_node_s_own_snapshots_are_stored_by_the_hub(tmp_path, enrolled, push, hub_app):
    identity = enrolled("it-bologna", "Bologna")
    app = make_node_app(tmp_path / "node")
    busy_months(app, random.Random(11), [(2026, 2), (2026, 3)])
    with node_db(app).session() as session:
        built = sync.build_snapshots(
            db_session=session,
            node_slug="it-bologna",
            periods=["2026-02", "2026-03"],
            k=10,
            revisions={"2026-02": 1, "2026-03": 4},
        )
    for snapshot in built.values():
        response = push(identity, snapshot)
        assert response.status_code == 200, response.json
    with get_db(hub_app).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM snapshots")).scalar_one() == 2
    node_db(app).engine.dispose()
