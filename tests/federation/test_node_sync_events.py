"""Every kind of event a snapshot counts reaches the hub after the next sync, over real HTTP.

Every domain appends to the archive through `node.cases.service.record` (bulk imports write the
events table directly); a sync notices a month's new events from the log itself, whatever wrote
them. So each kind is recorded as its domain records it, after a first sync, in a month that
already holds k of them: the hub's count must go from k to 2k after the next sync. (A change of
fewer than k to a month already sent is held back by the interval audit: differencing the two
revisions would tell how those few came.)
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from federation.hub.aggregates.models import AggregateCell
from federation.hub.database import get_db as hub_db
from federation.hub.nodes.models import Node, StoredSnapshot
from federation.protocol.measures import measures_of, snapshot_rows
from federation.protocol.models import CellMeasures, EventCounts
from node.alerts import service as alerts
from node.bookings import service as bookings
from node.bookings.models import Slot
from node.bookings.schemas import settings_for
from node.cases.models import EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import get_db as node_db
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.sync import service as sync
from node.sync.models import SyncPeriod
from tests.factories import make_citizen, make_template_node_app

MONTH = "2026-03"
AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def node_app(tmp_path):
    app = make_template_node_app(tmp_path / "node")
    yield app
    node_db(app).engine.dispose()


def sync_over_http(node_app) -> dict:
    """`carmen node sync --now`: build what changed and push it; every push acknowledged."""
    key = sync.load_or_create_key(Path(node_app.instance_path))
    with node_db(node_app).session() as session:
        results = sync.sync_now(db_session=session, key=key)
    assert all(result.acknowledged for result in results.values()), results
    return results


def hub_cells(hub_app) -> Counter:
    """Every cell value the hub holds (a multiset: a double count would show)."""
    with hub_db(hub_app).session() as session:
        return Counter(
            session.execute(
                sa.select(
                    AggregateCell.period,
                    AggregateCell.service_code,
                    AggregateCell.segment,
                    AggregateCell.channel,
                    AggregateCell.measure,
                    AggregateCell.value,
                ).join(Node, Node.id == AggregateCell.node_id)
            )
        )


def built_cells(node_app) -> Counter:
    """The cells the node builds now from its event log (not what its outbox holds)."""
    with node_db(node_app).session() as session:
        link = sync.get_link(db_session=session)
        periods = sorted(sync.source_fingerprints(db_session=session))
        built = sync.build_snapshots(
            db_session=session, node_slug=link.node_slug, periods=periods, k=link.k
        )
    return Counter(
        (s.period, r["service_code"], r["segment"], r["channel"], r["measure"], r["value"])
        for s in built.values()
        for r in snapshot_rows(s)
    )


def total_at_hub(hub_app, *, service: str, common: str, period: str = MONTH) -> int | None:
    """The hub's count of one common event of a service in a month (all channels, segments)."""
    (measure,) = measures_of(CellMeasures(events=EventCounts(**{common: 1})))
    for (p, code, segment, channel, name, value), _n in hub_cells(hub_app).items():
        if (p, code, segment, channel, name) == (period, service, "all", "all", measure):
            return value
    return None


def service_of(node_app, behaviour: str) -> Service:
    with node_db(node_app).session() as session:
        for service in session.scalars(sa.select(Service)):
            if ServiceSpec.model_validate(service.spec).behaviour == behaviour:
                session.expunge(service)
                return service
    raise AssertionError(f"no {behaviour} service installed")


def record_kind(node_app, *, kind: EventKind, service_code: str, citizens: int, at=AT) -> None:
    """Events of one kind by as many citizens, recorded as their domain records them."""
    with node_db(node_app).session() as session:
        for _ in range(citizens):
            citizen = make_citizen(session)
            record(
                db_session=session,
                kind=kind,
                actor=Actor.citizen(),
                citizen_id=citizen.id,
                service_code=service_code,
                channel="web",
                at=at,
            )
        session.commit()


def first_sync_with(node_app, hub_app, *, kind, service_code, common, k):
    record_kind(node_app, kind=kind, service_code=service_code, citizens=k)
    sync_over_http(node_app)
    assert total_at_hub(hub_app, service=service_code, common=common) == k


# Each kind a snapshot counts, by the behaviour of the service that records it, and the common
# event its template maps it onto.
COUNTED_KINDS = [
    ("alerts", EventKind.SUBSCRIBED, "subscribed"),
    ("alerts", EventKind.UNSUBSCRIBED, "unsubscribed"),
    ("alerts", EventKind.ALERT_DELIVERED, "message_delivered"),
    ("alerts", EventKind.ALERT_FAILED, "message_failed"),
    ("bookings", EventKind.BOOKED, "booked"),
    ("bookings", EventKind.BOOKING_MOVED, "rescheduled"),
    ("bookings", EventKind.BOOKING_CANCELLED, "cancelled"),
    ("bookings", EventKind.ATTENDED, "attended"),
    ("bookings", EventKind.NO_SHOW, "no_show"),
    ("bookings", EventKind.REMINDER_DELIVERED, "message_delivered"),
    ("bookings", EventKind.REMINDER_FAILED, "message_failed"),
    ("consultations", EventKind.PARTICIPATED, "participated"),
]


@pytest.mark.parametrize(("behaviour", "kind", "common"), COUNTED_KINDS, ids=lambda v: str(v))
def test_an_event_recorded_after_a_sync_reaches_the_hub_after_the_next(
    hub_app, node_app, hub_url, behaviour, kind, common
):
    service = service_of(node_app, behaviour)
    k = 10
    first_sync_with(node_app, hub_app, kind=kind, service_code=service.code, common=common, k=k)
    record_kind(node_app, kind=kind, service_code=service.code, citizens=k)
    sync_over_http(node_app)
    assert total_at_hub(hub_app, service=service.code, common=common) == 2 * k
    assert hub_cells(hub_app) == built_cells(node_app)


def test_subscriptions_made_after_a_sync_all_reach_the_hub(hub_app, node_app, hub_url):
    service = service_of(node_app, "alerts")
    settings = alerts.settings_of(
        services_dir=Path(node_app.config["SERVICES_DIR"]), service_code=service.code
    )
    topic = next(iter(settings.topics))

    def subscribe(count: int) -> None:
        with node_db(node_app).session() as session:
            live = session.get(Service, service.code)
            for _ in range(count):
                citizen = make_citizen(session)
                alerts.subscribe(
                    db_session=session,
                    service=live,
                    settings=settings,
                    citizen=citizen,
                    topics=[topic],
                    channel="email",
                    via="web",
                    now=AT,
                )
            session.commit()

    subscribe(12)
    sync_over_http(node_app)
    assert total_at_hub(hub_app, service=service.code, common="subscribed") == 12
    subscribe(15)
    results = sync_over_http(node_app)
    assert list(results) == [MONTH]
    assert total_at_hub(hub_app, service=service.code, common="subscribed") == 27
    assert hub_cells(hub_app) == built_cells(node_app)


@pytest.mark.parametrize("kind", [EventKind.BOOKING_MOVED, EventKind.BOOKING_CANCELLED])
def test_a_month_holding_only_a_move_or_a_cancellation_is_built_and_sent(
    hub_app, node_app, hub_url, kind
):
    service = service_of(node_app, "bookings")
    first_sync_with(
        node_app, hub_app, kind=EventKind.BOOKED, service_code=service.code, common="booked", k=10
    )
    april = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    record_kind(node_app, kind=kind, service_code=service.code, citizens=1, at=april)
    assert list(sync_over_http(node_app)) == ["2026-04"]
    with hub_db(hub_app).session() as session:
        periods = set(session.scalars(sa.select(StoredSnapshot.period)))
    assert periods == {MONTH, "2026-04"}
    assert hub_cells(hub_app) == built_cells(node_app)


def test_requests_imported_into_an_acknowledged_month_reach_the_hub(hub_app, node_app, hub_url):
    from tests.node.test_import import SAMPLE, run_import

    service = service_of(node_app, "bookings")
    first_sync_with(
        node_app, hub_app, kind=EventKind.BOOKED, service_code=service.code, common="booked", k=10
    )
    export = Path(node_app.instance_path) / "export" / "legacy.csv"
    export.parent.mkdir()
    export.write_bytes(SAMPLE.read_bytes())
    report = run_import(node_app, export)
    assert report.imported > 0
    with node_db(node_app).session() as session:
        imported_months = set(sync.source_fingerprints(db_session=session)) - {MONTH}
    sent = sync_over_http(node_app)
    assert imported_months and set(sent) == imported_months
    with hub_db(hub_app).session() as session:
        periods = set(session.scalars(sa.select(StoredSnapshot.period)))
    assert periods == {MONTH} | imported_months
    assert hub_cells(hub_app) == built_cells(node_app)


def test_a_month_is_built_again_only_when_its_events_changed(hub_app, node_app, hub_url):
    service = service_of(node_app, "consultations")
    first_sync_with(
        node_app,
        hub_app,
        kind=EventKind.PARTICIPATED,
        service_code=service.code,
        common="participated",
        k=10,
    )
    assert sync_over_http(node_app) == {}  # nothing new: nothing to send
    with node_db(node_app).session() as session:
        # A profile event counts nowhere, so it changes no month.
        record(
            db_session=session,
            kind=EventKind.PROFILE_CREATED,
            actor=Actor.system(),
            citizen_id=make_citizen(session).id,
            at=AT,
        )
        session.commit()
    assert sync_over_http(node_app) == {}
    with node_db(node_app).session() as session:
        assert session.get(SyncPeriod, MONTH).revision == 1


def test_bookings_moved_and_cancelled_after_a_sync_reach_the_hub_after_the_next(
    hub_app, node_app, hub_url
):
    """Through the booking service itself: 20 bookings synced, then 10 moved and 10 cancelled."""
    service = service_of(node_app, "bookings")
    settings = settings_for(
        services_dir=Path(node_app.config["SERVICES_DIR"]),
        service_code=service.code,
        timezone=node_app.config["TIMEZONE"],
    )
    monday = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a month closed past its grace
    with node_db(node_app).session() as session:
        bookings.generate_slots(
            db_session=session,
            service_code=service.code,
            settings=settings,
            actor=Actor.system(),
            now=monday,
        )
        live = bookings.get_service(db_session=session, service_code=service.code)
        times = sorted(  # from Tuesday on: well before each booking's change cut-off
            set(
                session.scalars(
                    sa.select(Slot.starts_at).where(
                        Slot.service_code == service.code,
                        Slot.starts_at >= monday + timedelta(days=1),
                    )
                )
            )
        )
        made = []
        for n in range(20):
            made.append(
                bookings.book(
                    db_session=session,
                    service=live,
                    settings=settings,
                    citizen=make_citizen(session),
                    office=None,
                    starts_at=times[n],
                    purpose=bookings.purposes_of(live)[0],
                    channel="web",
                    actor=Actor.citizen(),
                    now=monday,
                ).reference
            )
        session.commit()
    sync_over_http(node_app)
    month = "2026-03"
    assert total_at_hub(hub_app, service=service.code, common="booked", period=month) == 20

    later = monday + timedelta(hours=1)
    with node_db(node_app).session() as session:
        for n, reference in enumerate(made):
            booking = bookings.get_booking(db_session=session, reference=reference)
            if n % 2:
                bookings.cancel(
                    db_session=session,
                    booking=booking,
                    settings=settings,
                    channel="phone",
                    actor=Actor.citizen(),
                    now=later,
                )
            else:
                bookings.move(
                    db_session=session,
                    booking=booking,
                    settings=settings,
                    starts_at=times[20 + n],
                    channel="web",
                    actor=Actor.citizen(),
                    now=later,
                )
        session.commit()
    sync_over_http(node_app)
    for common in ("rescheduled", "cancelled"):
        assert total_at_hub(hub_app, service=service.code, common=common, period=month) == 10
    assert total_at_hub(hub_app, service=service.code, common="booked", period=month) == 20
    assert hub_cells(hub_app) == built_cells(node_app)
