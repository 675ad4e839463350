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
from node.sync.aggregation import CellKey, aggregate_periods, cell_measures_of, groups
from node.sync.enrollment import default_slug
from node.sync.suppression import suppress


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
        hidden = suppress(found.values, groups(found.values), k)
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
