"""A case's life in the back office, and the archive it leaves behind."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from node.cases import service as cases
from node.cases.models import CaseStatus, Event, EventKind
from node.cases.schemas import Actor, QueueFilter
from node.errors import Conflict, InvalidInput, NotFound
from tests.factories import make_case, make_citizen, make_staff


def test_a_case_moves_from_new_to_resolved_and_every_step_is_archived(db_session):
    citizen = make_citizen(db_session)
    worker = make_staff(db_session)
    case = make_case(db_session, citizen=citizen)
    actor = Actor.of_staff(worker)
    cases.move(db_session=db_session, case=case, action="acknowledge", actor=actor)
    cases.assign(db_session=db_session, case=case, assignee=worker, actor=actor)
    cases.move(db_session=db_session, case=case, action="start", actor=actor)
    cases.add_note(db_session=db_session, case=case, text="Called the venue owner", actor=actor)
    cases.move(
        db_session=db_session,
        case=case,
        action="resolve",
        actor=actor,
        reply="The venue now closes at 23:00.",
    )
    db_session.commit()

    assert case.status is CaseStatus.RESOLVED
    kinds = [e.kind for e in cases.timeline(db_session=db_session, case=case)]
    assert kinds == [
        EventKind.SUBMITTED,
        EventKind.ROUTED,
        EventKind.ACKNOWLEDGED,
        EventKind.ASSIGNED,
        EventKind.STARTED,
        EventKind.NOTE_ADDED,
        EventKind.RESOLVED,
        EventKind.REPLY_SENT,
    ]
    public = cases.timeline(db_session=db_session, case=case, public_only=True)
    assert EventKind.NOTE_ADDED not in [e.kind for e in public]
    assert public[-1].data["text"] == "The venue now closes at 23:00."
    history = cases.citizen_history(db_session=db_session, citizen_id=citizen.id)
    assert {e.kind for e in history} >= {EventKind.PROFILE_CREATED, EventKind.RESOLVED}


def test_a_new_case_cannot_be_resolved_before_it_is_acknowledged(db_session):
    case = make_case(db_session)
    with pytest.raises(Conflict, match="acknowledge the case before resolving it"):
        cases.move(db_session=db_session, case=case, action="resolve", actor=Actor.system())
    assert case.status is CaseStatus.NEW
    assert [e.kind for e in cases.timeline(db_session=db_session, case=case)] == [
        EventKind.SUBMITTED,
        EventKind.ROUTED,
    ]


def test_a_closed_case_can_be_reopened(db_session):
    case = make_case(db_session)
    for action in ("acknowledge", "resolve", "reopen"):
        cases.move(db_session=db_session, case=case, action=action, actor=Actor.system())
    assert case.status is CaseStatus.ACKNOWLEDGED
    assert case.closed_at is None


def test_a_duplicate_points_to_its_original(db_session):
    original, copy = make_case(db_session), make_case(db_session)
    cases.move(
        db_session=db_session,
        case=copy,
        action="mark_duplicate",
        actor=Actor.system(),
        duplicate_of_code=original.tracking_code.lower(),
    )
    assert copy.status is CaseStatus.DUPLICATE
    assert copy.duplicate_of is original
    with pytest.raises(InvalidInput):
        cases.move(
            db_session=db_session,
            case=original,
            action="mark_duplicate",
            actor=Actor.system(),
            duplicate_of_code="BO-NOSUCH",
        )


def test_rejecting_needs_a_reason(db_session):
    case = make_case(db_session)
    with pytest.raises(InvalidInput, match="reason is required"):
        cases.move(db_session=db_session, case=case, action="reject", actor=Actor.system())
    assert case.status is CaseStatus.NEW


def test_caseworkers_see_only_their_departments_cases(db_session):
    noise = make_case(db_session)
    works = make_case(db_session, attributes={"source": "works"})
    environment = make_staff(db_session, department="environment")
    supervisor = make_staff(db_session, role="supervisor")
    assert noise.department.code == "environment"
    assert works.department.code == "building-control"
    with pytest.raises(NotFound):
        cases.get_for_staff(db_session=db_session, case_id=works.id, staff=environment)
    seen, total = cases.queue(db_session=db_session, staff=environment, filters=QueueFilter())
    assert (seen, total) == ([noise], 1)
    _, everyone = cases.queue(db_session=db_session, staff=supervisor, filters=QueueFilter())
    assert everyone == 2


def test_the_queue_finds_cases_past_their_sla(db_session):
    late = make_case(db_session)
    make_case(db_session)
    supervisor = make_staff(db_session, role="supervisor")
    later = late.due_at + timedelta(minutes=1)
    found, _ = cases.queue(
        db_session=db_session, staff=supervisor, filters=QueueFilter(sla_breached=True), now=later
    )
    assert late in found
    rows = cases.sla_overview(db_session=db_session, staff=supervisor, now=later)
    assert [(r.service_code, r.open, r.open_overdue) for r in rows] == [("noise-report", 2, 2)]


def test_the_archive_refuses_changes_to_an_event(db_session):
    make_case(db_session)
    db_session.commit()
    event = db_session.scalars(sa.select(Event)).first()
    event.data = {"forged": True}
    with pytest.raises(RuntimeError, match="archive"):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db_session.execute(sa.text("UPDATE events SET kind = 'resolved'"))
