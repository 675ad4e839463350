"""Reading a legacy export's rows: dates, values and checks, each bad row with its reason."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.behaviours import behaviour_of
from node.cases.service import MAX_TEXT
from node.errors import InvalidInput
from node.intake import service as intake
from node.intake.import_mapping import ImportFailed, ImportMapping
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.staff.models import Department
from node.staff.service import get_or_create_department

Outcome = Literal["open", "resolved", "rejected"]


class RowProblem(ValueError):
    """Why one row cannot be imported, in words for the person fixing the export.

    `kind` groups the problems in the report: id, service, date, status, channel, location,
    text or attribute (and, for records that are no row at all, format or encoding).
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
    due: datetime | None
    outcome: Outcome
    legacy_status: str
    department_code: str | None
    description: str
    closing_note: str
    caught: str | None  # the legacy category, when the catch-all service took the row
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
    caught: dict[str, int] = field(default_factory=dict)  # catch-all rows per legacy category
    blank_lines: int = 0
    encoding: str = ""
    encoding_how: str = ""
    delimiter: str = ","

    @property
    def accounted(self) -> bool:
        """Whether every row read was imported, found already there, or quarantined."""
        return self.rows == self.imported + self.already_imported + self.quarantined


class Catalogue:
    """The installed services and departments, read once per import."""

    def __init__(self, db_session: Session) -> None:
        self.db_session = db_session
        self.services: dict[str, tuple[Service, ServiceSpec]] = {
            s.code: (s, catalogue.spec_of(s)) for s in catalogue.list_active(db_session=db_session)
        }
        # Services whose behaviour keeps no cases (consultations): a row cannot become one.
        self.caseless = {
            code for code, (_, spec) in self.services.items() if not behaviour_of(spec).takes_cases
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


EXCEL = "excel"  # a spreadsheet's serial day number: 45306.64722 is 15 Jan 2024, 15:32
_EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of the 1900 date system (after its leap bug)
_EXCEL_LAST = 2958465  # 31 Dec 9999


def _excel_serial(raw: str) -> datetime | None:
    try:
        days = float(raw.replace(",", ".", 1))
    except ValueError:
        return None
    if not 1 <= days <= _EXCEL_LAST:
        return None
    return _EXCEL_EPOCH + timedelta(seconds=round(days * 86400))


class DateFormat:
    """A strptime format, read by a compiled pattern when it uses only common directives.

    The format `excel` reads a spreadsheet's serial day numbers instead (decimal point or comma).
    """

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.pattern = None if fmt == EXCEL else self._compile(fmt)

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
        if self.fmt == EXCEL:
            return _excel_serial(raw)
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

    def __init__(self, mapping: ImportMapping, header: list[str], known: Catalogue) -> None:
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
        catch_all = mapping.catch_all
        if catch_all and (catch_all not in known.services or catch_all in known.caseless):
            raise ImportFailed(
                f"the catch-all service {catch_all!r} is not installed on this node as a "
                "service that takes cases",
                {"catch_all": "not installed"},
            )
        self.mapping = mapping
        self.known = known
        self.zone = ZoneInfo(mapping.timezone)
        self.index = {name: header.index(name) for name in header}
        self.formats = [DateFormat(fmt) for fmt in mapping.date_formats]
        self.checked: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | RowProblem] = {}

    def _cell(self, row: list[str], column: str | None) -> str:
        # Every row has the header's width: the file reader quarantines the others.
        return row[self.index[column]].strip() if column is not None else ""

    def _joined(self, row: list[str], columns: list[str], joiner: str = " — ") -> str:
        text = joiner.join(v for c in columns if (v := self._cell(row, c)))
        # A line break inside a field is the same text whichever system wrote the file.
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

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
        if "," in raw and "." not in raw:  # a decimal comma: 44,4949 (no coordinate has 1,000s)
            raw = raw.replace(",", ".", 1)
        try:
            return float(raw)
        except ValueError:
            raise RowProblem("location", f"{raw!r} in column {column!r} is not a number") from None

    def _service(self, raw: str) -> tuple[str, str | None]:
        """The code of the service a legacy category goes to, and the category if the catch-all."""
        mapping, column = self.mapping, self.mapping.columns.service
        code = mapping.services.get(raw) if mapping.services else raw
        if code in self.known.caseless:
            name = self.known.services[code][1].name
            raise RowProblem("service", f"{name} takes no cases, so no row can go to it")
        if code in self.known.services:
            return code, None
        if mapping.catch_all:
            return mapping.catch_all, raw or None
        if code is None:
            raise RowProblem(
                "service",
                f"service {raw!r} (column {column!r}) is not mapped to an installed service "
                "in the mapping's [services], and the mapping names no catch_all",
            )
        raise RowProblem("service", f"service code {code!r} is not installed on this node")

    def read(self, row: list[str], line: int) -> LegacyRequest:
        """Check one row; RowProblem says what is wrong with it."""
        mapping, columns = self.mapping, self.mapping.columns
        legacy_id = self._cell(row, columns.id)
        if not legacy_id:
            raise RowProblem("id", f"no id in column {columns.id!r}")
        if len(legacy_id) > 128:
            raise RowProblem("id", f"the id in column {columns.id!r} is longer than 128 characters")
        raw_service = self._cell(row, columns.service)
        code, caught = self._service(raw_service)
        _service, spec = self.known.services[code]

        raw_opened = self._cell(row, columns.opened)
        if not raw_opened:
            raise RowProblem("date", f"no opening date in column {columns.opened!r}")
        opened = self._date(raw_opened, columns.opened)
        raw_closed = self._cell(row, columns.closed)
        closed = self._date(raw_closed, columns.closed) if raw_closed else None
        raw_due = self._cell(row, columns.due)
        due = self._date(raw_due, columns.due) if raw_due else None

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
        if not intake.takes_channel(spec, channel):
            raise RowProblem("channel", f"{spec.name} does not take requests by {channel.value}")

        description = self._joined(row, columns.description)
        if caught:  # the legacy category is all that tells these rows apart: keep it
            description = f"{caught} — {description}" if description else caught
        if len(description) > MAX_TEXT:
            raise RowProblem("text", f"the description is longer than {MAX_TEXT} characters")
        closing_note = self._joined(row, columns.closing_note)
        if len(closing_note) > MAX_TEXT:
            raise RowProblem("text", f"the closing note is longer than {MAX_TEXT} characters")
        address = self._joined(row, columns.address, " ") or None
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
            due=due,
            outcome=outcome,
            legacy_status=legacy_status,
            department_code=mapping.departments.get(raw_department),
            description=description,
            closing_note=closing_note,
            caught=caught,
            address=address,
            lat=lat,
            long=long,
            attributes=answers,
        )
