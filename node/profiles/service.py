"""Personal and group profiles: create and change citizens, their segments, export and erasure."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import CHANNEL_FAMILY, AgeBand, Channel, ChannelFamily, age_band
from node.cases.models import Case, Event, EventKind
from node.cases.redaction import events_naming, redact, scrub
from node.cases.schemas import Actor
from node.cases.service import PUBLIC_EVENTS, record
from node.database import after_commit, empty_journal, savepoint, utcnow
from node.errors import InvalidInput, NotFound
from node.hooks import Hook
from node.profiles.models import (
    Citizen,
    CitizenSegment,
    ContactVerification,
    Organisation,
    SegmentDefinition,
    SegmentKind,
)
from node.profiles.schemas import PROFILE_FIELDS, CitizenData, OrganisationData

ERASING = Hook("a citizen is being erased: forget what else the node keeps about them")
EXPORTING = Hook("a citizen's data is exported: add what else the node keeps about them")
# Around the moment erasure cuts a person's cases and segments from them, so that what was
# counted of them stays counted (node/sync connects both).
UNLINKING = Hook("a citizen's cases and segments are about to be cut from them")
UNLINKED = Hook("a citizen's cases and segments were cut from them")


def validation_error(exc: ValidationError) -> InvalidInput:
    """Turn a pydantic error into InvalidInput with one message per field."""
    fields = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        fields.setdefault(field, error["msg"].removeprefix("Value error, "))
    name, message = next(iter(fields.items()))
    return InvalidInput(f"{name}: {message}", fields)


def parse_citizen(values: dict[str, Any], *, default_region: str | None = None) -> CitizenData:
    """Validate profile input, raising InvalidInput naming each wrong field."""
    try:
        return CitizenData.model_validate({**values, "default_region": default_region})
    except ValidationError as exc:
        raise validation_error(exc) from exc


def seed_segment_definitions(*, db_session: Session, districts: list[str]) -> None:
    """Define the group profiles: age bands, channel families and the city's districts."""
    wanted = [(SegmentKind.AGE_BAND, band.value, f"Age {band.value}") for band in AgeBand]
    wanted += [
        (SegmentKind.CHANNEL_FAMILY, family.value, f"Prefers {family.value} channels")
        for family in ChannelFamily
        if family is not ChannelFamily.INTERNAL  # no citizen prefers a channel of staff
    ]
    wanted += [(SegmentKind.DISTRICT, district, district) for district in districts]
    existing = set(db_session.execute(sa.select(SegmentDefinition.kind, SegmentDefinition.value)))
    for kind, value, label in wanted:
        if (kind, value) not in existing:
            db_session.add(SegmentDefinition(kind=kind, value=value, label=label))
    db_session.flush()


def segments_of(citizen: Citizen, now: datetime) -> dict[SegmentKind, str]:
    """The rule-based segments a citizen falls into now."""
    age = now.year - citizen.birth_year if citizen.birth_year else None
    found = {
        SegmentKind.AGE_BAND: age_band(age).value,
        SegmentKind.CHANNEL_FAMILY: CHANNEL_FAMILY[Channel(citizen.preferred_channel)].value,
    }
    if citizen.district:
        found[SegmentKind.DISTRICT] = citizen.district
    return found


def recompute_segments(
    *, db_session: Session, citizen: Citizen, now: datetime | None = None
) -> None:
    """Bring a citizen's rule-based segments in line with their profile; learned ones stay."""
    now = now or utcnow()
    wanted = segments_of(citizen, now) if citizen.erased_at is None else {}
    current = {s.kind: s for s in citizen.segments}
    for kind, segment in current.items():
        if kind is SegmentKind.USAGE and citizen.consent_profiling and citizen.erased_at is None:
            continue
        if kind not in wanted:
            citizen.segments.remove(segment)
    for kind, value in wanted.items():
        if kind in current and current[kind].value == value:
            continue
        if kind in current:
            current[kind].value, current[kind].assigned_at = value, now
        else:
            citizen.segments.append(CitizenSegment(kind=kind, value=value, assigned_at=now))
    db_session.flush()


def _check_unique(db_session: Session, data: CitizenData, citizen_id: int | None) -> None:
    for field in ("email", "phone"):
        value = getattr(data, field)
        if value is None:
            continue
        column = getattr(Citizen, field)
        taken = db_session.scalar(
            sa.select(Citizen.id).where(column == value, Citizen.id != citizen_id)
        )
        if taken:
            raise InvalidInput(
                f"another profile already uses this {field}", {field: "already used"}
            )


def create_citizen(
    *,
    db_session: Session,
    data: CitizenData,
    actor: Actor,
    password_hash: str | None = None,
    channel: str | None = None,
    now: datetime | None = None,
) -> Citizen:
    """Create a personal profile and put the citizen in their segments."""
    _check_unique(db_session, data, None)
    now = now or utcnow()
    citizen = Citizen(
        **data.model_dump(include=set(PROFILE_FIELDS)),
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    citizen.preferred_channel = data.preferred_channel.value
    db_session.add(citizen)
    db_session.flush()
    recompute_segments(db_session=db_session, citizen=citizen, now=now)
    record(
        db_session=db_session,
        kind=EventKind.PROFILE_CREATED,
        actor=actor,
        citizen_id=citizen.id,
        channel=channel,
        at=now,
    )
    db_session.flush()
    return citizen


def update_citizen(
    *,
    db_session: Session,
    citizen: Citizen,
    data: CitizenData,
    actor: Actor,
    channel: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Change a profile; returns the changed field names (the events name fields, not values)."""
    if citizen.erased_at is not None:
        raise NotFound("this profile was erased")
    _check_unique(db_session, data, citizen.id)
    now = now or utcnow()
    new = data.model_dump(include=set(PROFILE_FIELDS), mode="json")
    changed = [field for field in PROFILE_FIELDS if getattr(citizen, field) != new[field]]
    if not changed:
        return []
    for field in changed:
        setattr(citizen, field, new[field])
    citizen.updated_at = now
    recompute_segments(db_session=db_session, citizen=citizen, now=now)
    consent = {f: getattr(citizen, f) for f in changed if f.startswith("consent_")}
    other = [f for f in changed if not f.startswith("consent_")]
    # A consent's new value is the event's news; other fields are named, their values not kept.
    told = {
        EventKind.PROFILE_UPDATED: {"fields": other} if other else {},
        EventKind.CONSENT_CHANGED: consent,
    }
    for kind, data in told.items():
        if data:
            record(
                db_session=db_session,
                kind=kind,
                actor=actor,
                citizen_id=citizen.id,
                channel=channel,
                at=now,
                data=data,
            )
    db_session.flush()
    return changed


def get_citizen(*, db_session: Session, citizen_id: int) -> Citizen:
    """A citizen's profile by id; erased profiles are not found."""
    citizen = db_session.get(Citizen, citizen_id)
    if citizen is None or citizen.erased_at is not None:
        raise NotFound(f"no citizen {citizen_id}")
    return citizen


def find_by_contact(
    *, db_session: Session, email: str | None = None, phone: str | None = None
) -> Citizen | None:
    """The live profile with this e-mail or E.164 phone number."""
    if email:
        return db_session.scalar(
            sa.select(Citizen).where(
                Citizen.email == email.strip().lower(), Citizen.erased_at.is_(None)
            )
        )
    if phone:
        return db_session.scalar(
            sa.select(Citizen).where(Citizen.phone == phone, Citizen.erased_at.is_(None))
        )
    return None


def search(
    *, db_session: Session, text: str, default_region: str | None = None, limit: int = 20
) -> list[Citizen]:
    """Find callers by phone, e-mail or part of the name, as an agent types it."""
    text = text.strip()
    if not text:
        return []
    conditions = [Citizen.name.ilike(f"%{text}%"), Citizen.email == text.lower()]
    try:
        from node.profiles.schemas import normalise_phone

        conditions.append(Citizen.phone == normalise_phone(text, default_region))
    except ValueError:
        pass
    query = (
        sa.select(Citizen)
        .where(sa.or_(*conditions), Citizen.erased_at.is_(None))
        .order_by(Citizen.name)
        .limit(limit)
    )
    return list(db_session.scalars(query))


def create_organisation(
    *, db_session: Session, data: OrganisationData, contact: Citizen | None
) -> Organisation:
    """Register a business, SME or association with its contact person."""
    organisation = Organisation(**data.model_dump(), contact=contact)
    db_session.add(organisation)
    db_session.flush()
    return organisation


def _event_json(event: Event) -> dict[str, Any]:
    # Consent changes are the person's own choices: the export shows their values.
    shown = event.kind in PUBLIC_EVENTS or event.kind is EventKind.CONSENT_CHANGED
    return {
        "at": event.at.isoformat(),
        "kind": event.kind.value,
        "channel": event.channel,
        "data": event.data if shown else {},
    }


def find_subjects(
    *,
    db_session: Session,
    email: str | None = None,
    phone: str | None = None,
    default_region: str | None = None,
) -> list[Citizen]:
    """Every live profile, with or without an account, that a data subject's contact names."""
    conditions = []
    if (email or "").strip():
        conditions.append(Citizen.email == email.strip().lower())
    if (phone or "").strip():
        try:
            from node.profiles.schemas import normalise_phone

            conditions.append(Citizen.phone == normalise_phone(phone, default_region))
        except ValueError as exc:
            raise InvalidInput(str(exc), {"phone": "not a phone number"}) from exc
    if not conditions:
        raise InvalidInput("give an e-mail or a phone number", {"email": "required"})
    query = sa.select(Citizen).where(sa.or_(*conditions), Citizen.erased_at.is_(None))
    return list(db_session.scalars(query.order_by(Citizen.id)))


def _needles(citizen: Citizen) -> list[str]:
    """How the person's name and contacts may be written in their requests' texts."""
    found = [v for v in (citizen.name, citizen.email) if v and len(v) >= 3]
    if citizen.phone:
        digits = citizen.phone.lstrip("+")
        national = digits[2:] if citizen.phone.startswith("+39") else digits
        found += [citizen.phone, digits, national]
        found.append(" ".join([national[:3], national[3:6], national[6:]]).strip())
    return sorted(set(found), key=len, reverse=True)


def export_citizen(
    *, db_session: Session, citizen_id: int, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the node holds about a citizen, as JSON-ready data (right of access)."""
    citizen = get_citizen(db_session=db_session, citizen_id=citizen_id)
    cases = db_session.scalars(
        sa.select(Case).where(Case.citizen_id == citizen.id).order_by(Case.created_at)
    ).all()
    case_events: dict[int, list[Event]] = {}
    for event in db_session.scalars(
        sa.select(Event)
        .where(Event.case_id.in_([c.id for c in cases]))
        .order_by(Event.at, Event.id)
    ):
        case_events.setdefault(event.case_id, []).append(event)
    organisations = db_session.scalars(
        sa.select(Organisation).where(Organisation.contact_id == citizen.id)
    ).all()
    profile_events = db_session.scalars(
        sa.select(Event).where(Event.citizen_id == citizen.id).order_by(Event.at, Event.id)
    ).all()
    exported = {
        "profile": {field: getattr(citizen, field) for field in PROFILE_FIELDS}
        | {"sms_opt_out": citizen.sms_opt_out, "created_at": citizen.created_at.isoformat()},
        "segments": {s.kind.value: s.value for s in citizen.segments},
        "organisations": [
            {"name": o.name, "kind": o.kind, "email": o.email, "phone": o.phone}
            for o in organisations
        ],
        "cases": [
            {
                "tracking_code": case.tracking_code,
                "service": case.service_code,
                "channel": case.channel,
                "status": case.status.value,
                "description": case.description,
                "address": case.address,
                "attributes": case.attributes,
                "created_at": case.created_at.isoformat(),
                "events": [_event_json(e) for e in case_events.get(case.id, [])],
            }
            for case in cases
        ],
        "profile_events": [_event_json(e) for e in profile_events],
        "consent": {
            "contact": citizen.consent_contact,
            "profiling": citizen.consent_profiling,
            "history": [
                _event_json(e) for e in profile_events if e.kind is EventKind.CONSENT_CHANGED
            ],
        },
        "account": bool(citizen.password_hash),
    }
    EXPORTING(db_session=db_session, citizen_id=citizen.id, into=exported)
    record(
        db_session=db_session,
        kind=EventKind.DATA_EXPORTED,
        actor=actor,
        citizen_id=citizen.id,
        at=now,
    )
    db_session.flush()
    return exported


def erase_citizen(
    *, db_session: Session, citizen_id: int, actor: Actor, now: datetime | None = None
) -> int:
    """Erase a citizen (right to erasure): personal fields go, cases stay without the link.

    Returns the number of cases unlinked. The profile row stays as an empty tombstone so the
    erasure event has something to point to; it holds no personal data. Their events keep only
    their facts (node/cases/redaction.py), and the counts made of them stay as they were.
    """
    citizen = get_citizen(db_session=db_session, citizen_id=citizen_id)
    now = now or utcnow()
    # Their own words may name them (a signature, a phone number): those go from the texts.
    needles = _needles(citizen)
    case_ids = list(db_session.scalars(sa.select(Case.id).where(Case.citizen_id == citizen.id)))
    for case in db_session.scalars(sa.select(Case).where(Case.id.in_(case_ids))):
        case.description = scrub(case.description, needles)
        case.address = scrub(case.address, needles)
        case.attributes = {k: scrub(v, needles) for k, v in (case.attributes or {}).items()}
        case.media_url = None  # their photo, wherever an app keeps it, is theirs too
    # What the domains above keep about the person goes with it (node/behaviours.py and the
    # app factory connect), while their cases still point at them.
    ERASING(db_session=db_session, citizen_id=citizen.id)
    contacts = [c for c in (citizen.email, citizen.phone) if c]
    db_session.execute(
        sa.delete(ContactVerification).where(
            sa.or_(
                ContactVerification.citizen_id == citizen.id,
                ContactVerification.address.in_(contacts),
            )
        )
    )
    UNLINKING(db_session=db_session, citizen_id=citizen.id)
    unlinked = db_session.execute(
        sa.update(Case).where(Case.id.in_(case_ids)).values(citizen_id=None)
    ).rowcount
    db_session.execute(
        sa.update(Organisation).where(Organisation.contact_id == citizen.id).values(contact_id=None)
    )
    for field in ("name", "email", "phone", "district", "birth_year", "password_hash"):
        setattr(citizen, field, None)
    citizen.session_version += 1
    citizen.consent_contact = citizen.consent_profiling = False
    citizen.erased_at = citizen.updated_at = now
    recompute_segments(db_session=db_session, citizen=citizen, now=now)
    UNLINKED(db_session=db_session, citizen_id=citizen.id)
    # Every event of their cases and of their profile, and any other event writing their name
    # or contacts (a note on a neighbour's case), keeps only its facts.
    own = sa.select(Event.id).where(
        sa.or_(Event.case_id.in_(case_ids), Event.citizen_id == citizen.id)
    )
    naming = events_naming(db_session=db_session, needles=needles)
    redact(
        db_session=db_session,
        event_ids={*db_session.scalars(own), *naming},
        actor=actor,
        needles=needles,
        citizen_id=citizen.id,
        now=now,
    )
    record(
        db_session=db_session,
        kind=EventKind.CITIZEN_ERASED,
        actor=actor,
        citizen_id=citizen.id,
        at=now,
        data={"cases_unlinked": unlinked},
    )
    db_session.flush()
    # The pages that held their data before the erasure leave the database file's journal.
    engine = db_session.get_bind()
    after_commit(db_session, lambda: empty_journal(engine))
    return unlinked


def contact_profile(
    *,
    db_session: Session,
    email: str | None,
    phone: str | None,
    language: str,
    default_region: str | None = None,
    channel: str | None = None,
    now: datetime | None = None,
) -> Citizen | None:
    """The profile to tell about a request: one matching the contact, else a new minimal one.

    Returns None when no contact is given. Raises InvalidInput naming a malformed contact.
    """
    if not (email or "").strip() and not (phone or "").strip():
        return None
    data = parse_citizen(
        {
            "email": email,
            "phone": phone,
            "language": language,
            "preferred_channel": Channel.EMAIL if (email or "").strip() else Channel.SMS,
        },
        default_region=default_region,
    )

    def found() -> Citizen | None:
        return find_by_contact(db_session=db_session, email=data.email) or find_by_contact(
            db_session=db_session, phone=data.phone
        )

    existing = found()
    if existing is not None:
        return existing
    # Two first messages from one sender arrive together: both find no profile, one insert
    # wins the unique contact, and the other reads back the profile the winner made (its insert
    # fails, or its uniqueness check already sees the winner's row).
    try:
        with savepoint(db_session):
            existing = found()
            if existing is not None:
                return existing
            return create_citizen(
                db_session=db_session, data=data, actor=Actor.citizen(), channel=channel, now=now
            )
    except (IntegrityError, InvalidInput):
        existing = found()
        if existing is None:
            raise
        return existing
