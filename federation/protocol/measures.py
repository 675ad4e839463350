"""Flatten snapshot cells into the named measures of the federation's export tables."""

from collections.abc import Mapping

from federation.protocol.models import (
    Cell,
    CellMeasures,
    MetricsSnapshot,
    ServiceIdentity,
    satisfaction_score_names,
)
from federation.protocol.vocabulary import (
    SATISFACTION_SCORES,
    TIME_TO_ACKNOWLEDGE,
    TIME_TO_COMPLETE,
    CommonEvent,
    duration_bucket_names,
)

ALL = "all"  # the segment or channel of a cell that covers every segment or channel


def measure_names() -> list[str]:
    """Every measure name a cell can produce, in a stable order."""
    return [
        "citizens",
        *(event.value for event in CommonEvent),
        "completed_within_sla",
        "satisfaction_sum",
        "satisfaction_count",
        *duration_bucket_names(TIME_TO_ACKNOWLEDGE),
        *duration_bucket_names(TIME_TO_COMPLETE),
        *satisfaction_score_names(),
    ]


def measures_of(measures: CellMeasures) -> dict[str, int]:
    """Named measures of a cell; suppressed values are left out, never written as 0."""
    out: dict[str, int] = {}
    if measures.citizens is not None:
        out["citizens"] = measures.citizens
    for event in CommonEvent:
        value = getattr(measures.events, event.value)
        if value is not None:
            out[event.value] = value
    if measures.completed_within_sla is not None:
        out["completed_within_sla"] = measures.completed_within_sla
    for prefix, histogram in (
        (TIME_TO_ACKNOWLEDGE, measures.time_to_acknowledge),
        (TIME_TO_COMPLETE, measures.time_to_complete),
    ):
        if histogram is not None:
            for name, value in zip(duration_bucket_names(prefix), histogram, strict=True):
                if value is not None:
                    out[name] = value
    if measures.satisfaction is not None:
        for name, value in zip(satisfaction_score_names(), measures.satisfaction, strict=True):
            if value is not None:
                out[name] = value
        # The sum and count are exact only when no bucket was suppressed.
        if all(value is not None for value in measures.satisfaction):
            counts = [value or 0 for value in measures.satisfaction]
            out["satisfaction_count"] = sum(counts)
            out["satisfaction_sum"] = sum(
                score * count for score, count in zip(SATISFACTION_SCORES, counts, strict=True)
            )
    return out


def federation_service(*, node: str, service: ServiceIdentity) -> str:
    """The federation-wide name of a service: its template, or `<node>/<code>` without one."""
    return service.template if service.template else f"{node}/{service.code}"


def template_ref(service: ServiceIdentity) -> str:
    """`<template>@<version>`, `<template>` without a version, or empty without a template."""
    if not service.template:
        return ""
    if service.template_version:
        return f"{service.template}@{service.template_version}"
    return service.template


def snapshot_rows(
    snapshot: MetricsSnapshot, extra: Mapping[str, object] | None = None
) -> list[dict[str, object]]:
    """One row per (service, segment, channel, measure) with its value, as the hub stores it.

    `extra` columns (e.g. the hub's ids) are added to every row.
    """
    services = {service.code: service for service in snapshot.services}
    rows: list[dict[str, object]] = []
    for cell in snapshot.cells:
        rows.extend(_cell_rows(snapshot.node, services[cell.service], cell, extra or {}))
    return rows


def _cell_rows(
    node: str, service: ServiceIdentity, cell: Cell, extra: Mapping[str, object]
) -> list[dict[str, object]]:
    base = {
        **extra,
        "service_code": service.code,
        "service": federation_service(node=node, service=service),
        "template": template_ref(service),
        "segment": cell.segment.value if cell.segment is not None else ALL,
        "channel": cell.channel.value if cell.channel is not None else ALL,
    }
    return [
        {**base, "measure": name, "value": value}
        for name, value in measures_of(cell.measures).items()
    ]
