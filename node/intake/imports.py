"""Bring past requests from a city's earlier system (a 311-style CSV export) into the archive.

A mapping file (TOML, see docs/import.md and import_examples/) names the export's columns and
translates its values: service, channel, status and department. Every good row becomes a case
with the events intake would have written (submitted and routed at the opening time) and its
closing (resolved or rejected at the closing time). Bad rows go to a quarantine CSV with their
line number and the reason, and the rest goes on.

Two writers produce the same cases and events: `via="service"` calls intake.submit for each
row, and `via="bulk"` (the default) checks rows the same way and hands whole batches to the
database driver's executemany, which is what makes a million-row export practical. Each batch
is committed, and the table of imported legacy ids makes a re-run (after a crash, or of a grown
export) add only what is not there yet.
"""

import csv
import json
import re
import secrets
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import Case, CaseStatus, EventKind
from node.cases.schemas import Actor
from node.cases.service import MAX_TEXT, record
from node.errors import InvalidInput
from node.intake import service as intake
from node.intake.models import ImportedRequest
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.staff.models import Department
from node.staff.service import get_or_create_department

Outcome = Literal["open", "resolved", "rejected"]
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # as node.cases.service: read aloud, typed
_ID_CHUNK = 500  # legacy ids per IN (...) query, well under every database's parameter limit


class ImportFailed(InvalidInput):
    """The mapping or the file cannot be used at all (as opposed to one bad row)."""


class ColumnNames(BaseModel):
    """Which column of the export holds each part of a request."""

    model_config = ConfigDict(extra="forbid")

    id: str
    service: str
    opened: str
    closed: str | None = None
    status: str | None = None
    channel: str | None = None
    department: str | None = None
    address: str | None = None
    lat: str | None = None
    long: str | None = None
    description: list[str] = Field(default_factory=list)

    @field_validator("description", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def named(self) -> list[str]:
        """Every column the mapping reads."""
        single = [self.id, self.service, self.opened, self.closed, self.status, self.channel]
        single += [self.department, self.address, self.lat, self.long]
        return [c for c in single if c] + self.description


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
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    channel: Channel | None = None  # every row's channel, when the export has no channel column
    columns: ColumnNames
    services: dict[str, str] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(default_factory=dict)
    statuses: dict[str, Outcome] = Field(default_factory=dict)
    departments: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, dict[str, AttributeSource]] = Field(default_factory=dict)

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


class RowProblem(ValueError):
    """Why one row cannot be imported, in words for the person fixing the export.

    `kind` groups the problems in the report: id, service, date, status, channel, location,
    text or attribute.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class LegacyRequest:
    """One checked row, ready to become a case."""

    line: int
    legacy_id: str
    service_code: str
    channel: str
    opened: datetime
    closed: datetime | None
    outcome: Outcome
    legacy_status: str
    department_code: str | None
    description: str
    address: str | None
    lat: float | None
    long: float | None
    attributes: dict[str, Any]


@dataclass
class ImportReport:
    """What an import did: rows read, cases made, rows already there, rows quarantined."""

    rows: int = 0
    imported: int = 0
    already_imported: int = 0
    quarantined: int = 0
    quarantine_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined rows per problem kind


class _Catalogue:
    """The installed services and departments, read once per import."""

    def __init__(self, db_session: Session) -> None:
        self.db_session = db_session
        self.services: dict[str, tuple[Service, ServiceSpec]] = {
            s.code: (s, catalogue.spec_of(s)) for s in catalogue.list_active(db_session=db_session)
        }
        self._departments: dict[str, Department] = {}

    def department(self, code: str) -> Department:
        if code not in self._departments:
            self._departments[code] = get_or_create_department(
                db_session=self.db_session, code=code
            )
        return self._departments[code]

    def department_id(self, code: str) -> int:
        return self.department(code).id


# strptime directives read by a compiled pattern: strptime costs ~10 µs a call, which is most
# of an import's time on a million rows with two dates each.
_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,6})",
    "p": r"(?P<p>[AaPp][Mm])",
    "z": r"(?P<z>Z|[+-]\d{2}:?\d{2})",
}


class DateFormat:
    """A strptime format, read by a compiled pattern when it uses only common directives."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.pattern = self._compile(fmt)

    @staticmethod
    def _compile(fmt: str) -> re.Pattern[str] | None:
        parts, position, seen = [], 0, set()
        while position < len(fmt):
            char = fmt[position]
            if char != "%":
                parts.append(re.escape(char))
                position += 1
                continue
            directive = fmt[position + 1 : position + 2]
            if directive == "%":
                parts.append("%")
            elif directive in _DIRECTIVES and directive not in seen:
                parts.append(_DIRECTIVES[directive])
                seen.add(directive)
            else:
                return None  # anything else is left to strptime itself
            position += 2
        if not {"Y", "m", "d"} <= seen or ("I" in seen) != ("p" in seen) or {"H", "I"} <= seen:
            return None
        return re.compile("".join(parts))

    def parse(self, raw: str) -> datetime | None:
        """The moment written in `raw`, or None when it is not in this format."""
        if self.pattern is None:
            try:
                return datetime.strptime(raw, self.fmt)
            except ValueError:
                return None
        match = self.pattern.fullmatch(raw)
        if match is None:
            return None
        found = match.groupdict()
        hour = int(found.get("H") or 0)
        if found.get("I") is not None:
            hour = int(found["I"])
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if found["p"].upper() == "PM" else 0)
        zone = None
        if found.get("z"):
            zone = _offset(found["z"])
        try:
            return datetime(
                int(found["Y"]),
                int(found["m"]),
                int(found["d"]),
                hour,
                int(found.get("M") or 0),
                int(found.get("S") or 0),
                int((found.get("f") or "0").ljust(6, "0")),
                tzinfo=zone,
            )
        except ValueError:  # 31/31, 99:00 and the like
            return None


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


class RowReader:
    """Turns the export's rows into LegacyRequests, raising RowProblem for a bad one."""

    def __init__(self, mapping: ImportMapping, header: list[str], known: _Catalogue) -> None:
        missing = [c for c in mapping.columns.named() if c not in header]
        for service_map in mapping.attributes.values():
            missing += [
                s.column for s in service_map.values() if s.column and s.column not in header
            ]
        if missing:
            raise ImportFailed(
                f"the file has no column {', '.join(repr(c) for c in dict.fromkeys(missing))}; "
                f"its columns are {', '.join(header)}",
                {"columns": "missing"},
            )
        self.mapping = mapping
        self.known = known
        self.zone = ZoneInfo(mapping.timezone)
        self.index = {name: header.index(name) for name in header}
        self.formats = [DateFormat(fmt) for fmt in mapping.date_formats]
        self.checked: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | RowProblem] = {}

    def _cell(self, row: list[str], column: str | None) -> str:
        if column is None:
            return ""
        position = self.index[column]
        return row[position].strip() if position < len(row) else ""

    def _date(self, raw: str, column: str) -> datetime:
        for position, fmt in enumerate(self.formats):
            parsed = fmt.parse(raw)
            if parsed is None:
                continue
            if position:  # the format that matched goes first next time: exports rarely mix
                self.formats.insert(0, self.formats.pop(position))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self.zone)
            return parsed.astimezone(UTC)
        raise RowProblem(
            "date",
            f"unparseable date {raw!r} in column {column!r} "
            f"(formats tried: {', '.join(self.mapping.date_formats)})",
        )

    def _number(self, raw: str, column: str) -> float | None:
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise RowProblem("location", f"{raw!r} in column {column!r} is not a number") from None

    def read(self, row: list[str], line: int) -> LegacyRequest:
        """Check one row; RowProblem says what is wrong with it."""
        mapping, columns = self.mapping, self.mapping.columns
        legacy_id = self._cell(row, columns.id)
        if not legacy_id:
            raise RowProblem("id", f"no id in column {columns.id!r}")
        if len(legacy_id) > 128:
            raise RowProblem("id", f"the id in column {columns.id!r} is longer than 128 characters")
        raw_service = self._cell(row, columns.service)
        if mapping.services:
            code = mapping.services.get(raw_service)
            if code is None:
                raise RowProblem(
                    "service",
                    f"service {raw_service!r} (column {columns.service!r}) is not mapped "
                    "to an installed service in the mapping's [services]",
                )
        else:
            code = raw_service
        if code not in self.known.services:
            raise RowProblem("service", f"service code {code!r} is not installed on this node")
        _service, spec = self.known.services[code]

        raw_opened = self._cell(row, columns.opened)
        if not raw_opened:
            raise RowProblem("date", f"no opening date in column {columns.opened!r}")
        opened = self._date(raw_opened, columns.opened)
        raw_closed = self._cell(row, columns.closed)
        closed = self._date(raw_closed, columns.closed) if raw_closed else None

        legacy_status = self._cell(row, columns.status)
        if columns.status is None:
            outcome: Outcome = "resolved" if closed else "open"
        elif legacy_status in mapping.statuses:
            outcome = mapping.statuses[legacy_status]
        else:
            raise RowProblem(
                "status",
                f"status {legacy_status!r} (column {columns.status!r}) is not in the "
                "mapping's [statuses]",
            )
        if outcome == "open":
            closed = None
        elif closed is None:
            raise RowProblem(
                "date", f"status {legacy_status!r} needs a closing date in {columns.closed!r}"
            )
        elif closed < opened:
            raise RowProblem("date", f"closed ({raw_closed}) before it was opened ({raw_opened})")

        if columns.channel is None:
            channel = mapping.channel
        else:
            raw_channel = self._cell(row, columns.channel)
            channel = mapping.channels.get(raw_channel)
            if channel is None:
                try:
                    channel = Channel(raw_channel.lower())
                except ValueError:
                    raise RowProblem(
                        "channel",
                        f"channel {raw_channel!r} (column {columns.channel!r}) is not in the "
                        "mapping's [channels]",
                    ) from None
        if channel not in spec.channels:
            raise RowProblem("channel", f"{spec.name} does not take requests by {channel.value}")

        description = " — ".join(v for c in columns.description if (v := self._cell(row, c)))
        if len(description) > MAX_TEXT:
            raise RowProblem("text", f"the description is longer than {MAX_TEXT} characters")
        address = self._cell(row, columns.address) or None
        if address and len(address) > 300:
            raise RowProblem("text", "the address is longer than 300 characters")
        lat = self._number(self._cell(row, columns.lat), columns.lat or "")
        long = self._number(self._cell(row, columns.long), columns.long or "")
        if (lat is None) != (long is None):
            raise RowProblem("location", "a latitude without a longitude, or the other way round")
        if lat is not None and not (-90 <= lat <= 90 and -180 <= long <= 180):
            raise RowProblem("location", f"the location {lat}, {long} is outside the globe")

        answers: dict[str, Any] = {}
        for attribute, source in mapping.attributes.get(code, {}).items():
            raw = self._cell(row, source.column)
            value = source.values.get(raw) if source.values else raw or None
            if value is None:
                value = source.default
            if value is not None:
                answers[attribute] = value
        # Exports repeat the same few answers; each combination is checked against the spec once.
        key = (code, tuple(answers.items()))
        if key not in self.checked:
            try:
                self.checked[key] = intake.validate_attributes(spec, answers)
            except InvalidInput as exc:
                self.checked[key] = RowProblem("attribute", str(exc))
        checked = self.checked[key]
        if isinstance(checked, RowProblem):
            raise RowProblem(checked.kind, str(checked))
        answers = dict(checked)

        raw_department = self._cell(row, columns.department)
        return LegacyRequest(
            line=line,
            legacy_id=legacy_id,
            service_code=code,
            channel=channel.value,
            opened=opened,
            closed=closed,
            outcome=outcome,
            legacy_status=legacy_status,
            department_code=mapping.departments.get(raw_department),
            description=description,
            address=address,
            lat=lat,
            long=long,
            attributes=answers,
        )


def routed_department(spec: ServiceSpec, attributes: dict[str, Any]) -> str:
    """The department a service's routing rules send a request to (as intake does)."""
    for rule in spec.routing:
        value = attributes.get(rule.attribute)
        if value == rule.equals or (isinstance(value, list) and rule.equals in value):
            return rule.department
    return spec.department


def _closing(request: LegacyRequest, source: str) -> tuple[EventKind, dict[str, Any]] | None:
    if request.outcome == "resolved":
        return EventKind.RESOLVED, {"from": "new", "to": "resolved"}
    if request.outcome == "rejected":
        reason = f"closed as {request.legacy_status or 'rejected'} in {source}"
        return EventKind.REJECTED, {"from": "new", "to": "rejected", "reason": reason}
    return None


class _Quarantine:
    """Bad rows with their line number and reason, written as they are met."""

    def __init__(self, path: Path, header: list[str], delimiter: str) -> None:
        self.path, self.header, self.delimiter = path, header, delimiter
        self._handle: Any = None
        self._writer: Any = None

    def add(self, line: int, reason: str, row: list[str]) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle, delimiter=self.delimiter)
            self._writer.writerow(["line", "reason", *self.header])
        self._writer.writerow([line, reason, *row])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def default_quarantine_path(csv_path: Path) -> Path:
    """Where bad rows go unless told: beside the input, e.g. requests.quarantine.csv."""
    return csv_path.with_name(f"{csv_path.stem}.quarantine.csv")


def count_rows(csv_path: Path) -> int:
    """About how many rows the file holds (its lines less the header), for a progress bar."""
    lines = 0
    with csv_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(0, lines - 1)


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on; a quoted field may span several lines."""
    start = reader.line_num + 1
    for row in reader:
        if row:
            yield start, row
        start = reader.line_num + 1


def import_requests(
    *,
    db_session: Session,
    csv_path: Path,
    mapping: ImportMapping,
    tracking_prefix: str,
    language: str = "en",
    quarantine_path: Path | None = None,
    batch_size: int = 2000,
    via: Literal["bulk", "service"] = "bulk",
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an export's rows as cases and archive events, committing each batch.

    Unlike other service functions this one commits: a batch is the unit of work, so that an
    interrupted import keeps what it finished and a re-run skips it.
    """
    known = _Catalogue(db_session)
    report = ImportReport(quarantine_path=quarantine_path or default_quarantine_path(csv_path))
    write = _BulkWriter if via == "bulk" else _ServiceWriter
    writer = write(db_session=db_session, known=known, mapping=mapping, prefix=tracking_prefix)
    writer.language = language
    seen: dict[str, int] = {}
    try:
        handle = csv_path.open(newline="", encoding=mapping.encoding)
    except OSError as exc:
        raise ImportFailed(f"cannot read {csv_path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ImportFailed(f"{csv_path} is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFailed(f"{csv_path} cannot be read as CSV: {exc}") from exc
        rows = RowReader(mapping, header, known)
        quarantine = _Quarantine(report.quarantine_path, header, mapping.delimiter)
        batch: list[LegacyRequest] = []

        def flush() -> None:
            fresh = _not_yet_imported(db_session, mapping.source, batch)
            report.already_imported += len(batch) - len(fresh)
            writer.write(fresh)
            db_session.commit()
            report.imported += len(fresh)
            batch.clear()
            if on_progress is not None:
                on_progress(report.rows)

        def bad(line: int, kind: str, reason: str, row: list[str]) -> None:
            quarantine.add(line, reason, row)
            report.quarantined += 1
            report.reasons[kind] = report.reasons.get(kind, 0) + 1

        try:
            lines = _rows(reader)
            while True:
                try:
                    line, row = next(lines)
                except StopIteration:
                    break
                except (csv.Error, UnicodeDecodeError) as exc:
                    report.rows += 1
                    bad(reader.line_num, "text", f"unreadable row: {exc}", [])
                    continue
                report.rows += 1
                try:
                    request = rows.read(row, line)
                except RowProblem as exc:
                    bad(line, exc.kind, str(exc), row)
                    continue
                first = seen.setdefault(request.legacy_id, line)
                if first != line:
                    bad(line, "id", f"id {request.legacy_id!r} already on line {first}", row)
                    continue
                batch.append(request)
                if len(batch) >= batch_size:
                    flush()
            flush()
        finally:
            quarantine.close()
    if not report.quarantined:
        report.quarantine_path = None
    return report


def _not_yet_imported(
    db_session: Session, source: str, batch: list[LegacyRequest]
) -> list[LegacyRequest]:
    ids = [r.legacy_id for r in batch]
    done: set[str] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        done.update(
            db_session.scalars(
                sa.select(ImportedRequest.legacy_id).where(
                    ImportedRequest.source == source,
                    ImportedRequest.legacy_id.in_(ids[start : start + _ID_CHUNK]),
                )
            )
        )
    return [r for r in batch if r.legacy_id not in done]


class _ServiceWriter:
    """One intake.submit per row, then the closing: the reference the bulk writer matches."""

    language = "en"

    def __init__(
        self, *, db_session: Session, known: _Catalogue, mapping: ImportMapping, prefix: str
    ) -> None:
        self.db_session, self.known, self.mapping, self.prefix = db_session, known, mapping, prefix

    def write(self, requests: list[LegacyRequest]) -> None:
        session = self.db_session
        for request in requests:
            case = intake.submit(
                db_session=session,
                service_code=request.service_code,
                channel=request.channel,
                description=request.description,
                attributes=request.attributes,
                address=request.address,
                lat=request.lat,
                long=request.long,
                language=self.language,
                tracking_prefix=self.prefix,
                actor=Actor.system(),
                now=request.opened,
            )
            if request.department_code and request.department_code != case.department.code:
                case.department = self.known.department(request.department_code)
                record(
                    db_session=session,
                    kind=EventKind.ROUTED,
                    actor=Actor.system(),
                    case=case,
                    at=request.opened,
                    data={"department": request.department_code},
                )
            closing = _closing(request, self.mapping.source)
            if closing is not None:
                kind, data = closing
                case.status = CaseStatus(data["to"])
                case.closed_at = case.updated_at = request.closed
                record(
                    db_session=session,
                    kind=kind,
                    actor=Actor.system(),
                    case=case,
                    at=request.closed,
                    data=data,
                )
            session.add(
                ImportedRequest(
                    source=self.mapping.source, legacy_id=request.legacy_id, case_id=case.id
                )
            )
        session.flush()


class _BulkWriter(_ServiceWriter):
    """The same cases and events as intake.submit writes, inserted a batch at a time.

    Rows go to the driver's executemany with values already in the column's stored form, so
    that a million rows do not pay for an ORM object or a type conversion each.
    """

    def __init__(
        self, *, db_session: Session, known: _Catalogue, mapping: ImportMapping, prefix: str
    ) -> None:
        super().__init__(db_session=db_session, known=known, mapping=mapping, prefix=prefix)
        dialect = db_session.connection().dialect
        self.sqlite = dialect.name == "sqlite"
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.case_sql = _insert_sql("cases", _CASE_COLUMNS, mark)
        self.event_sql = _insert_sql("events", _EVENT_COLUMNS, mark)
        self.imported_sql = _insert_sql("imported_requests", _IMPORTED_COLUMNS, mark)
        self._encoded: dict[tuple[Any, ...], Any] = {}
        if self.sqlite:
            self._json: Callable[[Any], Any] = json.dumps
        else:
            from psycopg.types.json import Json  # the driver of PostgreSQL URLs here

            self._json = Json

    def _json_of(self, value: dict[str, Any]) -> Any:
        """A JSON column's value; exports repeat the same few, so each is encoded once."""
        try:
            key = tuple((k, type(v), v) for k, v in value.items())  # True is not 1
            hash(key)
        except TypeError:  # a list answer: not worth keeping
            return self._json(value)
        if key not in self._encoded:
            self._encoded[key] = self._json(value)
        return self._encoded[key]

    def _when(self, moment: datetime | None) -> Any:
        """A UTC moment as UTCDateTime stores it: SQLite's text form, else a naive datetime."""
        if moment is None:
            return None
        if self.sqlite:
            return moment.isoformat(sep=" ", timespec="microseconds")[:26]
        return moment.replace(tzinfo=None)

    def _tracking_codes(self, count: int) -> list[str]:
        # secrets.choice per character costs more than the insert; one random draw per code,
        # then the rare clash (with the batch or the database) is drawn again.
        codes: list[str] = []
        while len(codes) < count:
            wanted = count - len(codes)
            fresh: set[str] = set()
            while len(fresh) < wanted:
                number = secrets.randbits(30)
                fresh.add(
                    f"{self.prefix}-"
                    + "".join(_CODE_ALPHABET[(number >> s) & 31] for s in (25, 20, 15, 10, 5, 0))
                )
            fresh.difference_update(codes)
            fresh.difference_update(self._existing_codes(list(fresh)))
            codes += fresh
        return codes

    def _existing_codes(self, codes: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(codes), _ID_CHUNK):
            chunk = codes[start : start + _ID_CHUNK]
            found.update(
                self.db_session.scalars(
                    sa.select(Case.tracking_code).where(Case.tracking_code.in_(chunk))
                )
            )
        return found

    def _case_ids(self, codes: list[str]) -> list[int]:
        ids: dict[str, int] = {}
        for start in range(0, len(codes), _ID_CHUNK):
            chunk = codes[start : start + _ID_CHUNK]
            query = sa.select(Case.tracking_code, Case.id).where(Case.tracking_code.in_(chunk))
            ids.update((code, case_id) for code, case_id in self.db_session.execute(query))
        return [ids[code] for code in codes]

    def write(self, requests: list[LegacyRequest]) -> None:
        if not requests:
            return
        codes = self._tracking_codes(len(requests))
        when, source = self._when, self.mapping.source
        case_rows, plans = [], []
        for request, code in zip(requests, codes, strict=True):
            spec = self.known.services[request.service_code][1]
            rule = routed_department(spec, request.attributes)
            closing = _closing(request, source)
            opened, closed = when(request.opened), when(request.closed)
            plans.append((rule, closing, opened, closed))
            case_rows.append(
                (
                    code,
                    request.service_code,
                    request.channel,
                    closing[1]["to"] if closing else CaseStatus.NEW.value,
                    "normal",
                    self.known.department_id(request.department_code or rule),
                    request.description,
                    request.address,
                    request.lat,
                    request.long,
                    self._json_of(request.attributes),
                    self.language,
                    when(request.opened + timedelta(hours=spec.sla_hours)),
                    opened,
                    closed or opened,
                    closed,
                )
            )
        connection = self.db_session.connection()
        connection.exec_driver_sql(self.case_sql, case_rows)
        case_ids = self._case_ids(codes)
        system = Actor.system().kind.value
        submitted, routed = EventKind.SUBMITTED.value, EventKind.ROUTED.value
        on_behalf = self._json_of({"on_behalf": False, "organisation": False})
        events = []
        for request, case_id, plan in zip(requests, case_ids, plans, strict=True):
            rule, closing, opened, closed = plan
            code, routed_to = request.service_code, self._json_of({"department": rule})
            events.append((opened, submitted, case_id, code, request.channel, system, on_behalf))
            events.append((opened, routed, case_id, code, None, system, routed_to))
            if request.department_code and request.department_code != rule:
                moved = self._json_of({"department": request.department_code})
                events.append((opened, routed, case_id, code, None, system, moved))
            if closing is not None:
                kind, data = closing
                events.append(
                    (closed, kind.value, case_id, code, None, system, self._json_of(data))
                )
        connection.exec_driver_sql(self.event_sql, events)
        now = when(datetime.now(UTC))
        connection.exec_driver_sql(
            self.imported_sql,
            [
                (source, r.legacy_id, case_id, now)
                for r, case_id in zip(requests, case_ids, strict=True)
            ],
        )


_CASE_COLUMNS = (
    "tracking_code",
    "service_code",
    "channel",
    "status",
    "priority",
    "department_id",
    "description",
    "address",
    "lat",
    "long",
    "attributes",
    "language",
    "due_at",
    "created_at",
    "updated_at",
    "closed_at",
)
_EVENT_COLUMNS = ("at", "kind", "case_id", "service_code", "channel", "actor_kind", "data")
_IMPORTED_COLUMNS = ("source", "legacy_id", "case_id", "imported_at")


def _insert_sql(table: str, columns: tuple[str, ...], mark: str) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join([mark] * len(columns))})'


def summary(report: ImportReport) -> str:
    """The report in one paragraph, for the command line."""
    text = (
        f"{report.rows} rows read: {report.imported} imported, "
        f"{report.already_imported} already imported, {report.quarantined} quarantined"
    )
    if report.quarantine_path is not None:
        text += f" (see {report.quarantine_path})"
    return text
