"""The mapping file of a legacy import: which columns hold what, and how values translate."""

import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from federation.protocol.vocabulary import Channel
from node.errors import InvalidInput
from node.intake.import_files import codec_name

Outcome = Literal["open", "resolved", "rejected"]


class ImportFailed(InvalidInput):
    """The mapping or the file cannot be used at all (as opposed to one bad row)."""


class ColumnNames(BaseModel):
    """Which column of the export holds each part of a request."""

    model_config = ConfigDict(extra="forbid")

    id: str
    service: str
    opened: str
    closed: str | None = None
    due: str | None = None  # the legacy system's due date: the SLA clock of an open case
    status: str | None = None
    channel: str | None = None
    department: str | None = None
    address: list[str] = Field(default_factory=list)  # e.g. street and house number
    lat: str | None = None
    long: str | None = None
    description: list[str] = Field(default_factory=list)
    closing_note: list[str] = Field(default_factory=list)

    @field_validator("address", "description", "closing_note", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def named(self) -> list[str]:
        """Every column the mapping reads."""
        single = [self.id, self.service, self.opened, self.closed, self.due, self.status]
        single += [self.channel, self.department, self.lat, self.long]
        return [c for c in single if c] + self.address + self.description + self.closing_note


class AttributeSource(BaseModel):
    """Where a service attribute's answer comes from: a column, its value mapping, a default."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    values: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class ImportMapping(BaseModel):
    """How to read one city's export: columns, date formats and value translations."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    date_formats: list[str] = Field(min_length=1)
    timezone: str = "UTC"
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)  # None: detected
    encoding: str | None = None  # None: detected
    channel: Channel | None = None  # every row's channel, when the export has no channel column
    catch_all: str | None = None  # the service of rows whose category maps to no service
    columns: ColumnNames
    services: dict[str, str] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(default_factory=dict)
    statuses: dict[str, Outcome] = Field(default_factory=dict)
    departments: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, dict[str, AttributeSource]] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        return codec_name(value) if value else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


def load_mapping(path: Path) -> ImportMapping:
    """Read and check a mapping file; ImportFailed names the file and every wrong key."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ImportFailed(f"cannot read the mapping {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImportFailed(f"{path} is not valid TOML: {exc}") from exc
    try:
        mapping = ImportMapping.model_validate(raw)
    except ValidationError as exc:
        problems = {".".join(str(p) for p in error["loc"]): error["msg"] for error in exc.errors()}
        listed = "; ".join(f"{key}: {message}" for key, message in problems.items())
        raise ImportFailed(f"{path}: {listed}", problems) from exc
    if mapping.columns.channel is None and mapping.channel is None:
        raise ImportFailed(
            f"{path}: name a channel column in [columns] or one channel for every row",
            {"channel": "required"},
        )
    return mapping
