"""Versioned wire models between nodes and the hub: registration, snapshots, receipts.

Everything a node may say to the hub is written here, and nothing else can be said: every model
forbids unknown fields, identifiers are short slugs matched by pattern, channels and segments are
enumerations, and measures are non-negative integers or fixed-length integer lists. A suppressed
count is absent (None), never 0: 0 means "truly zero".
"""

from __future__ import annotations

import base64
import binascii
import math
import unicodedata
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from federation.protocol.vocabulary import (
    DURATION_BUCKET_UPPER_HOURS,
    SATISFACTION_SCORES,
    AgeBand,
    Channel,
    CommonEvent,
)

SCHEMA_VERSION = 1
# Version 2 of the snapshot counts moved and cancelled bookings; the hub still takes version 1,
# which has no such counts (absent there means "not counted", not "suppressed").
SNAPSHOT_SCHEMA_VERSION = 2
SNAPSHOT_SCHEMA_VERSIONS = (1, 2)
# Event counts each snapshot version added, by version.
EVENTS_SINCE: dict[int, tuple[str, ...]] = {
    2: (CommonEvent.RESCHEDULED.value, CommonEvent.CANCELLED.value),
}

# Identifiers: lower-case slugs, short enough that they cannot carry prose.
NODE_SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
SERVICE_CODE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
TEMPLATE_VERSION_PATTERN = r"^(\d+(\.\d+){0,3}|[0-9a-f]{7,40})$"
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"  # Eurostat codes: EL for Greece, UK for the United Kingdom
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"  # ISO 639-1 or 639-3

DURATION_BUCKETS = len(DURATION_BUCKET_UPPER_HOURS) + 1
SATISFACTION_BUCKETS = len(SATISFACTION_SCORES)
MAX_COUNT = 10**12

NodeSlug = Annotated[str, Field(pattern=NODE_SLUG_PATTERN, max_length=63)]
ServiceCode = Annotated[str, Field(pattern=SERVICE_CODE_PATTERN, max_length=64)]
TemplateVersion = Annotated[str, Field(pattern=TEMPLATE_VERSION_PATTERN, max_length=40)]
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, min_length=7, max_length=7)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
# One bucket of a histogram may be suppressed (None) while the others are sent.
DurationHistogram = Annotated[
    list[Count | None], Field(min_length=DURATION_BUCKETS, max_length=DURATION_BUCKETS)
]
SatisfactionHistogram = Annotated[
    list[Count | None], Field(min_length=SATISFACTION_BUCKETS, max_length=SATISFACTION_BUCKETS)
]


class ContextFigure(StrEnum):
    """Numeric context figures a node may report, named as the columns of eu_cities.csv."""

    INTERNET_USE_PCT = "internet_use_pct"
    INTERNET_USE_55_74_PCT = "internet_use_55_74_pct"
    INTERNET_USE_16_24_PCT = "internet_use_16_24_pct"
    DIGITAL_SKILLS_BASIC_PCT = "digital_skills_basic_pct"
    EGOV_INDEX_2018 = "egov_index_2018"
    ONLINE_SERVICE_INDEX_2018 = "online_service_index_2018"
    TELECOM_INFRASTRUCTURE_INDEX_2018 = "telecom_infrastructure_index_2018"


# Segments with a population share; `unknown` has none.
POPULATION_BANDS: tuple[AgeBand, ...] = (
    AgeBand.A16_24,
    AgeBand.A25_54,
    AgeBand.A55_74,
    AgeBand.A75_PLUS,
)
PopulationBand = Literal["16-24", "25-54", "55-74", "75+"]


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are refused, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class NodeRegistration(WireModel):
    """What a node tells the hub about itself when it enrolls."""

    schema_version: Literal[1] = SCHEMA_VERSION
    node: NodeSlug = Field(description="The node's slug, unique in the federation.")
    city: str = Field(min_length=1, max_length=120, description="City name as Eurostat writes it.")
    country: str = Field(pattern=COUNTRY_PATTERN, description="Eurostat 2-letter country code.")
    population: StrictInt = Field(gt=0, le=100_000_000)
    languages: list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]] = Field(
        min_length=1, max_length=10
    )
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    context: dict[ContextFigure, StrictFloat | StrictInt] = Field(default_factory=dict)
    population_shares: dict[PopulationBand, StrictFloat | StrictInt] | None = Field(
        default=None, description="Share of the population in each age band, 0 to 1."
    )
    public_key: str = Field(
        min_length=44, max_length=44, description="Ed25519 public key, raw 32 bytes, base64."
    )

    @model_validator(mode="after")
    def _check(self) -> NodeRegistration:
        for name, value in self.context.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"context.{name} must be a finite number >= 0")
        if self.population_shares is not None:
            for band, share in self.population_shares.items():
                if not math.isfinite(share) or not 0 <= share <= 1:
                    raise ValueError(f"population_shares.{band} must be between 0 and 1")
            if sum(self.population_shares.values()) > 1.0001:
                raise ValueError("population_shares add up to more than 1")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels are listed twice")
        try:
            raw = base64.b64decode(self.public_key, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be a raw 32-byte Ed25519 key")
        return self


class EventCounts(WireModel):
    """Counts per event of the common vocabulary; None (or absent) means suppressed."""

    submitted: Count | None = None
    acknowledged: Count | None = None
    completed: Count | None = None
    rejected: Count | None = None
    message_delivered: Count | None = None
    message_failed: Count | None = None
    feedback: Count | None = None
    subscribed: Count | None = None
    unsubscribed: Count | None = None
    booked: Count | None = None
    rescheduled: Count | None = None  # since snapshot version 2
    cancelled: Count | None = None  # since snapshot version 2
    attended: Count | None = None
    no_show: Count | None = None
    participated: Count | None = None


class CellMeasures(WireModel):
    """The measures of one cell; any of them may be suppressed (None)."""

    citizens: Count | None = Field(default=None, description="Distinct citizens.")
    events: EventCounts = Field(default_factory=EventCounts)
    completed_within_sla: Count | None = None
    time_to_acknowledge: DurationHistogram | None = Field(
        default=None, description="Cases per duration bucket (hours, vocabulary buckets)."
    )
    time_to_complete: DurationHistogram | None = None
    satisfaction: SatisfactionHistogram | None = Field(
        default=None, description="Feedbacks per score 1..5."
    )


class Cell(WireModel):
    """One cell: a service's measures in total, for one channel, or for one segment."""

    service: ServiceCode = Field(description="The node-local code of the service.")
    channel: Channel | None = Field(default=None, description="None: all channels.")
    segment: AgeBand | None = Field(default=None, description="None: all segments.")
    measures: CellMeasures

    @model_validator(mode="after")
    def _one_dimension(self) -> Cell:
        if self.channel is not None and self.segment is not None:
            raise ValueError("a cell is per channel or per segment, not both")
        return self


class ClonedFrom(WireModel):
    """Where a cloned service came from."""

    node: NodeSlug
    service: ServiceCode


class ServiceIdentity(WireModel):
    """A service the node runs: its local code and its federation-wide identity."""

    code: ServiceCode
    template: ServiceCode | None = Field(
        default=None, description="Template name: the federation-wide identity of the service."
    )
    template_version: TemplateVersion | None = None
    cloned_from: ClonedFrom | None = None

    @model_validator(mode="after")
    def _versioned_template(self) -> ServiceIdentity:
        if self.template_version is not None and self.template is None:
            raise ValueError("template_version given without template")
        return self


class DifferentialPrivacy(WireModel):
    """The privacy budget spent on one period's snapshot when noise was added."""

    mechanism: Literal["laplace", "gaussian", "geometric", "discrete_gaussian"]
    epsilon: StrictFloat | StrictInt = Field(gt=0, le=100)
    delta: StrictFloat | None = Field(default=None, ge=0, lt=1)


class MetricsSnapshot(WireModel):
    """The complete anonymised aggregates of one node for one period, at one revision."""

    schema_version: Literal[1, 2] = Field(
        default=SNAPSHOT_SCHEMA_VERSION,
        description="2 counts rescheduled and cancelled bookings; 1 (older nodes) does not.",
    )
    node: NodeSlug
    period: Period = Field(description="Calendar month, YYYY-MM.")
    revision: StrictInt = Field(ge=1, le=2**62, description="Grows with every change.")
    k: StrictInt = Field(ge=2, le=1000, description="Suppression threshold applied.")
    differential_privacy: DifferentialPrivacy | None = None
    pending_periods: list[Period] = Field(
        default_factory=list,
        max_length=120,
        description="Periods the node still has to deliver, as it sees them when sending.",
    )
    services: list[ServiceIdentity] = Field(max_length=500)
    cells: list[Cell] = Field(max_length=20_000)

    @model_validator(mode="after")
    def _consistent(self) -> MetricsSnapshot:
        codes = [service.code for service in self.services]
        if len(set(codes)) != len(codes):
            raise ValueError("a service code is listed twice in services")
        known = set(codes)
        later = [
            name
            for version, names in EVENTS_SINCE.items()
            if version > self.schema_version
            for name in names
        ]
        seen: set[tuple[str, str | None, str | None]] = set()
        for index, cell in enumerate(self.cells):
            for name in later:
                if getattr(cell.measures.events, name) is not None:
                    raise ValueError(
                        f"cells.{index}.measures.events.{name} is not part of schema version "
                        f"{self.schema_version}"
                    )
            if cell.service not in known:
                raise ValueError(f"cells.{index}.service {cell.service!r} is not in services")
            key = (cell.service, cell.channel, cell.segment)
            if key in seen:
                raise ValueError(f"cells.{index} repeats the cell {key!r}")
            seen.add(key)
        return self


class EnrollmentRequest(WireModel):
    """Body of POST /api/v1/enroll: a one-time token and the node's registration."""

    token: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    registration: NodeRegistration


class EnrollmentResponse(WireModel):
    """The hub's answer to an enrollment."""

    schema_version: Literal[1] = SCHEMA_VERSION
    node_id: StrictInt
    node: NodeSlug
    k: StrictInt = Field(description="The federation's suppression threshold.")


class IngestStatus(StrEnum):
    """What the hub did with a snapshot it acknowledged."""

    STORED = "stored"  # new (node, period) or a higher revision
    UNCHANGED = "unchanged"  # same revision, same content: a duplicate delivery
    IGNORED_LOWER_REVISION = "ignored_lower_revision"  # the hub already holds a newer one


class IngestReceipt(WireModel):
    """The hub's acknowledgement of a snapshot (HTTP 200)."""

    status: IngestStatus
    node: NodeSlug
    period: Period
    revision: StrictInt = Field(description="The revision the node sent.")
    stored_revision: StrictInt = Field(description="The revision the hub now holds.")


def canonical_exclude(snapshot: MetricsSnapshot, *fields: str) -> dict:
    """What a snapshot's canonical form (its digest) leaves out: the named top-level fields,
    and each count a later schema version added while it is absent, so that a snapshot without
    them digests exactly as it did before they existed."""
    added = [name for names in EVENTS_SINCE.values() for name in names]
    cells = {
        index: {"measures": {"events": set(absent)}}
        for index, cell in enumerate(snapshot.cells)
        if (absent := [name for name in added if getattr(cell.measures.events, name) is None])
    }
    return {**dict.fromkeys(fields, True), **({"cells": cells} if cells else {})}


def default_node_slug(*, city: str, country: str) -> str:
    """The name a node takes in the federation by default: country and city, e.g. it-bologna."""
    # Letters lose their accents (Kraków -> krakow); anything else separates words.
    plain = unicodedata.normalize("NFKD", city.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    words = "".join(c if c.isascii() and c.isalnum() else "-" for c in plain)
    name = "-".join(part for part in words.split("-") if part)
    return f"{country.lower()}-{name}"[:63]


def satisfaction_score_names() -> list[str]:
    """Measure names of the satisfaction histogram: satisfaction_1 ... satisfaction_5."""
    return [f"satisfaction_{score}" for score in SATISFACTION_SCORES]


EVENT_NAMES: tuple[str, ...] = tuple(event.value for event in CommonEvent)
