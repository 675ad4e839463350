"""Redaction: the one change the archive allows, taking a person's words out of their events.

An event's payload may hold what a person wrote or what was written about them (a message's
text and subject, a note, a reason, an answer). Erasure must remove it, yet the archive stays
the single source of the counts: a redacted event keeps its kind, time, case, service, channel
and actor, and of its payload only the facts below (statuses, codes, ids, numbers). The new
payload carries the mark `redacted` (the id of the redaction event listing it), which is what
the database's append-only trigger lets through (migration 0010); the ORM still refuses every
other change.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import utcnow

MARK = "redacted"
ERASED_TEXT = "[erased]"
# Payload keys whose values the node itself chose (a status, a code, an id, a count, a
# staff account): nothing a person wrote. Every other key goes in a redaction.
FACTS = frozenset(
    {
        "from",
        "to",
        "duplicate_of",
        "department",
        "assignee",
        "score",
        "on_behalf",
        "organisation",
        "attempt",
        "about",
        "notification",
        "final",
        "permanent",
        "adapter",
        "bounce",
        "outcome",
        "archive",
        "automatic",
        "action",
        "status",
        "receipt",
        "delivery",
        "topics",
        "areas",
        "booking",
        "office",
        "slots",
        "fields",
        "verified",
        "claimed_cases",
        "sms_opt_out",
        "cases_unlinked",
        "consent_contact",
        "consent_profiling",
        "charsets",
        "question",
        "totals",
        "participations",
    }
)


def scrub(value: Any, needles: list[str]) -> Any:
    """A value with every occurrence of the needles replaced, at any depth."""
    if isinstance(value, str):
        for needle in needles:
            value = re.sub(re.escape(needle), ERASED_TEXT, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, needles) for k, v in value.items()}
    return value


def redacted_payload(data: dict[str, Any], needles: list[str], mark: int) -> dict[str, Any]:
    """The facts of a payload, without the needles, and the redaction's mark."""
    kept = {k: scrub(v, needles) for k, v in (data or {}).items() if k in FACTS}
    return kept | {MARK: mark}


def events_naming(*, db_session: Session, needles: list[str]) -> list[int]:
    """Ids of the events whose payload writes one of the needles (any case, any person)."""
    needles = [n for n in needles if n]
    if not needles:
        return []
    text = sa.cast(Event.data, sa.Text)
    query = sa.select(Event.id).where(sa.or_(*(text.ilike(f"%{n}%") for n in needles)))
    return list(db_session.scalars(query))


def redact(
    *,
    db_session: Session,
    event_ids: Iterable[int],
    actor: Actor,
    needles: list[str] | None = None,
    citizen_id: int | None = None,
    now: datetime | None = None,
) -> Event | None:
    """Rewrite these events' payloads to their facts, recorded as one redaction event.

    The redaction event is the ledger: which events, when and by whom, never what they said.
    Returns it, or None when there was nothing to redact.
    """
    ids = sorted(set(event_ids))
    if not ids:
        return None
    ledger = record(
        db_session=db_session,
        kind=EventKind.EVENTS_REDACTED,
        actor=actor,
        citizen_id=citizen_id,
        at=now or utcnow(),
        data={"events": ids},
    )
    db_session.flush()
    table = Event.__table__
    rows = db_session.execute(sa.select(table.c.id, table.c.data).where(table.c.id.in_(ids)))
    changes = [
        {"event_id": event_id, "data": redacted_payload(data, needles or [], ledger.id)}
        for event_id, data in rows
    ]
    # Through the table, not the ORM: the mapper refuses to change an event, on purpose.
    db_session.execute(table.update().where(table.c.id == sa.bindparam("event_id")), changes)
    for event in list(db_session.identity_map.values()):
        if isinstance(event, Event) and event.id in ids:
            db_session.expire(event, ["data"])
    return ledger
