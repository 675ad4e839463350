"""The bulk of a simulated pilot, written below the channel adapters in batches.

A city's real population uses its services by the thousand each month; one HTTP request per
use would take hours. The channels are exercised over HTTP a few times per city and month (see
`carmen.simulator`); the rest of the volume goes through the node's own lower layers, as a city
bringing its existing database would: citizens with their segments and a `profile_created`
event each; cases with the events intake, the staff's moves and the citizen's feedback write
(through the legacy import's bulk writer, with the citizen linked); first alert subscriptions
and consultation participations with the rows and events those services write. The event log,
the snapshots and everything after them are the node's real ones.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import AgeBand
from node.alerts.models import AlertSubscription
from node.cases.models import ActorKind, CaseStatus, Event, EventKind
from node.consultations.models import Consultation, Participation, TallyCount
from node.intake.import_rows import Catalogue
from node.intake.import_writers import _EVENT_COLUMNS, BulkWriter, _insert_sql
from node.intake.service import Routing
from node.profiles.models import Citizen, CitizenSegment
from node.profiles.service import segments_of


@dataclass
class NewCitizen:
    """A simulated person to register: what their profile says."""

    name: str
    email: str
    phone: str | None
    birth_year: int
    preferred_channel: str
    language: str
    district: str | None


def register_citizens(*, db_session: Session, people: list[NewCitizen], now: datetime) -> list[int]:
    """Profiles in one batch, each in its rule-based segments and with its archive event;
    returns their ids in order.

    The same rows `profiles.service.create_citizen` writes, without its one-by-one checks: the
    simulator makes every contact unique itself.
    """
    if not people:
        return []
    rows = [
        {
            "name": p.name,
            "email": p.email,
            "phone": p.phone,
            "birth_year": p.birth_year,
            "preferred_channel": p.preferred_channel,
            "language": p.language,
            "district": p.district,
            "created_at": now,
            "updated_at": now,
        }
        for p in people
    ]
    ids = list(
        db_session.scalars(
            sa.insert(Citizen).returning(Citizen.id, sort_by_parameter_order=True), rows
        )
    )
    segments = []
    for person, citizen_id in zip(people, ids, strict=True):
        profile = Citizen(
            birth_year=person.birth_year,
            preferred_channel=person.preferred_channel,
            district=person.district,
        )
        segments += [
            {"citizen_id": citizen_id, "kind": kind, "value": value, "assigned_at": now}
            for kind, value in segments_of(profile, now).items()
        ]
    db_session.execute(sa.insert(CitizenSegment), segments)
    _events(
        db_session,
        [
            {"kind": EventKind.PROFILE_CREATED, "citizen_id": citizen_id, "at": now}
            for citizen_id in ids
        ],
    )
    return ids


def _events(db_session: Session, rows: list[dict[str, Any]]) -> None:
    """Append events to the archive in one batch (as `cases.service.record` writes each)."""
    defaults = {
        "case_id": None,
        "citizen_id": None,
        "service_code": None,
        "channel": None,
        "actor_kind": ActorKind.CITIZEN,
        "actor_staff_id": None,
        "data": {},
    }
    if rows:
        db_session.execute(sa.insert(Event), [defaults | row for row in rows])


@dataclass
class NewSubscription:
    """A citizen subscribing to alerts: what `alerts.service.subscribe` is given."""

    citizen_id: int
    delivery: str  # the channel alerts go out on
    via: str  # the channel the citizen asked through
    topics: list[str]
    areas: list[str]
    at: datetime


def subscribe_citizens(
    *, db_session: Session, service_code: str, subscriptions: list[NewSubscription]
) -> None:
    """First subscriptions of citizens to an alert service, in one batch (the rows and events
    `alerts.service.subscribe` writes for a citizen who had none on that channel)."""
    if not subscriptions:
        return
    db_session.execute(
        sa.insert(AlertSubscription),
        [
            {
                "service_code": service_code,
                "citizen_id": s.citizen_id,
                "channel": s.delivery,
                "topics": s.topics,
                "areas": s.areas,
                "active": True,
                "created_at": s.at,
                "updated_at": s.at,
            }
            for s in subscriptions
        ],
    )
    _events(
        db_session,
        [
            {
                "kind": EventKind.SUBSCRIBED,
                "citizen_id": s.citizen_id,
                "service_code": service_code,
                "channel": s.via,
                "at": s.at,
                "data": {"delivery": s.delivery, "topics": s.topics, "areas": s.areas},
            }
            for s in subscriptions
        ],
    )


def record_participations(
    *,
    db_session: Session,
    consultation: Consultation,
    answers: list[tuple[int, str, datetime]],
    channel: str,
) -> None:
    """Participations of citizens who have not taken part yet, in one batch: the register, the
    tally and the events `consultations.service.participate` writes for each."""
    if not answers:
        return
    db_session.execute(
        sa.insert(Participation),
        [
            {"consultation_id": consultation.id, "citizen_id": citizen_id, "channel": channel}
            for citizen_id, _, _ in answers
        ],
    )
    votes: dict[str, int] = {}
    for _, option, _ in answers:
        votes[option] = votes.get(option, 0) + 1
    for option, count in votes.items():
        db_session.execute(
            sa.update(TallyCount)
            .where(TallyCount.consultation_id == consultation.id, TallyCount.option == option)
            .values(count=TallyCount.count + count)
        )
    _events(
        db_session,
        [
            {
                "kind": EventKind.PARTICIPATED,
                "citizen_id": citizen_id,
                "service_code": consultation.service_code,
                "channel": channel,
                "at": at,
            }
            for citizen_id, _, at in answers
        ],
    )


@dataclass
class WorkedRequest:
    """One request of a pilot and how the city's staff worked it; None: not (yet) done."""

    service_code: str
    channel: str
    citizen_id: int
    band: AgeBand
    description: str
    attributes: dict[str, Any]
    opened: datetime
    routing: Routing
    staff_id: int | None
    acknowledged: datetime | None = None
    closed: datetime | None = None
    rejected: bool = False
    feedback: tuple[datetime, int] | None = None


class PilotWriter(BulkWriter):
    """Cases of a simulated pilot, a batch at a time, with their citizens and staff's work.

    The legacy import's bulk writer (the same rows `intake.submit` writes, checked against it by
    the import's tests) with what a live pilot adds: the citizen of each case, the staff's
    acknowledgement and closing, and the citizen's feedback.
    """

    def __init__(self, *, db_session: Session, prefix: str, language: str, now: datetime):
        super().__init__(
            db_session=db_session, known=Catalogue(db_session), mapping=None, prefix=prefix, now=now
        )
        self.language = language
        mark = "?" if db_session.connection().dialect.paramstyle == "qmark" else "%s"
        self.case_sql = _insert_sql("cases", _PILOT_CASE_COLUMNS, mark)
        self.event_sql = _insert_sql("events", (*_EVENT_COLUMNS, "actor_staff_id"), mark)

    def write_pilot(self, requests: list[WorkedRequest]) -> None:
        """Insert the cases and every event of their life so far."""
        if not requests:
            return
        when = self._when
        codes = self._tracking_codes(len(requests))
        rows, departments = [], []
        for request, code in zip(requests, codes, strict=True):
            department = request.routing.department
            departments.append(department)
            status = CaseStatus.NEW
            if request.closed is not None:
                status = CaseStatus.REJECTED if request.rejected else CaseStatus.RESOLVED
            elif request.acknowledged is not None:
                status = CaseStatus.ACKNOWLEDGED
            latest = request.closed or request.acknowledged or request.opened
            rows.append(
                (
                    code,
                    request.service_code,
                    request.channel,
                    status.value,
                    request.routing.priority.value,
                    self.known.department_id(department),
                    request.citizen_id,
                    request.description,
                    self._json_of(request.attributes),
                    self.language,
                    when(request.opened + timedelta(hours=request.routing.sla_hours)),
                    when(request.opened),
                    when(latest),
                    when(request.acknowledged),
                    when(request.closed),
                )
            )
        connection = self.db_session.connection()
        connection.exec_driver_sql(self.case_sql, rows)
        case_ids = self._case_ids(codes)
        citizen, system, staff = (
            k.value for k in (ActorKind.CITIZEN, ActorKind.SYSTEM, ActorKind.STAFF)
        )
        on_behalf = self._json_of({"on_behalf": False, "organisation": False})
        events = []
        for request, case_id, department in zip(requests, case_ids, departments, strict=True):
            code, channel = request.service_code, request.channel
            opened = when(request.opened)
            events.append(
                (
                    opened,
                    EventKind.SUBMITTED.value,
                    case_id,
                    code,
                    channel,
                    citizen,
                    on_behalf,
                    None,
                )
            )
            routing = request.routing
            routed = self._json_of(
                {"department": department}
                | (
                    {"priority": routing.priority.value, "sla_hours": routing.sla_hours}
                    if routing.rules
                    else {}
                )
                | ({"alert": True} if routing.alert else {})
            )
            events.append(
                (opened, EventKind.ROUTED.value, case_id, code, None, system, routed, None)
            )
            if request.acknowledged is None:
                continue
            moved = self._json_of({"from": "new", "to": "acknowledged"})
            events.append(
                (
                    when(request.acknowledged),
                    EventKind.ACKNOWLEDGED.value,
                    case_id,
                    code,
                    None,
                    staff,
                    moved,
                    request.staff_id,
                )
            )
            if request.closed is None:
                continue
            kind, data = EventKind.RESOLVED, {"from": "acknowledged", "to": "resolved"}
            if request.rejected:
                kind = EventKind.REJECTED
                data = {"from": "acknowledged", "to": "rejected", "reason": REJECTED}
            closed = when(request.closed)
            events.append(
                (
                    closed,
                    kind.value,
                    case_id,
                    code,
                    None,
                    staff,
                    self._json_of(data),
                    request.staff_id,
                )
            )
            if not request.rejected:
                reply = self._json_of({"text": REPLY})
                events.append(
                    (
                        closed,
                        EventKind.REPLY_SENT.value,
                        case_id,
                        code,
                        None,
                        staff,
                        reply,
                        request.staff_id,
                    )
                )
            if request.feedback is not None:
                at, score = request.feedback
                scored = self._json_of({"score": score})
                events.append(
                    (
                        when(at),
                        EventKind.FEEDBACK.value,
                        case_id,
                        code,
                        channel,
                        citizen,
                        scored,
                        None,
                    )
                )
        connection.exec_driver_sql(self.event_sql, events)


REJECTED = "Outside the city's remit"
REPLY = "Done: thank you for telling us."
_PILOT_CASE_COLUMNS = (
    "tracking_code",
    "service_code",
    "channel",
    "status",
    "priority",
    "department_id",
    "citizen_id",
    "description",
    "attributes",
    "language",
    "due_at",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "closed_at",
)


def run_token() -> str:
    """A token that keeps a later run's contacts apart from an earlier one's."""
    return secrets.token_hex(3)
