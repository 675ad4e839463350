"""Snapshots: a period's aggregates with small cells suppressed, noised when asked, identified."""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.models import (
    Cell,
    DifferentialPrivacy,
    MetricsSnapshot,
    ServiceIdentity,
    canonical_exclude,
)
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.sync.aggregation import CellKey, aggregate_periods, cell_measures_of, relations
from node.sync.audit import AuditReport, Revision, audit
from node.sync.enrollment import default_slug
from node.sync.suppression import protect


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


# The measures of a service's total cell that its unkeyed Open311 request list gives away:
# every request with its status and its request, update and expected times, so how many were
# made and closed, how long each took, and whether in time.
PUBLIC_MEASURES = ("events.submitted", "events.completed", "completed_within_sla")
PUBLIC_PREFIXES = ("time_to_complete.",)


def publicly_listed(*, db_session: Session) -> set[str]:
    """The services whose [publish] lets Open311 GET list their requests to anyone.

    A behaviour that keeps personal matters (bookings, consultations, alerts) lists none of
    them whatever [publish] says (`node.intake.publication`), which sync may not import: such a
    service is counted here too. That only costs protection: the audit still checks the reader
    who does not know these totals."""
    return {
        service.code
        for service in db_session.scalars(sa.select(Service))
        if ServiceSpec.model_validate(service.spec).publish.requests
    }


def public_keys(
    values: dict[tuple[CellKey, str], int], listed: set[str]
) -> frozenset[tuple[CellKey, str]]:
    """The values anyone reads off the public request lists: the total cell's submissions,
    resolutions, time-to-complete buckets and resolutions in time of each listed service."""
    return frozenset(
        (cell, measure)
        for cell, measure in values
        if cell[1] == "all"
        and cell[0] in listed
        and (measure in PUBLIC_MEASURES or measure.startswith(PUBLIC_PREFIXES))
    )


@dataclass
class Release:
    """A period's snapshot with what it was made from: the exact values, those withheld, and
    those public anyway (see `public_keys`)."""

    snapshot: MetricsSnapshot
    values: dict[tuple[CellKey, str], int]
    hidden: set[tuple[CellKey, str]]
    public: frozenset[tuple[CellKey, str]] = frozenset()


def build_releases(
    *,
    db_session: Session,
    node_slug: str,
    periods: list[str],
    k: int,
    revisions: dict[str, int] | None = None,
    privacy: NoiseSettings | None = None,
    protection_width: int | None = None,
    keep: dict[str, set] | None = None,
    released: dict[str, list[dict[str, Any]] | None] | None = None,
) -> dict[str, Release]:
    """The periods' anonymised snapshots, each with its exact values and withheld keys.

    Noised when asked, then protected (`node.sync.suppression.protect`): nothing below k is
    sent, and nothing withheld can be narrowed below the protection width (default k) from
    the published values. `keep` names, per period, values to withhold whatever they are;
    `released`, per period, the earlier revisions that may have left (as `encode_release`
    stores them): the new one is protected together with them.
    """
    if not periods:
        return {}
    revisions = revisions or {}
    keep = keep or {}
    released = released or {}
    built = {}
    listed = publicly_listed(db_session=db_session)
    for period, found in aggregate_periods(db_session=db_session, periods=periods).items():
        spent = None
        if privacy is not None and found.values:
            found.values, spent = add_noise(found.values, privacy)
        # Taken from the exact counts: the public list shows them, not their noised values.
        public = public_keys(found.values, listed) if privacy is None else frozenset()
        hidden = protect(
            found.values,
            relations(found.values),
            k=k,
            protection_width=protection_width,
            keep=keep.get(period, ()),
            # A width of 0 checks nothing: the earlier revisions need not be read.
            released=[decode_release(entry) for entry in released.get(period) or []]
            if protection_width != 0
            else [],
            public=public,
        )
        by_cell: dict[CellKey, dict[str, int]] = defaultdict(dict)
        for (cell, measure), value in found.values.items():
            if (cell, measure) not in hidden:
                by_cell[cell][measure] = value
        cells = []
        for (service, dim, value), measures in sorted(by_cell.items(), key=str):
            cell_measures = cell_measures_of(measures)
            if cell_measures is not None:
                cells.append(
                    Cell(
                        service=service,
                        channel=value if dim == "channel" else None,
                        segment=value if dim == "segment" else None,
                        measures=cell_measures,
                    )
                )
        snapshot = MetricsSnapshot(
            node=node_slug,
            period=period,
            revision=revisions.get(period, 1),
            k=k,
            differential_privacy=spent,
            services=service_identities(db_session=db_session, codes=found.services),
            cells=cells,
        )
        built[period] = Release(
            snapshot=snapshot, values=found.values, hidden=hidden, public=public
        )
    return built


def build_snapshots(
    *,
    db_session: Session,
    node_slug: str,
    periods: list[str],
    k: int,
    revisions: dict[str, int] | None = None,
    privacy: NoiseSettings | None = None,
    protection_width: int | None = None,
) -> dict[str, MetricsSnapshot]:
    """The periods' anonymised snapshots (see build_releases)."""
    releases = build_releases(
        db_session=db_session,
        node_slug=node_slug,
        periods=periods,
        k=k,
        revisions=revisions,
        privacy=privacy,
        protection_width=protection_width,
    )
    return {period: release.snapshot for period, release in releases.items()}


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


def content_hash(snapshot: MetricsSnapshot) -> str:
    content = snapshot.model_dump(
        mode="json", exclude=canonical_exclude(snapshot, "revision", "pending_periods")
    )
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def noise_settings(settings: Any) -> NoiseSettings | None:
    """The differential privacy asked for by the node's settings (DP_EPSILON), or None."""
    if not settings["DP_EPSILON"]:
        return None
    return NoiseSettings(settings["DP_EPSILON"], settings["DP_MAX_EVENTS_PER_CASE"])


# ---------------------------------------------------------------- releases and their audit


def encode_release(revision: int, release: Release) -> dict[str, Any]:
    """A revision as the outbox keeps it once it may leave: exact values and withheld keys."""
    return {
        "revision": revision,
        "values": sorted(
            ([*cell, measure, value] for (cell, measure), value in release.values.items()), key=str
        ),
        "hidden": sorted(([*cell, measure] for cell, measure in release.hidden), key=str),
    }


def _key(service: str, dim: str, value: str | None, measure: str) -> tuple[CellKey, str]:
    return (service, dim, value), measure


def decode_release(entry: dict[str, Any]) -> Revision:
    """A stored revision as its attacker holds it (see `node.sync.audit`)."""
    values = {_key(*row[:4]): row[4] for row in entry["values"]}
    return Revision(
        values=values,
        hidden=frozenset(_key(*row) for row in entry["hidden"]),
        relations=tuple(relations(values)),
    )


def withheld_before(released: list[dict[str, Any]] | None) -> set[tuple[CellKey, str]]:
    """Every key withheld by an earlier revision (a later one keeps them withheld)."""
    return {_key(*row) for entry in released or [] for row in entry["hidden"]}


def published_before(released: list[dict[str, Any]] | None) -> set[tuple[CellKey, str]]:
    """Every key the last earlier revision published (what the hub holds of the month)."""
    if not released:
        return set()
    last = released[-1]
    return {_key(*row[:4]) for row in last["values"]} - {_key(*row) for row in last["hidden"]}


def audit_release(
    *,
    release: Release,
    released: list[dict[str, Any]] | None,
    k: int,
    protection_width: int | None = None,
) -> AuditReport:
    """Audit a new revision together with every earlier one that may have left, and the
    changes between them: what whoever holds them all can work out."""
    latest = Revision(
        values=release.values,
        hidden=frozenset(release.hidden),
        relations=tuple(relations(release.values)),
    )
    return audit(
        revisions=[*(decode_release(entry) for entry in released or []), latest],
        k=k,
        protection_width=k if protection_width is None else protection_width,
        public=release.public,
    )
