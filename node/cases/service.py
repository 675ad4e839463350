"""Case workflow: status moves, assignment, notes and replies, each an appended archive event."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from node.cases import search
from node.cases.models import (
    CLOSED_STATUSES,
    Case,
    CaseStatus,
    Event,
    EventKind,
    ImportedRequest,
    Priority,
)
from node.cases.schemas import Actor, QueueFilter
from node.database import MAX_ROW_ID, utcnow
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.hooks import Hook
from node.staff.models import Role, StaffUser

# Crockford's alphabet without I, L, O, U: codes are read aloud on the phone and typed in SMS.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_TEXT = 4000
# Called with db_session= and case_id= just before a change to the case is committed; listeners
# act from the session's after-commit hook (messaging tells the citizen; the app factory
# connects it), so a change that rolls back is never announced.
CASE_CHANGED = Hook("a change to a case is about to be committed")
# Called with db_session=, case_id= and alert= (whether its routing asks for the staff on duty
# to be told at once) when intake opens a case, before the caller commits; messaging connects.
CASE_OPENED = Hook("a case was opened and is about to be committed")


@dataclass(frozen=True)
class Move:
    """A status move: which statuses it leaves from, where it goes, and the event it appends."""

    sources: frozenset[CaseStatus]
    target: CaseStatus
    event: EventKind
    hint: str


OPEN = frozenset({CaseStatus.NEW, CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS})
MOVES: dict[str, Move] = {
    "acknowledge": Move(
        frozenset({CaseStatus.NEW}),
        CaseStatus.ACKNOWLEDGED,
        EventKind.ACKNOWLEDGED,
        "only a new case can be acknowledged",
    ),
    "start": Move(
        frozenset({CaseStatus.ACKNOWLEDGED}),
        CaseStatus.IN_PROGRESS,
        EventKind.STARTED,
        "acknowledge the case before starting work on it",
    ),
    "resolve": Move(
        frozenset({CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS}),
        CaseStatus.RESOLVED,
        EventKind.RESOLVED,
        "acknowledge the case before resolving it",
    ),
    "reject": Move(
        OPEN, CaseStatus.REJECTED, EventKind.REJECTED, "only an open case can be rejected"
    ),
    "mark_duplicate": Move(
        OPEN,
        CaseStatus.DUPLICATE,
        EventKind.MARKED_DUPLICATE,
        "only an open case can be marked as a duplicate",
    ),
    "reopen": Move(
        CLOSED_STATUSES,
        CaseStatus.ACKNOWLEDGED,
        EventKind.REOPENED,
        "only a resolved, rejected or duplicate case can be reopened",
    ),
}


def new_tracking_code(*, db_session: Session, prefix: str) -> str:
    """A short unique code the citizen uses to follow the case, e.g. BO-7K3M9Q."""
    while True:
        code = f"{prefix}-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if not db_session.scalar(sa.select(Case.id).where(Case.tracking_code == code)):
            return code


def record(
    *,
    db_session: Session,
    kind: EventKind,
    actor: Actor,
    case: Case | None = None,
    citizen_id: int | None = None,
    channel: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    service_code: str | None = None,
) -> Event:
    """Append one event to the archive; an event without a case names its service itself."""
    event = Event(
        at=at or utcnow(),
        kind=kind,
        case=case,  # through the relationship, so a new case and its events flush together
        citizen_id=citizen_id,
        service_code=case.service_code if case else service_code,
        channel=channel,
        actor_kind=actor.kind,
        actor_staff_id=actor.staff.id if actor.staff else None,
        data=data or {},
    )
    db_session.add(event)
    return event


def _text(value: str | None, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", {field: "required"})
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{field} is longer than {MAX_TEXT} characters", {field: "too long"})
    return text


def move(
    *,
    db_session: Session,
    case: Case,
    action: str,
    actor: Actor,
    channel: str | None = None,
    reply: str | None = None,
    reason: str | None = None,
    duplicate_of_code: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Move a case to another status; an illegal move raises Conflict and changes nothing."""
    try:
        spec = MOVES[action]
    except KeyError as exc:
        raise InvalidInput(f"unknown action {action!r}", {"action": "unknown"}) from exc
    if case.status not in spec.sources:
        raise Conflict(
            f"case {case.tracking_code} is {case.status.value.replace('_', ' ')}: {spec.hint}"
        )
    now = now or utcnow()
    data: dict[str, Any] = {"from": case.status.value, "to": spec.target.value}
    if action == "reject":
        data["reason"] = _text(reason, "reason", required=True)
    if action == "reopen":
        if reason:  # internal: staff read it on the timeline, the citizen is told only "reopened"
            data["reason"] = _text(reason, "reason", required=False)
        case.duplicate_of = None  # a reopened case is worked on its own again
    if action == "mark_duplicate":
        original = _duplicate_target(
            db_session=db_session, case=case, code=duplicate_of_code, staff=actor.staff
        )
        case.duplicate_of = original
        data["duplicate_of"] = original.tracking_code
    reply_text = _text(reply, "reply", required=False)
    case.status = spec.target
    case.updated_at = now
    if spec.target is CaseStatus.ACKNOWLEDGED and case.acknowledged_at is None:
        case.acknowledged_at = now
    case.closed_at = now if spec.target in CLOSED_STATUSES else None
    record(
        db_session=db_session,
        kind=spec.event,
        actor=actor,
        case=case,
        channel=channel,
        data=data,
        at=now,
    )
    if reply_text:
        record(
            db_session=db_session,
            kind=EventKind.REPLY_SENT,
            actor=actor,
            case=case,
            channel=channel,
            data={"text": reply_text},
            at=now,
        )
    db_session.flush()
    return case


def _duplicate_target(
    *, db_session: Session, case: Case, code: str | None, staff: StaffUser | None
) -> Case:
    """The original a case duplicates: one the staff member may see, and not a circle."""
    if not code:
        raise InvalidInput(
            "give the tracking code of the original case", {"duplicate_of": "required"}
        )
    query = sa.select(Case).where(Case.tracking_code == code.strip().upper())
    if staff is not None:
        # Another department's case does not exist for a caseworker, here as on its page.
        query = query.where(visible_to(staff))
    original = db_session.scalar(query)
    if original is None:
        raise InvalidInput(f"no case with tracking code {code}", {"duplicate_of": "unknown code"})
    if original.id == case.id:
        raise InvalidInput("a case cannot duplicate itself", {"duplicate_of": "same case"})
    seen, step = {original.id}, original.duplicate_of
    while step is not None:
        if step.id == case.id or step.id in seen:
            raise InvalidInput(
                f"{original.tracking_code} is itself a duplicate of {case.tracking_code}",
                {"duplicate_of": "circular"},
            )
        seen.add(step.id)
        step = step.duplicate_of
    return original


def duplicates_of(*, db_session: Session, case: Case) -> list[Case]:
    """The cases closed as duplicates of this one, oldest first."""
    query = sa.select(Case).where(
        Case.duplicate_of_id == case.id, Case.status == CaseStatus.DUPLICATE
    )
    return list(db_session.scalars(query.order_by(Case.created_at, Case.id)))


def assign(
    *,
    db_session: Session,
    case: Case,
    assignee: StaffUser | None,
    actor: Actor,
    now: datetime | None = None,
) -> Case:
    """Give the case to a caseworker of its department (or take it back with None)."""
    if assignee is not None:
        if not assignee.active or assignee.role not in (Role.CASEWORKER, Role.SUPERVISOR):
            raise InvalidInput(
                f"{assignee.email} cannot be assigned cases", {"assignee": "not allowed"}
            )
        if assignee.role is Role.CASEWORKER and assignee.department_id != case.department_id:
            raise InvalidInput(
                f"{assignee.email} works for another department", {"assignee": "other department"}
            )
    now = now or utcnow()
    case.assignee = assignee
    case.updated_at = now
    record(
        db_session=db_session,
        kind=EventKind.ASSIGNED,
        actor=actor,
        case=case,
        at=now,
        data={"assignee": assignee.email if assignee else None},
    )
    db_session.flush()
    return case


def set_priority(
    *,
    db_session: Session,
    case: Case,
    priority: Priority | str,
    actor: Actor,
    now: datetime | None = None,
) -> Case:
    """Change how urgently the case is worked."""
    try:
        priority = Priority(priority)
    except ValueError as exc:
        raise InvalidInput(f"unknown priority {priority!r}", {"priority": "unknown"}) from exc
    now = now or utcnow()
    old, case.priority, case.updated_at = case.priority, priority, now
    record(
        db_session=db_session,
        kind=EventKind.PRIORITY_CHANGED,
        actor=actor,
        case=case,
        at=now,
        data={"from": old.value, "to": priority.value},
    )
    db_session.flush()
    return case


def add_note(
    *, db_session: Session, case: Case, text: str, actor: Actor, now: datetime | None = None
) -> Event:
    """Add an internal note, never shown to the citizen."""
    event = record(
        db_session=db_session,
        kind=EventKind.NOTE_ADDED,
        actor=actor,
        case=case,
        at=now,
        data={"text": _text(text, "note", required=True)},
    )
    db_session.flush()
    return event


def reply(
    *,
    db_session: Session,
    case: Case,
    text: str,
    actor: Actor,
    channel: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Send the citizen a public reply, shown with the case's status."""
    event = record(
        db_session=db_session,
        kind=EventKind.REPLY_SENT,
        actor=actor,
        case=case,
        channel=channel,
        at=now,
        data={"text": _text(text, "reply", required=True)},
    )
    db_session.flush()
    return event


def record_feedback(
    *, db_session: Session, case: Case, score: int, channel: str, now: datetime | None = None
) -> Event:
    """The citizen's satisfaction with a closed case, from 1 (poor) to 5 (excellent)."""
    if not case.is_closed:
        raise Conflict("feedback can be given once the case is closed")
    if not 1 <= int(score) <= 5:
        raise InvalidInput("the score goes from 1 to 5", {"score": "between 1 and 5"})
    event = record(
        db_session=db_session,
        kind=EventKind.FEEDBACK,
        actor=Actor.citizen(),
        case=case,
        channel=channel,
        at=now,
        data={"score": int(score)},
    )
    db_session.flush()
    return event


def visible_to(staff: StaffUser) -> sa.ColumnElement[bool]:
    """The condition on cases that a staff member may see."""
    if staff.sees_all_departments:
        return sa.true()
    return Case.department_id == staff.department_id


def get_for_staff(*, db_session: Session, case_id: int, staff: StaffUser) -> Case:
    """A case the staff member may see; another department's case is reported as not found."""
    if not 0 < case_id <= MAX_ROW_ID:
        raise NotFound(f"no case {case_id}")
    case = db_session.scalar(sa.select(Case).where(Case.id == case_id, visible_to(staff)))
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def get_by_code(*, db_session: Session, code: str) -> Case:
    """A case by its tracking code, as the citizen types it."""
    case = db_session.scalar(sa.select(Case).where(Case.tracking_code == code.strip().upper()))
    if case is None:
        raise NotFound(f"no request with tracking code {code.strip()}")
    return case


def numbered(number: str) -> sa.ColumnElement[bool]:
    """The condition on a case to bear this tracking code or, if imported, this legacy number."""
    number = number.strip()
    imported = sa.select(ImportedRequest.case_id).where(ImportedRequest.legacy_id == number)
    return sa.or_(Case.tracking_code == number.upper(), Case.id.in_(imported))


def find_by_number(*, db_session: Session, number: str, limit: int = 20) -> list[Case]:
    """Cases a caller's number names: a tracking code, or the number an earlier system gave."""
    query = sa.select(Case).where(numbered(number)).order_by(Case.created_at.desc(), Case.id)
    return list(db_session.scalars(query.limit(limit)))


def legacy_numbers(*, db_session: Session, case: Case) -> list[ImportedRequest]:
    """The numbers the case had in the city's earlier systems (one, if it was imported)."""
    query = sa.select(ImportedRequest).where(ImportedRequest.case_id == case.id)
    return list(db_session.scalars(query))


def require_role(staff: StaffUser, *roles: Role) -> None:
    """Raise Forbidden unless the staff member has one of the roles."""
    if staff.role not in roles:
        raise Forbidden("your role does not allow this")


PRIORITY_RANK = sa.case(
    {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3},
    value=Case.priority,
    else_=4,
)
# The queue's orders; the id last, so that a page never repeats or skips a case.
SORTS: dict[str, tuple[sa.ColumnElement[Any], ...]] = {
    "urgency": (PRIORITY_RANK, Case.due_at, Case.id),
    "due": (Case.due_at, Case.id),
    "newest": (Case.created_at.desc(), Case.id.desc()),
    "oldest": (Case.created_at, Case.id),
    "updated": (Case.updated_at.desc(), Case.id.desc()),
}


def queue_query(
    *, db_session: Session, staff: StaffUser, filters: QueueFilter, now: datetime | None = None
) -> sa.Select[tuple[Case]]:
    """The cases a staff member may see that match the filters, unordered."""
    now = now or utcnow()
    query = sa.select(Case).where(visible_to(staff))
    if filters.status is not None:
        query = query.where(Case.status == filters.status)
    if filters.open_only:
        query = query.where(Case.status.in_(OPEN))
    if filters.service_code:
        query = query.where(Case.service_code == filters.service_code)
    if filters.department_id is not None:
        query = query.where(Case.department_id == filters.department_id)
    if filters.assignee_id is not None:
        query = query.where(Case.assignee_id == filters.assignee_id)
    if filters.since is not None:
        query = query.where(Case.created_at >= filters.since)
    if filters.number:
        query = query.where(numbered(filters.number))
    if filters.text and search.terms(filters.text):
        dialect = db_session.get_bind().dialect.name
        query = query.where(search.matching(filters.text, dialect=dialect))
    if filters.sla_breached is not None:
        breached = sa.func.coalesce(Case.closed_at, now) > Case.due_at
        query = query.where(breached if filters.sla_breached else sa.not_(breached))
    return query


def queue(
    *,
    db_session: Session,
    staff: StaffUser,
    filters: QueueFilter,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], int]:
    """The cases a staff member may see, filtered and sorted (most urgent first), and a count."""
    query = queue_query(db_session=db_session, staff=staff, filters=filters, now=now)
    total = db_session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    order = SORTS.get(filters.sort, SORTS["urgency"])
    rows = db_session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def located(
    *, db_session: Session, staff: StaffUser, filters: QueueFilter, limit: int = 2000
) -> list[Case]:
    """The cases of the filtered queue that have a point on the map, in the queue's order."""
    query = queue_query(db_session=db_session, staff=staff, filters=filters)
    order = SORTS.get(filters.sort, SORTS["urgency"])
    query = query.where(Case.lat.is_not(None), Case.long.is_not(None)).order_by(*order)
    return list(db_session.scalars(query.limit(limit)))


def queue_rows(
    *, db_session: Session, staff: StaffUser, filters: QueueFilter, batch: int = 500
) -> Iterator[Case]:
    """Every case of the filtered queue in its order, read a batch at a time (for exports)."""
    query = queue_query(db_session=db_session, staff=staff, filters=filters)
    order = SORTS.get(filters.sort, SORTS["urgency"])
    yield from db_session.scalars(query.order_by(*order).execution_options(yield_per=batch))


def timeline(*, db_session: Session, case: Case, public_only: bool = False) -> list[Event]:
    """The case's events in order; the public view leaves out internal notes and staff names."""
    query = sa.select(Event).where(Event.case_id == case.id).order_by(Event.at, Event.id)
    if public_only:
        query = query.where(Event.kind.in_(PUBLIC_EVENTS))
    return list(db_session.scalars(query))


PUBLIC_EVENTS = frozenset(
    {
        EventKind.SUBMITTED,
        EventKind.ACKNOWLEDGED,
        EventKind.STARTED,
        EventKind.RESOLVED,
        EventKind.REJECTED,
        EventKind.MARKED_DUPLICATE,
        EventKind.REOPENED,
        EventKind.REPLY_SENT,
        EventKind.MESSAGE_RECEIVED,
        EventKind.FEEDBACK,
    }
)


def citizen_history(*, db_session: Session, citizen_id: int) -> list[Event]:
    """Everything the archive holds about a citizen: their cases' events and profile events."""
    on_their_cases = sa.select(Case.id).where(Case.citizen_id == citizen_id)
    query = (
        sa.select(Event)
        .where(sa.or_(Event.case_id.in_(on_their_cases), Event.citizen_id == citizen_id))
        .order_by(Event.at, Event.id)
    )
    return list(db_session.scalars(query))


def citizen_cases(*, db_session: Session, citizen_id: int) -> list[Case]:
    """A citizen's cases, newest first."""
    query = sa.select(Case).where(Case.citizen_id == citizen_id).order_by(Case.created_at.desc())
    return list(db_session.scalars(query))


@dataclass
class SlaRow:
    """SLA figures of one department and service."""

    department: str
    service_code: str
    open: int
    open_overdue: int
    closed: int
    closed_within_sla: int

    @property
    def compliance(self) -> float | None:
        """Share of closed cases closed in time, or None before any is closed."""
        return self.closed_within_sla / self.closed if self.closed else None


def sla_overview(
    *, db_session: Session, staff: StaffUser, now: datetime | None = None
) -> list[SlaRow]:
    """Open, overdue and in-time figures per department and service, aggregated in SQL."""
    from node.staff.models import Department

    now = now or utcnow()
    is_open = Case.status.in_(OPEN)
    query = (
        sa.select(
            Department.name,
            Case.service_code,
            sa.func.count().filter(is_open),
            sa.func.count().filter(is_open, Case.due_at < now),
            sa.func.count().filter(sa.not_(is_open)),
            sa.func.count().filter(sa.not_(is_open), Case.closed_at <= Case.due_at),
        )
        .join(Department, Department.id == Case.department_id)
        .where(visible_to(staff))
        .group_by(Department.name, Case.service_code)
        .order_by(Department.name, Case.service_code)
    )
    return [SlaRow(*row) for row in db_session.execute(query)]
