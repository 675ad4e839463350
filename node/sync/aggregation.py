"""Aggregation: the archive's events of each period as counts and histograms per cell."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from federation.protocol.models import (
    CellMeasures,
    EventCounts,
)
from federation.protocol.vocabulary import (
    DURATION_BUCKET_UPPER_HOURS,
    SATISFACTION_SCORES,
    AgeBand,
    Channel,
    CommonEvent,
)
from node.cases.models import Case, Event, EventKind
from node.profiles.models import CitizenSegment, SegmentKind
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.sync.audit import Relation, at_most, sums_to
from node.sync.models import CountAdjustment

CHANNELS = frozenset(channel.value for channel in Channel)
# Events that show a person used a service that is more than cases.
USE_KINDS = (EventKind.SUBSCRIBED, EventKind.BOOKED, EventKind.PARTICIPATED)
DURATION_BUCKETS = len(DURATION_BUCKET_UPPER_HOURS) + 1
# Histograms and the event whose count each one splits.
HISTOGRAMS = {
    "time_to_acknowledge": CommonEvent.ACKNOWLEDGED,
    "time_to_complete": CommonEvent.COMPLETED,
    "satisfaction": CommonEvent.FEEDBACK,
}

# A cell: (service code, "all" | "channel" | "segment", channel or segment value or None).
CellKey = tuple[str, str, str | None]


# ---------------------------------------------------------------- periods


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a YYYY-MM calendar month, in UTC."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _month(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _hours_between(later: Any, earlier: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.extract("epoch", later - earlier) / 3600.0
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24.0


def _bucket(hours: Any, first: int = 0, last: int | None = None) -> Any:
    """The bucket index of a duration, by halving the bounds: SQLite recomputes the duration
    in every comparison, so a few comparisons per row instead of up to nine matter."""
    bounds = DURATION_BUCKET_UPPER_HOURS
    last = len(bounds) if last is None else last
    if first == last:
        return sa.literal(first)
    middle = (first + last - 1) // 2
    return sa.case(
        (hours <= bounds[middle], _bucket(hours, first, middle)),
        else_=_bucket(hours, middle + 1, last),
    )


# The events a snapshot is built from: a case's, and those of services that are more than cases
# (subscriptions, deliveries, bookings and their moves, attendance, participations), which name
# their service themselves. Profile events name neither and count nowhere.
COUNTED = sa.or_(Event.case_id.is_not(None), Event.service_code.is_not(None))


def source_fingerprints(*, db_session: Session) -> dict[str, str]:
    """Per month, a fingerprint of every event a snapshot counts (count and last id), in one
    GROUP BY: the log is append-only, so any event recorded in a month, whatever its kind and
    however late or out of id order it is committed, changes its month's fingerprint."""
    dialect = db_session.get_bind().dialect.name
    month = _month(Event.at, dialect).label("month")
    rows = db_session.execute(
        sa.select(month, sa.func.count(), sa.func.max(Event.id)).where(COUNTED).group_by(month)
    )
    return {m: f"{count}:{last}" for m, count, last in rows}


# ---------------------------------------------------------------- aggregation


@dataclass
class Aggregates:
    """Exact (unsuppressed) values of one period, keyed by (cell, measure)."""

    values: dict[tuple[CellKey, str], int]
    services: set[str]


def _event_maps(db_session: Session) -> dict[str, dict[str, CommonEvent]]:
    return {
        service.code: ServiceSpec.model_validate(service.spec).event_map
        for service in db_session.scalars(sa.select(Service))
    }


def aggregate(*, db_session: Session, period: str) -> Aggregates:
    """Exact values of one period (see aggregate_periods)."""
    return aggregate_periods(db_session=db_session, periods=[period])[period]


def aggregate_periods(*, db_session: Session, periods: list[str]) -> dict[str, Aggregates]:
    """Count the events of some months per service, channel and segment, in three GROUP BYs.

    The months are covered by one range scan and grouped by month, so building many periods
    costs about as much as one pass over their events.
    """
    dialect = db_session.get_bind().dialect.name
    wanted = set(periods)
    start = min(period_bounds(p)[0] for p in periods)
    end = max(period_bounds(p)[1] for p in periods)
    band = aliased(CitizenSegment)
    segment = sa.func.coalesce(band.value, AgeBand.UNKNOWN.value).label("segment")
    month = _month(Event.at, dialect).label("month")
    joined = (
        sa.select()
        .select_from(Event)
        .join(Case, Case.id == Event.case_id)
        .outerjoin(
            band, sa.and_(band.citizen_id == Case.citizen_id, band.kind == SegmentKind.AGE_BAND)
        )
    )
    # A range on the event time reads through the index, which pays for a few months but is
    # slower than a plain scan when most of the archive is rebuilt (the first sync).
    if len(periods) <= 3:
        joined = joined.where(Event.at >= start, Event.at < end)
    dims = (month, Event.service_code, Case.channel, segment)
    found = {p: Aggregates(values=defaultdict(int), services=set()) for p in periods}
    maps = _event_maps(db_session)

    def add(period: str, service: str, channel: str, seg: str, measure: str, count: int) -> None:
        if period not in wanted:
            return
        aggregates = found[period]
        aggregates.services.add(service)
        cells = [(service, "all", None), (service, "segment", seg)]
        if channel in CHANNELS:  # a staff action (an alert published) has no channel
            cells.append((service, "channel", channel))
        for cell in cells:
            aggregates.values[(cell, measure)] += count

    # One scan: counts per kind, with the duration bucket of acknowledgements and
    # resolutions, the score of feedback, and resolutions in time.
    hours = _hours_between(Event.at, Case.created_at, dialect)
    timed = Event.kind.in_([EventKind.ACKNOWLEDGED, EventKind.RESOLVED])
    bucket = sa.case((timed, _bucket(hours)), else_=None).label("bucket")
    score = sa.case(
        (Event.kind == EventKind.FEEDBACK, Event.data["score"].as_integer()), else_=None
    ).label("score")
    in_time = sa.func.sum(
        sa.case((sa.and_(Event.kind == EventKind.RESOLVED, Event.at <= Case.due_at), 1), else_=0)
    )
    query = joined.add_columns(*dims, Event.kind, bucket, score, sa.func.count(), in_time)
    for period, service, channel, seg, kind, index, value, count, within in db_session.execute(
        query.group_by(*dims, Event.kind, bucket, score)
    ):
        kind = EventKind(kind)
        cell = (period, service, channel, seg)
        common = maps.get(service, {}).get(kind.value)
        if common is not None:
            add(*cell, f"events.{common.value}", count)
        if kind is EventKind.ACKNOWLEDGED:
            add(*cell, f"time_to_acknowledge.{index}", count)
        elif kind is EventKind.RESOLVED:
            add(*cell, f"time_to_complete.{index}", count)
            if within:
                add(*cell, "completed_within_sla", within)
        elif kind is EventKind.FEEDBACK and value in SATISFACTION_SCORES:
            add(*cell, f"satisfaction.{value - 1}", count)

    # Events of services that are more than cases (subscriptions, bookings, participations)
    # carry their service, channel and citizen themselves.
    own_band = aliased(CitizenSegment)
    own_segment = sa.func.coalesce(own_band.value, AgeBand.UNKNOWN.value).label("segment")
    behaviour = (
        sa.select()
        .select_from(Event)
        .outerjoin(
            own_band,
            sa.and_(own_band.citizen_id == Event.citizen_id, own_band.kind == SegmentKind.AGE_BAND),
        )
        .where(Event.case_id.is_(None), Event.service_code.is_not(None))
    )
    if len(periods) <= 3:
        behaviour = behaviour.where(Event.at >= start, Event.at < end)
    own_dims = (month, Event.service_code, Event.channel, own_segment)
    for period, service, channel, seg, kind, count in db_session.execute(
        behaviour.add_columns(*own_dims, Event.kind, sa.func.count()).group_by(
            *own_dims, Event.kind
        )
    ):
        common = maps.get(service, {}).get(EventKind(kind).value)
        if common is not None:
            add(period, service, channel, seg, f"events.{common.value}", count)

    # Distinct citizens who used a service in the period: who submitted a request (an anonymous
    # request counts as one person) or subscribed, booked or took part. Each person is in one
    # segment, so the service's total is the sum over its segments, and the rows per channel of
    # the distinct set are already distinct people.
    person = sa.func.coalesce(Case.citizen_id, -Case.id).label("person")
    who = (
        sa.union(
            joined.add_columns(*dims, person).where(Event.kind == EventKind.SUBMITTED),
            behaviour.add_columns(*own_dims, Event.citizen_id.label("person")).where(
                Event.kind.in_(USE_KINDS), Event.citizen_id.is_not(None)
            ),
        )
        .cte("who")
        .prefix_with("MATERIALIZED")
    )
    per_channel = sa.select(
        sa.literal("channel"), who.c.month, who.c.service_code, who.c.channel, sa.func.count()
    ).group_by(who.c.month, who.c.service_code, who.c.channel)
    per_segment = sa.select(
        sa.literal("segment"),
        who.c.month,
        who.c.service_code,
        who.c.segment,
        sa.func.count(sa.distinct(who.c.person)),
    ).group_by(who.c.month, who.c.service_code, who.c.segment)
    for dim, period, service, value, count in db_session.execute(
        sa.union_all(per_channel, per_segment)
    ):
        if period not in wanted or (dim == "channel" and value not in CHANNELS):
            continue
        values = found[period].values
        values[((service, dim, value), "citizens")] = count
        if dim == "segment":
            values[((service, "all", None), "citizens")] += count
    _add_adjustments(db_session, found)
    for aggregates in found.values():
        aggregates.values = dict(aggregates.values)
    return found


# ---------------------------------------------------------------- erasure


def _add_adjustments(db_session: Session, found: dict[str, "Aggregates"]) -> None:
    """Put back what erasures took from these periods' counts (see CountAdjustment)."""
    rows = db_session.scalars(sa.select(CountAdjustment).where(CountAdjustment.period.in_(found)))
    for row in rows:
        values = found[row.period].values
        key = ((row.service_code, row.dim, row.value or None), row.measure)
        values[key] = values.get(key, 0) + row.delta
        if values[key] == 0:  # a cell only the erasure made (their requests as unknown)
            del values[key]


def _erased_person_months(db_session: Session, citizen_id: int) -> list[str]:
    dialect = db_session.get_bind().dialect.name
    month = _month(Event.at, dialect)
    cases = sa.select(Case.id).where(Case.citizen_id == citizen_id)
    query = sa.select(month).where(
        COUNTED, sa.or_(Event.case_id.in_(cases), Event.citizen_id == citizen_id)
    )
    return sorted(m for m in db_session.scalars(query.distinct()) if m)


def hold_counts_before_unlinking(*, db_session: Session, citizen_id: int) -> None:
    """Note the counts of every month the person is in, before erasure cuts them off."""
    periods = _erased_person_months(db_session, citizen_id)
    before = aggregate_periods(db_session=db_session, periods=periods) if periods else {}
    db_session.info.setdefault(_HELD, {})[citizen_id] = before


def keep_counts_after_unlinking(*, db_session: Session, citizen_id: int) -> None:
    """Record, per cell, what the erasure changed in those months, so the counts stay."""
    before = db_session.info.get(_HELD, {}).pop(citizen_id, {})
    if not before:
        return
    after = aggregate_periods(db_session=db_session, periods=list(before))
    for period, was in before.items():
        now = after[period].values
        for key in set(was.values) | set(now):
            delta = was.values.get(key, 0) - now.get(key, 0)
            if delta:
                (service, dim, value), measure = key
                ident = (period, service, dim, value or "", measure)
                row = db_session.get(CountAdjustment, ident)
                if row is None:
                    db_session.add(
                        CountAdjustment(
                            period=period,
                            service_code=service,
                            dim=dim,
                            value=value or "",
                            measure=measure,
                            delta=delta,
                        )
                    )
                else:
                    row.delta += delta
    db_session.flush()


_HELD = "carmen.counts_before_erasure"


# Events a distinct citizen is counted for: who submitted, subscribed, booked or took part.
USE_EVENTS = ("events.submitted", "events.subscribed", "events.booked", "events.participated")


def relations(values: dict[tuple[CellKey, str], int]) -> list[Relation]:
    """The linear relations an attacker knows among a period's values (see node.sync.audit).

    Structural facts of the tables, each kept only where it holds of these values (noise, or a
    service that maps its events otherwise, can break one): a measure over a service's segments
    adds up to its total (one band per person); over its channels it adds up to at most the
    total (a staff action has no channel); a channel's citizens are at most the service's, who
    are at most the channels' together; in every cell citizens are at most the submissions (or
    at most the uses: submissions, subscriptions, bookings and participations); a histogram's
    buckets add up to the count of the event they time or score; resolutions in time are at
    most the resolutions. Equal totals forcing equal cells follows from these: total citizens
    equal to total submissions with citizens <= submissions per channel makes every channel's
    two counts equal, which the audit's programs find by themselves.
    """
    by_service: dict[str, dict[str, dict[str, list]]] = defaultdict(
        lambda: {"channel": defaultdict(list), "segment": defaultdict(list)}
    )
    cells: dict[CellKey, set[str]] = defaultdict(set)
    for cell, measure in values:
        cells[cell].add(measure)
        service, dim, _ = cell
        if dim in ("channel", "segment"):
            by_service[service][dim][measure].append((cell, measure))
    found: list[Relation] = []

    def first_holding(*candidates: Relation) -> None:
        """The strongest of some relations that holds (an equation before its inequality)."""
        found.extend([c for c in candidates if c.holds(values)][:1])

    for service, dims in by_service.items():
        total = (service, "all", None)
        for measure, members in dims["segment"].items():
            first_holding(sums_to((total, measure), sorted(members, key=str)))
        for measure, members in dims["channel"].items():
            members = sorted(members, key=str)
            if measure == "citizens":
                for member in members:
                    first_holding(at_most([member], [(total, measure)]))
                first_holding(at_most([(total, measure)], members))
            else:
                first_holding(
                    sums_to((total, measure), members), at_most(members, [(total, measure)])
                )
    for cell, measures in cells.items():
        if "citizens" in measures:
            first_holding(
                at_most([(cell, "citizens")], [(cell, "events.submitted")]),
                at_most([(cell, "citizens")], [(cell, m) for m in USE_EVENTS]),
            )
        for prefix, event in HISTOGRAMS.items():
            buckets = [(cell, m) for m in sorted(measures) if m.startswith(prefix + ".")]
            if buckets:
                counted = (cell, f"events.{event.value}")
                first_holding(sums_to(counted, buckets), at_most(buckets, [counted]))
        if "completed_within_sla" in measures:
            first_holding(at_most([(cell, "completed_within_sla")], [(cell, "events.completed")]))
    return found


def cell_measures_of(found: dict[str, int]) -> CellMeasures | None:
    if not found:
        return None

    def histogram(prefix: str, size: int) -> list[int | None] | None:
        buckets = [found.get(f"{prefix}.{i}") for i in range(size)]
        return buckets if any(b is not None for b in buckets) else None

    events = {m.removeprefix("events."): v for m, v in found.items() if m.startswith("events.")}
    return CellMeasures(
        citizens=found.get("citizens"),
        events=EventCounts(**events),
        completed_within_sla=found.get("completed_within_sla"),
        time_to_acknowledge=histogram("time_to_acknowledge", DURATION_BUCKETS),
        time_to_complete=histogram("time_to_complete", DURATION_BUCKETS),
        satisfaction=histogram("satisfaction", len(SATISFACTION_SCORES)),
    )
