"""Writing checked legacy rows as cases and events: through intake, or in bulk batches."""

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from node.cases.models import Case, CaseStatus, EventKind, ImportedRequest
from node.cases.schemas import Actor
from node.cases.service import record
from node.intake import service as intake
from node.intake.import_mapping import ImportMapping
from node.intake.import_rows import Catalogue, LegacyRequest
from node.services.schemas import ServiceSpec

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # as node.cases.service: read aloud, typed
_ID_CHUNK = 500  # legacy ids per IN (...) query, well under every database's parameter limit


def routed_department(spec: ServiceSpec, attributes: dict[str, Any]) -> str:
    """The department a service's routing rules send a request to (as intake does)."""
    return intake.route(spec, attributes).department


def _closing(request: LegacyRequest, source: str) -> tuple[EventKind, dict[str, Any]] | None:
    if request.outcome == "resolved":
        return EventKind.RESOLVED, {"from": "new", "to": "resolved"}
    if request.outcome == "rejected":
        reason = f"closed as {request.legacy_status or 'rejected'} in {source}"
        return EventKind.REJECTED, {"from": "new", "to": "rejected", "reason": reason}
    return None


def due_at(request: LegacyRequest, spec: ServiceSpec, now: datetime) -> datetime:
    """When the case is due: the legacy due date, else the SLA from its opening if it is closed
    and from the import if it is open (an old open case is not late on the day it arrives)."""
    if request.due is not None:
        return request.due
    start = request.opened if request.outcome != "open" else max(request.opened, now)
    return start + timedelta(hours=spec.sla_hours)


def _note(request: LegacyRequest) -> tuple[datetime, dict[str, Any]] | None:
    """The legacy system's closing note, as an internal note at the closing (or opening) time."""
    if not request.closing_note:
        return None
    return request.closed or request.opened, {"text": request.closing_note}


def not_yet_imported(
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


class ServiceWriter:
    """One intake.submit per row, then the closing: the reference the bulk writer matches."""

    language = "en"

    def __init__(
        self,
        *,
        db_session: Session,
        known: Catalogue,
        mapping: ImportMapping,
        prefix: str,
        now: datetime,
    ) -> None:
        self.db_session, self.known, self.mapping, self.prefix = db_session, known, mapping, prefix
        self.now = now

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
            case.due_at = due_at(request, self.known.services[request.service_code][1], self.now)
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
            note = _note(request)
            if note is not None:
                record(
                    db_session=session,
                    kind=EventKind.NOTE_ADDED,
                    actor=Actor.system(),
                    case=case,
                    at=note[0],
                    data=note[1],
                )
            session.add(
                ImportedRequest(
                    source=self.mapping.source, legacy_id=request.legacy_id, case_id=case.id
                )
            )
        session.flush()


class BulkWriter(ServiceWriter):
    """The same cases and events as intake.submit writes, inserted a batch at a time.

    Rows go to the driver's executemany with values already in the column's stored form, so
    that a million rows do not pay for an ORM object or a type conversion each.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        dialect = self.db_session.connection().dialect
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
                    when(due_at(request, spec, self.now)),
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
        noted = EventKind.NOTE_ADDED.value
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
            note = _note(request)
            if note is not None:
                events.append(
                    (when(note[0]), noted, case_id, code, None, system, self._json(note[1]))
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
