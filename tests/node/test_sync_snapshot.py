"""A node's monthly snapshot: counts from the archive, nothing personal, nothing small."""

import json
import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from federation.protocol.measures import snapshot_rows
from node.cases.models import Case
from node.profiles.models import Citizen
from node.sync import aggregation
from node.sync import service as sync
from node.sync.audit import Revision, audit
from node.sync.models import SyncPeriod
from node.sync.suppression import protect
from tests.factories import seed_month


def test_the_aggregates_count_what_the_archive_holds(db_session):
    seed_month(db_session, year=2026, month=3, cases=80, rng=random.Random(1))
    values = sync.aggregate(db_session=db_session, period="2026-03").values
    cases = db_session.scalars(sa.select(Case)).all()
    total = ("noise-report", "all", None)
    assert values[(total, "events.submitted")] == len(cases)
    resolved = sum(c.status.value == "resolved" for c in cases)
    assert values[(total, "events.completed")] == resolved
    assert values[(total, "citizens")] == len({c.citizen_id or -c.id for c in cases})
    buckets = [
        v for (cell, m), v in values.items() if cell == total and m.startswith("time_to_complete")
    ]
    assert sum(buckets) == resolved
    web = ("noise-report", "channel", "web")
    assert values[(web, "events.submitted")] == sum(c.channel == "web" for c in cases)


def test_the_snapshot_names_the_service_by_its_template(db_session):
    seed_month(db_session, year=2026, month=3, cases=40, rng=random.Random(1))
    snapshot = sync.build_snapshot(
        db_session=db_session, node_slug="it-bologna", period="2026-03", k=10
    )
    assert [(s.code, s.template) for s in snapshot.services] == [("noise-report", "issue-report")]


def test_an_empty_month_has_no_cells(db_session):
    seed_month(db_session, year=2026, month=3, cases=5, rng=random.Random(1))
    snapshot = sync.build_snapshot(
        db_session=db_session, node_slug="it-bologna", period="2026-04", k=10
    )
    assert snapshot.cells == []


def test_no_sent_count_is_below_k_and_no_withheld_count_can_be_recomputed(db_session):
    seed_month(db_session, year=2026, month=3, cases=120, rng=random.Random(2))
    k = 10
    snapshot = sync.build_snapshot(
        db_session=db_session, node_slug="it-bologna", period="2026-03", k=k
    )
    rows = snapshot_rows(snapshot)
    assert rows, "a busy month sends something"
    assert min(row["value"] for row in rows) >= k

    exact = sync.aggregate(db_session=db_session, period="2026-03")
    relations = aggregation.relations(exact.values)
    hidden = protect(exact.values, relations, k=k)
    sent = {(r["segment"], r["channel"], r["measure"]) for r in rows}
    assert len(sent) == len(exact.values) - len(hidden)
    report = audit(
        revisions=[Revision(values=exact.values, hidden=frozenset(hidden), relations=relations)],
        k=k,
        protection_width=k,
    )
    assert report.exposures == []


def test_personal_data_never_appears_in_what_is_sent(db_session):
    seed_month(db_session, year=2026, month=3, cases=60, rng=random.Random(3))
    snapshot = sync.build_snapshot(
        db_session=db_session, node_slug="it-bologna", period="2026-03", k=10
    )
    sent = json.dumps(snapshot.model_dump(mode="json")).lower()
    canaries = []
    for citizen in db_session.scalars(sa.select(Citizen)):
        canaries += [citizen.name, citizen.email, citizen.phone, citizen.phone[3:]]
    for case in db_session.scalars(sa.select(Case)):
        canaries += [case.tracking_code, case.description, case.address]
    assert canaries
    assert [c for c in canaries if c and c.lower() in sent] == []
    assert "canary" not in sent and "segreta" not in sent


def test_with_differential_privacy_counts_are_noised_and_the_budget_is_recorded(db_session):
    pytest.importorskip("opendp", reason="the dp extra (OpenDP) is not installed")
    seed_month(db_session, year=2026, month=3, cases=150, rng=random.Random(4))
    privacy = sync.NoiseSettings(epsilon=5.0, max_events_per_case=4)
    exact = sync.aggregate(db_session=db_session, period="2026-03").values
    snapshots = [
        sync.build_snapshots(
            db_session=db_session,
            node_slug="it-bologna",
            periods=["2026-03"],
            k=10,
            privacy=privacy,
        )["2026-03"]
        for _ in range(2)
    ]
    assert snapshots[0].differential_privacy.epsilon == pytest.approx(5.0)
    released = [
        {(r["segment"], r["channel"], r["measure"]): r["value"] for r in snapshot_rows(s)}
        for s in snapshots
    ]
    assert released[0] != released[1], "fresh noise on every build"
    assert min(v for r in released for v in r.values()) >= 10
    total = ("all", "all", "submitted")
    true_total = exact[(("noise-report", "all", None), "events.submitted")]
    scale = privacy.sensitivity / privacy.epsilon
    assert abs(released[0][total] - true_total) < 20 * scale


def test_the_outbox_adds_up_the_budget_spent_per_month(db_session):
    pytest.importorskip("opendp", reason="the dp extra (OpenDP) is not installed")
    sync.save_link(
        db_session=db_session, hub_url="http://hub", node_slug="it-bologna", node_id=1, k=10
    )
    rng = random.Random(6)
    privacy = sync.NoiseSettings(epsilon=2.0)
    seed_month(db_session, year=2026, month=3, cases=40, rng=rng)
    sync.refresh_outbox(db_session=db_session, privacy=privacy)
    seed_month(db_session, year=2026, month=3, cases=5, rng=rng)
    sync.refresh_outbox(db_session=db_session, privacy=privacy)
    row = db_session.get(SyncPeriod, "2026-03")
    assert row.epsilon_spent == pytest.approx(4.0)


def test_a_cloned_service_names_its_template_and_the_city_it_came_from(db_session):
    from node.services.models import Service

    service = db_session.get(Service, "noise-report")
    service.provenance = {
        "template": "issue-report",
        "template_version": "sha256:" + "ab12" * 16,
        "cloned_from": {"city": "Bologna", "country": "IT", "service": "noise-report"},
    }
    db_session.flush()
    (identity,) = sync.service_identities(db_session=db_session, codes={"noise-report"})
    assert identity.template == "issue-report"
    assert identity.template_version == "ab12ab12ab12"
    assert (identity.cloned_from.node, identity.cloned_from.service) == (
        "it-bologna",
        "noise-report",
    )


def test_subscriptions_and_other_events_without_a_case_are_counted(db_session):
    from node.cases.models import EventKind
    from node.cases.schemas import Actor
    from node.cases.service import record
    from node.services.models import Service
    from tests.factories import make_citizen

    service = db_session.get(Service, "noise-report")
    service.spec = {**service.spec, "events": {"subscribed": "subscribed"}}
    when = datetime(2026, 3, 5, tzinfo=UTC)
    young = [make_citizen(db_session, birth_year=2004) for _ in range(3)]
    older = make_citizen(db_session, birth_year=1960)
    for citizen, channel in [*((c, "sms") for c in young), (older, "web")]:
        record(
            db_session=db_session,
            kind=EventKind.SUBSCRIBED,
            actor=Actor.citizen(),
            citizen_id=citizen.id,
            channel=channel,
            at=when,
            service_code="noise-report",
        )
    db_session.flush()
    values = sync.aggregate(db_session=db_session, period="2026-03").values
    total, sms = ("noise-report", "all", None), ("noise-report", "channel", "sms")
    assert values[(total, "events.subscribed")] == 4
    assert values[(sms, "events.subscribed")] == 3
    assert values[(("noise-report", "segment", "16-24"), "citizens")] == 3
    assert values[(total, "citizens")] == 4


@pytest.mark.parametrize("hours", [0.5, 1, 1.01, 4, 8.1, 24, 48, 72, 168, 336, 720, 721, 5000])
def test_sql_duration_buckets_agree_with_the_shared_vocabulary(hours):
    from federation.protocol.vocabulary import duration_bucket_index

    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        bucket = connection.scalar(sa.select(aggregation._bucket(sa.literal(hours))))
    assert bucket == duration_bucket_index(hours)
