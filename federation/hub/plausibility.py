"""Plausibility: figures no correct node can send are refused before anything is stored.

The hub cannot know a city's true figures, but it knows relations every correct snapshot keeps:
a service's channel cells and its segment cells never add up to more than its total, a
histogram's buckets never to more than the count they split, distinct citizens never exceed
the uses they made, no sent count lies below k. A suppressed value is absent and may hold any
count, so each relation is checked over the values sent only: it can prove a snapshot wrong,
never refuse a correct one. Noise added for differential privacy breaks every relation between
cells, so a noised snapshot is checked only for what noise leaves exact (k, period, revision).
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from federation.hub.errors import Implausible
from federation.protocol.models import (
    POPULATION_BANDS,
    Cell,
    CellMeasures,
    MetricsSnapshot,
    NodeRegistration,
)
from federation.protocol.vocabulary import CommonEvent

# Histograms and the count each one splits, within one cell.
HISTOGRAM_COUNTS = {
    "time_to_acknowledge": f"events.{CommonEvent.ACKNOWLEDGED.value}",
    "time_to_complete": f"events.{CommonEvent.COMPLETED.value}",
    "satisfaction": f"events.{CommonEvent.FEEDBACK.value}",
}
# A citizen is counted when they submit a request, subscribe, book or take part.
USES = tuple(
    f"events.{event.value}"
    for event in (
        CommonEvent.SUBMITTED,
        CommonEvent.SUBSCRIBED,
        CommonEvent.BOOKED,
        CommonEvent.PARTICIPATED,
    )
)
# Everyone aged 16 or more is in one of the four bands, and no European city has half of its
# people under 16: shares adding up to less than this were not meant as population shares.
MIN_SHARES_TOTAL = 0.5

# A cell's place: (service code, "total" | "channel" | "segment", channel or segment or None).
CellKey = tuple[str, str, str | None]


@dataclass(frozen=True)
class Breach:
    """One broken rule: its name, the field at fault and what is wrong."""

    rule: str
    field: str
    message: str

    def detail(self) -> dict[str, str]:
        """The breach as an entry of the error's details."""
        return {"rule": self.rule, "field": self.field, "message": self.message}


def refuse(subject: str, breaches: list[Breach]) -> None:
    """Raise Implausible naming the first broken rule, with every breach in the details."""
    if not breaches:
        return
    first = breaches[0]
    more = f" (and {len(breaches) - 1} more)" if len(breaches) > 1 else ""
    raise Implausible(
        f"implausible {subject}, rule {first.rule}: {first.message}{more}",
        details=[breach.detail() for breach in breaches],
    )


# ---------------------------------------------------------------- registrations


def registration_breaches(registration: NodeRegistration) -> list[Breach]:
    """Rules a registration must keep: all four population shares or none, figures in range."""
    breaches = []
    shares = registration.population_shares
    if shares is not None:
        missing = [band.value for band in POPULATION_BANDS if band.value not in shares]
        if missing:
            breaches.append(
                Breach(
                    "partial_population_shares",
                    "registration.population_shares",
                    f"give the share of every age band or none; missing: {', '.join(missing)}",
                )
            )
        elif sum(shares.values()) < MIN_SHARES_TOTAL:
            breaches.append(
                Breach(
                    "population_shares_too_low",
                    "registration.population_shares",
                    f"the age bands 16+ hold {sum(shares.values()):.2f} of the population; "
                    f"shares are fractions of the whole population (at least {MIN_SHARES_TOTAL})",
                )
            )
    for figure, value in registration.context.items():
        limit = 100 if figure.value.endswith("_pct") else 1
        if value > limit:
            breaches.append(
                Breach(
                    "context_out_of_range",
                    f"registration.context.{figure.value}",
                    f"{figure.value} is {value}, above {limit}"
                    + (" (a percentage)" if limit == 100 else " (an index from 0 to 1)"),
                )
            )
    return breaches


def check_registration(registration: NodeRegistration) -> None:
    """Refuse an implausible registration with 422."""
    refuse("registration", registration_breaches(registration))


# ---------------------------------------------------------------- snapshots


def month_of(moment: datetime) -> str:
    """The YYYY-MM of an instant, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def revision_ceiling(now: datetime, max_skew_seconds: int) -> int:
    """The highest revision the hub accepts now: its clock in Unix milliseconds, plus the skew.

    A node that numbers revisions by its clock can therefore always replace any revision the
    hub holds, and no revision can freeze a month for ever.
    """
    return int((now.timestamp() + max_skew_seconds) * 1000)


def snapshot_breaches(
    snapshot: MetricsSnapshot, *, pilot_start: str, now: datetime, max_skew_seconds: int
) -> list[Breach]:
    """Every rule the snapshot breaks (an empty list for a plausible one)."""
    breaches = []
    latest = month_of(now + timedelta(seconds=max_skew_seconds))
    if snapshot.period < pilot_start:
        breaches.append(
            Breach(
                "period_before_pilot_start",
                "period",
                f"{snapshot.period} is before the node's pilot start {pilot_start}",
            )
        )
    elif snapshot.period > latest:
        breaches.append(
            Breach("period_in_future", "period", f"{snapshot.period} is after {latest}")
        )
    ceiling = revision_ceiling(now, max_skew_seconds)
    if snapshot.revision > ceiling:
        breaches.append(
            Breach(
                "revision_too_high",
                "revision",
                f"revision {snapshot.revision} is above {ceiling}, the hub's clock in Unix "
                "milliseconds: number revisions by a counter or by the clock",
            )
        )
    values = _cell_values(snapshot.cells)
    breaches += _below_k(values, snapshot.k)
    if snapshot.differential_privacy is None:
        breaches += _relations(values)
    return breaches


def check_snapshot(
    snapshot: MetricsSnapshot, *, pilot_start: str, now: datetime, max_skew_seconds: int
) -> None:
    """Refuse an implausible snapshot with 422."""
    breaches = snapshot_breaches(
        snapshot, pilot_start=pilot_start, now=now, max_skew_seconds=max_skew_seconds
    )
    refuse("snapshot", breaches)


@dataclass
class _Cell:
    index: int
    values: dict[str, int]  # measure path (events.submitted, time_to_complete.3, ...) -> value


def _cell_key(cell: Cell) -> CellKey:
    if cell.channel is not None:
        return (cell.service, "channel", cell.channel.value)
    if cell.segment is not None:
        return (cell.service, "segment", cell.segment.value)
    return (cell.service, "total", None)


def _flatten(measures: CellMeasures) -> dict[str, int]:
    values = {}
    if measures.citizens is not None:
        values["citizens"] = measures.citizens
    for event, value in measures.events:
        if value is not None:
            values[f"events.{event}"] = value
    if measures.completed_within_sla is not None:
        values["completed_within_sla"] = measures.completed_within_sla
    for name in HISTOGRAM_COUNTS:
        for bucket, value in enumerate(getattr(measures, name) or []):
            if value is not None:
                values[f"{name}.{bucket}"] = value
    return values


def _cell_values(cells: list[Cell]) -> dict[CellKey, _Cell]:
    return {_cell_key(cell): _Cell(i, _flatten(cell.measures)) for i, cell in enumerate(cells)}


def _field(cell: _Cell, path: str) -> str:
    return f"cells.{cell.index}.measures.{path}"


def _where(key: CellKey) -> str:
    service, dimension, value = key
    return f"service {service}" if dimension == "total" else f"service {service}, {value}"


def _below_k(values: dict[CellKey, _Cell], k: int) -> Iterator[Breach]:
    # A 0 is a true zero and tells nobody apart; every other count must reach k.
    for key, cell in values.items():
        for path, value in cell.values.items():
            if 0 < value < k:
                yield Breach(
                    "below_k", _field(cell, path), f"{_where(key)}: {path} is {value}, below k={k}"
                )


def _relations(values: dict[CellKey, _Cell]) -> list[Breach]:
    # Per service and dimension (channel, segment): the sum of each measure over its sent cells.
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    members: dict[tuple[str, str], list[CellKey]] = defaultdict(list)
    for key, cell in values.items():
        if key[1] != "total":
            members[key[:2]].append(key)
            for path, value in cell.values.items():
                sums[key[:2]][path] += value
    breaches: list[Breach] = []
    for (service, dimension), keys in sorted(members.items()):
        total = values.get((service, "total", None))
        if total is not None:
            breaches += _members_above_total(
                service, dimension, [values[key] for key in keys], sums[(service, dimension)], total
            )
    for key, cell in values.items():
        total = values.get((key[0], "total", None))
        bounds = _bounds(cell, total, sums.get(key[:2], {})) if key[1] != "total" else cell.values
        breaches += _within_cell(key, cell, bounds)
    return breaches


def _members_above_total(
    service: str, dimension: str, cells: list[_Cell], sums: dict[str, int], total: _Cell
) -> Iterator[Breach]:
    for path, found in sums.items():
        sent = total.values.get(path)
        if sent is None:
            continue
        if path == "citizens" and dimension == "channel":
            # One person may use several channels: each channel, not their sum, is bounded.
            top = max(cell.values.get(path, 0) for cell in cells)
            if top > sent:
                yield Breach(
                    "channel_citizens_above_total",
                    _field(total, path),
                    f"service {service}: a channel counts {top} citizens, its total {sent}",
                )
        elif found > sent:
            yield Breach(
                f"{dimension}s_above_total",
                _field(total, path),
                f"service {service}: the {dimension} cells add up to {found} {path}, "
                f"more than its total {sent}",
            )


def _bounds(cell: _Cell, total: _Cell | None, sums: dict[str, int]) -> dict[str, int]:
    """Upper bounds of a channel or segment cell's measures: its sent values, and for a
    withheld one what the service's total leaves after the sent cells of the same dimension."""
    bounds = dict(cell.values)
    for path, sent in (total.values if total is not None else {}).items():
        if path not in bounds and path != "citizens":  # citizens do not add up over channels
            bounds[path] = max(sent - sums.get(path, 0), 0)
    return bounds


def _within_cell(key: CellKey, cell: _Cell, bounds: dict[str, int]) -> Iterator[Breach]:
    where = _where(key)
    for name, count in HISTOGRAM_COUNTS.items():
        buckets = sum(v for path, v in cell.values.items() if path.startswith(name + "."))
        if count in bounds and buckets > bounds[count]:
            yield Breach(
                "histogram_above_count",
                _field(cell, count),
                f"{where}: the {name} buckets add up to {buckets}, more than the "
                f"{bounds[count]} {count} they split",
            )
    completed = f"events.{CommonEvent.COMPLETED.value}"
    within = cell.values.get("completed_within_sla")
    if within is not None and completed in bounds and within > bounds[completed]:
        yield Breach(
            "within_sla_above_completed",
            _field(cell, "completed_within_sla"),
            f"{where}: {within} completed within the SLA, of at most {bounds[completed]} completed",
        )
    citizens = cell.values.get("citizens")
    if citizens is not None and all(use in bounds for use in USES):
        uses = sum(bounds[use] for use in USES)
        if citizens > uses:
            yield Breach(
                "citizens_above_uses",
                _field(cell, "citizens"),
                f"{where}: {citizens} citizens, but at most {uses} requests, subscriptions, "
                "bookings and participations",
            )
