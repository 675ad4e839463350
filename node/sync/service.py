"""Build anonymised period snapshots from the archive, keep the outbox, and push to the hub."""

import hashlib
import json
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, aliased

from federation.protocol import client as hub_client
from federation.protocol.models import (
    Cell,
    CellMeasures,
    DifferentialPrivacy,
    EventCounts,
    MetricsSnapshot,
    NodeRegistration,
    ServiceIdentity,
)
from federation.protocol.signing import (
    generate_private_key,
    private_key_from_pem,
    private_key_to_pem,
    public_key_b64,
)
from federation.protocol.vocabulary import (
    DURATION_BUCKET_UPPER_HOURS,
    SATISFACTION_SCORES,
    AgeBand,
    Channel,
    CommonEvent,
)
from node.cases.models import Case, Event, EventKind
from node.database import utcnow
from node.errors import Conflict, NotFound
from node.private_files import write_private
from node.profiles.models import CitizenSegment, SegmentKind
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.sync.models import FederationLink, SyncPeriod
from node.sync.suppression import Group, suppress

KEY_FILE = "node_key.pem"
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


# ---------------------------------------------------------------- keys and enrollment


def load_or_create_key(instance: Path) -> Ed25519PrivateKey:
    """The node's Ed25519 private key, created (mode 600) on first use."""
    path = instance / KEY_FILE
    if path.exists():
        return private_key_from_pem(path.read_bytes())
    key = generate_private_key()
    write_private(path, private_key_to_pem(key))
    return key


def registration(
    *, settings: dict[str, Any], node_slug: str, channels: list[str], key: Ed25519PrivateKey
) -> NodeRegistration:
    """What the node tells the hub about itself: no personal data, only the city's figures."""
    return NodeRegistration(
        node=node_slug,
        city=settings["CITY"],
        country=settings["COUNTRY"],
        population=int(settings["POPULATION"]),
        languages=list(settings["LANGUAGES"]),
        channels=sorted(set(channels)) or [c.value for c in Channel],
        context=dict(settings.get("CONTEXT") or {}),
        population_shares=settings.get("POPULATION_SHARES") or None,
        public_key=public_key_b64(key),
    )


def get_link(*, db_session: Session) -> FederationLink:
    """The hub link, or NotFound when the node has not enrolled."""
    link = db_session.scalar(sa.select(FederationLink))
    if link is None:
        raise NotFound("this node is not enrolled with a hub: run `carmen node enroll`")
    return link


def save_link(*, db_session: Session, hub_url: str, node_slug: str, node_id: int, k: int) -> None:
    """Remember the hub after a successful enrollment (replacing an earlier one)."""
    db_session.execute(sa.delete(FederationLink))
    db_session.add(
        FederationLink(
            hub_url=hub_url.rstrip("/"),
            node_slug=node_slug,
            node_id=node_id,
            k=k,
            enrolled_at=utcnow(),
        )
    )
    db_session.flush()


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


def source_fingerprints(*, db_session: Session) -> dict[str, str]:
    """Per month, a fingerprint of its case events (count and last id), in one GROUP BY."""
    dialect = db_session.get_bind().dialect.name
    month = _month(Event.at, dialect).label("month")
    rows = db_session.execute(
        sa.select(month, sa.func.count(), sa.func.max(Event.id))
        .where(Event.case_id.is_not(None))
        .group_by(month)
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
    for aggregates in found.values():
        aggregates.values = dict(aggregates.values)
    return found


def _groups(values: dict[tuple[CellKey, str], int]) -> list[Group]:
    """The additive equations among a period's values (see node.sync.suppression)."""
    members: dict[tuple[str, str, str], list[tuple[CellKey, str]]] = defaultdict(list)
    cells: dict[CellKey, list[str]] = defaultdict(list)
    for cell, measure in values:
        cells[cell].append(measure)
        service, dim, _ = cell
        # Distinct citizens add up over segments (one band each) but not over channels.
        if dim == "segment" or (dim == "channel" and measure != "citizens"):
            members[(service, dim, measure)].append((cell, measure))
    groups = [
        Group(total=((service, "all", None), measure), members=tuple(sorted(found, key=str)))
        for (service, _dim, measure), found in members.items()
    ]
    for cell, measures in cells.items():
        for prefix, event in HISTOGRAMS.items():
            buckets = tuple((cell, m) for m in measures if m.startswith(prefix + "."))
            if buckets:
                groups.append(Group(total=(cell, f"events.{event.value}"), members=buckets))
    return groups


def _cell_measures(found: dict[str, int]) -> CellMeasures | None:
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


def service_identities(*, db_session: Session, codes: set[str]) -> list[ServiceIdentity]:
    """The federation-wide identity of each service: its template and where it was cloned from."""
    identities = []
    for service in db_session.scalars(sa.select(Service).where(Service.code.in_(codes))):
        provenance = getattr(service, "provenance", None) or {}
        cloned = provenance.get("cloned_from") or {}
        # The source node is named by its city and country, as every node names itself.
        source = cloned.get("node") or (
            default_slug({"CITY": cloned["city"], "COUNTRY": cloned["country"]})
            if cloned.get("city") and cloned.get("country")
            else None
        )
        identities.append(
            ServiceIdentity(
                code=service.code,
                template=service.spec.get("template") or provenance.get("template"),
                template_version=_short_version(provenance.get("template_version")),
                cloned_from={"node": source, "service": cloned["service"]}
                if source and cloned.get("service")
                else None,
            )
        )
    return sorted(identities, key=lambda s: s.code)


def _short_version(version: str | None) -> str | None:
    """A template version as the wire carries it: a tag, or the first 12 hex digits of a hash."""
    if not version:
        return None
    return version.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class NoiseSettings:
    """Differential privacy for snapshots: the budget per build and the contribution bound.

    One case touches at most three cells (its service's total, its channel, its segment) and,
    in each, the count of each of its events of the month, the duration bucket or score that
    event carries, its resolution in time, and once the distinct citizens: so a case with at most
    `max_events_per_case` events in a month changes the released vector by at most
    3 * (3 * max_events_per_case + 1) in L1. Cases with more events in one month exceed that
    bound; a person with several cases spends the budget once per case.
    """

    epsilon: float
    max_events_per_case: int = 6

    @property
    def sensitivity(self) -> int:
        """The L1 change one case can make to the released counts."""
        return 3 * (3 * self.max_events_per_case + 1)


def add_noise(
    values: dict[tuple[CellKey, str], int], privacy: NoiseSettings
) -> tuple[dict[tuple[CellKey, str], int], DifferentialPrivacy]:
    """Add discrete Laplace noise from OpenDP to every count; returns the budget spent."""
    try:
        import opendp.prelude as dp
    except ImportError as exc:  # an optional extra: say how to get it
        raise RuntimeError(
            "differential privacy needs OpenDP: pip install 'carmen-federation[dp]'"
        ) from exc
    dp.enable_features("contrib")
    keys = sorted(values, key=str)
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = space >> dp.m.then_laplace(scale=privacy.sensitivity / privacy.epsilon)
    noisy = measurement([values[key] for key in keys])
    epsilon = float(measurement.map(d_in=privacy.sensitivity))
    # Negative counts mean nothing to a reader; clamping is post-processing and costs no budget.
    released = {key: max(0, int(value)) for key, value in zip(keys, noisy, strict=True)}
    return released, DifferentialPrivacy(mechanism="geometric", epsilon=epsilon)


def build_snapshots(
    *,
    db_session: Session,
    node_slug: str,
    periods: list[str],
    k: int,
    revisions: dict[str, int] | None = None,
    privacy: NoiseSettings | None = None,
) -> dict[str, MetricsSnapshot]:
    """The periods' anonymised snapshots: noised when asked, suppressed below k, with
    secondary suppression."""
    if not periods:
        return {}
    revisions = revisions or {}
    built = {}
    for period, found in aggregate_periods(db_session=db_session, periods=periods).items():
        spent = None
        if privacy is not None and found.values:
            found.values, spent = add_noise(found.values, privacy)
        hidden = suppress(found.values, _groups(found.values), k)
        by_cell: dict[CellKey, dict[str, int]] = defaultdict(dict)
        for (cell, measure), value in found.values.items():
            if (cell, measure) not in hidden:
                by_cell[cell][measure] = value
        cells = []
        for (service, dim, value), measures in sorted(by_cell.items(), key=str):
            cell_measures = _cell_measures(measures)
            if cell_measures is not None:
                cells.append(
                    Cell(
                        service=service,
                        channel=value if dim == "channel" else None,
                        segment=value if dim == "segment" else None,
                        measures=cell_measures,
                    )
                )
        built[period] = MetricsSnapshot(
            node=node_slug,
            period=period,
            revision=revisions.get(period, 1),
            k=k,
            differential_privacy=spent,
            services=service_identities(db_session=db_session, codes=found.services),
            cells=cells,
        )
    return built


def build_snapshot(
    *, db_session: Session, node_slug: str, period: str, k: int, revision: int = 1
) -> MetricsSnapshot:
    """One period's anonymised snapshot (see build_snapshots)."""
    return build_snapshots(
        db_session=db_session,
        node_slug=node_slug,
        periods=[period],
        k=k,
        revisions={period: revision},
    )[period]


def _content_hash(snapshot: MetricsSnapshot) -> str:
    content = snapshot.model_dump(mode="json", exclude={"revision", "pending_periods"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- outbox


def refresh_outbox(
    *, db_session: Session, now: datetime | None = None, privacy: NoiseSettings | None = None
) -> list[str]:
    """Rebuild the snapshot of every month whose events changed; a changed one gets a revision.

    Returns the periods that got a new revision.
    """
    link = get_link(db_session=db_session)
    now = now or utcnow()
    stored = {p.period: p for p in db_session.scalars(sa.select(SyncPeriod))}
    fingerprints = source_fingerprints(db_session=db_session)
    dirty = sorted(
        period
        for period, fingerprint in fingerprints.items()
        if period not in stored or stored[period].source_fingerprint != fingerprint
    )
    for period in dirty:
        stored.setdefault(
            period,
            SyncPeriod(
                period=period, revision=0, acknowledged_revision=0, attempts=0, epsilon_spent=0.0
            ),
        )
    snapshots = build_snapshots(
        db_session=db_session,
        node_slug=link.node_slug,
        periods=dirty,
        k=link.k,
        revisions={period: stored[period].revision + 1 for period in dirty},
        privacy=privacy,
    )
    changed = []
    for period, snapshot in snapshots.items():
        row = stored[period]
        digest = _content_hash(snapshot)
        row.source_fingerprint = fingerprints[period]
        row.built_at = now
        if snapshot.differential_privacy is not None:
            row.epsilon_spent += snapshot.differential_privacy.epsilon
        if digest != row.content_hash:
            row.revision += 1
            row.content_hash = digest
            row.payload = snapshot.model_dump(mode="json", exclude_none=True)
            row.refused = False
            row.last_error = None
            changed.append(period)
        db_session.add(row)
    db_session.flush()
    return changed


def pending_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Periods whose latest revision the hub has not acknowledged, oldest first."""
    query = (
        sa.select(SyncPeriod)
        .where(SyncPeriod.revision > SyncPeriod.acknowledged_revision)
        .order_by(SyncPeriod.period)
    )
    return list(db_session.scalars(query))


def all_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Every period the outbox knows, oldest first."""
    return list(db_session.scalars(sa.select(SyncPeriod).order_by(SyncPeriod.period)))


def snapshot_to_send(*, db_session: Session, period: str) -> MetricsSnapshot:
    """The stored snapshot of a period's latest revision, with the periods still pending."""
    row = db_session.get(SyncPeriod, period)
    if row is None or row.payload is None:
        raise NotFound(f"no snapshot built for {period}")
    others = [p.period for p in pending_periods(db_session=db_session) if p.period != period]
    return MetricsSnapshot.model_validate({**row.payload, "pending_periods": others[:120]})


def record_push(
    *,
    db_session: Session,
    period: str,
    revision: int,
    result: hub_client.PushResult,
    now: datetime | None = None,
) -> None:
    """Write down how a push of one revision ended; an acknowledgement never goes backwards."""
    now = now or utcnow()
    row = db_session.get(SyncPeriod, period)
    row.attempts += 1
    row.last_attempt_at = now
    if result.acknowledged:
        if revision > row.acknowledged_revision:
            row.acknowledged_revision = revision
            row.acknowledged_at = now
        row.last_error = None
    else:
        row.last_error = f"{result.status_code or 'network'}: {result.message}"[:500]
        row.refused = result.outcome in (
            hub_client.PushOutcome.CONFLICT,
            hub_client.PushOutcome.CLIENT_ERROR,
        )
    db_session.flush()


def push_period(
    *, db_session: Session, period: str, key: Ed25519PrivateKey, http: Any = None
) -> hub_client.PushResult:
    """Send a period's latest revision once and record the outcome (the caller commits)."""
    link = get_link(db_session=db_session)
    snapshot = snapshot_to_send(db_session=db_session, period=period)
    result = hub_client.push_snapshot(
        hub_url=link.hub_url, snapshot=snapshot, private_key=key, client=http
    )
    record_push(db_session=db_session, period=period, revision=snapshot.revision, result=result)
    return result


def ensure_enrolled_slug(*, db_session: Session, node_slug: str) -> None:
    """Refuse to enroll under another slug while periods are still pending for the first."""
    link = db_session.scalar(sa.select(FederationLink))
    if link and link.node_slug != node_slug and pending_periods(db_session=db_session):
        raise Conflict(f"periods are still pending for {link.node_slug}; sync them first")


def noise_settings(settings: Any) -> NoiseSettings | None:
    """The differential privacy asked for by the node's settings (DP_EPSILON), or None."""
    epsilon = settings.get("DP_EPSILON")
    if not epsilon:
        return None
    return NoiseSettings(float(epsilon), int(settings.get("DP_MAX_EVENTS_PER_CASE") or 6))


def sync_now(
    *,
    db_session: Session,
    key: Ed25519PrivateKey,
    privacy: NoiseSettings | None = None,
    attempts: int = 5,
    base_delay: float = 1.0,
    sleep: Any = None,
    rng: Any = None,
) -> dict[str, hub_client.PushResult]:
    """Refresh the outbox and push every pending period now, retrying 5xx and network errors.

    Retries back off exponentially with full jitter; a 4xx is recorded and not retried.
    Commits after every push, so an interruption loses nothing already acknowledged.
    """
    import random
    import time

    sleep = sleep or time.sleep
    rng = rng or random.Random()
    refresh_outbox(db_session=db_session, privacy=privacy)
    db_session.commit()
    results: dict[str, hub_client.PushResult] = {}
    with httpx_client() as http:
        for row in pending_periods(db_session=db_session):
            for attempt in range(attempts):
                result = push_period(db_session=db_session, period=row.period, key=key, http=http)
                db_session.commit()
                results[row.period] = result
                if result.outcome is not hub_client.PushOutcome.RETRY:
                    break
                if attempt + 1 < attempts:
                    sleep(rng.uniform(0, base_delay * 2**attempt))
    return results


def httpx_client() -> Any:
    """One HTTP client for a round of pushes (keeps the connection to the hub open)."""
    import httpx

    return httpx.Client(timeout=10.0)


def default_slug(settings: dict[str, Any]) -> str:
    """The node's default federation name: country and city, e.g. it-bologna, pl-krakow."""
    # Letters lose their accents (Kraków -> krakow); anything else separates words.
    plain = unicodedata.normalize("NFKD", settings["CITY"].lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    city = "".join(c if c.isascii() and c.isalnum() else "-" for c in plain)
    name = "-".join(part for part in city.split("-") if part)
    return f"{settings['COUNTRY'].lower()}-{name}"[:63]


def enroll_with_hub(
    *,
    db_session: Session,
    settings: Any,
    instance: Path,
    hub_url: str,
    token: str,
    slug: str | None = None,
) -> str:
    """Register this node and its public key with the hub; returns the node's federation name.

    Raises EnrollmentError (the hub refused) or ValueError (the node's settings do not make a
    valid registration).
    """
    from node.services.service import list_active

    key = load_or_create_key(instance)
    channels = sorted({c for s in list_active(db_session=db_session) for c in s.channels})
    registration_ = registration(
        settings=settings, node_slug=slug or default_slug(settings), channels=channels, key=key
    )
    answer = hub_client.enroll(hub_url=hub_url, token=token, registration=registration_)
    save_link(
        db_session=db_session,
        hub_url=hub_url,
        node_slug=answer.node,
        node_id=answer.node_id,
        k=answer.k,
    )
    return answer.node
