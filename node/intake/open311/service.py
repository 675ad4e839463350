"""Open311 requests over the node's domain: submit through intake, search and describe cases."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from federation.protocol.vocabulary import Channel
from node.cases import photos
from node.cases.models import CLOSED_STATUSES, Case, Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import get_by_code
from node.database import utcnow
from node.errors import InvalidInput, NotFound
from node.intake import service as intake
from node.intake.models import ClientApplication, ClientScope
from node.intake.open311.schemas import Contact, RequestQuery, Submission
from node.intake.publication import Disclosure, disclosure
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.profiles.schemas import CitizenData
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import Attribute, Datatype, ServiceSpec

API_CHANNELS = frozenset({Channel.APP.value, Channel.WEB.value})
DEFAULT_WINDOW = timedelta(days=90)
# The profile's fields as the Open311 form names them.
_CONTACT_FIELDS = {"name": "first_name", "email": "email", "phone": "phone"}


@dataclass
class RequestView:
    """A case with what its Open311 representation needs from elsewhere."""

    case: Case
    service_name: str
    status_notes: str | None
    shown: Disclosure
    photo_token: str | None = None  # of the public thumbnail, when the service publishes media


def offered_services(*, db_session: Session) -> list[Service]:
    """The active services that take requests from apps or web clients."""
    services = catalogue.list_active(db_session=db_session)
    return [s for s in services if API_CHANNELS & set(s.channels)]


def offered_service(*, db_session: Session, code: str) -> Service:
    """One service offered over the API; NotFound otherwise."""
    service = catalogue.get(db_session=db_session, code=code)
    if not API_CHANNELS & set(service.channels):
        raise NotFound(f"service {code!r} does not take requests through this API")
    return service


def _contact_data(contact: Contact, default_region: str | None) -> CitizenData | None:
    """The profile the contact fields describe; None without e-mail or phone."""
    if not (contact.email or contact.phone):
        return None
    try:
        return profiles.parse_citizen(
            {
                "name": contact.name,
                "email": contact.email,
                "phone": contact.phone,
                "preferred_channel": Channel.EMAIL.value if contact.email else Channel.SMS.value,
            },
            default_region=default_region,
        )
    except InvalidInput as exc:
        raise InvalidInput(
            str(exc), {_CONTACT_FIELDS.get(name, name): m for name, m in exc.fields.items()}
        ) from exc


def citizen_for(*, db_session: Session, data: CitizenData | None, channel: str) -> Citizen | None:
    """The profile holding the e-mail or phone, created when new; None without either."""
    if data is None:
        return None
    for found in (
        profiles.find_by_contact(db_session=db_session, email=data.email),
        profiles.find_by_contact(db_session=db_session, phone=data.phone),
    ):
        if found is not None:
            return found
    return profiles.create_citizen(
        db_session=db_session, data=data, actor=Actor.citizen(), channel=channel
    )


def _choice(attribute: Attribute, raw: Any) -> Any:
    """A list answer as its key: exactly, else the one key that differs only in case."""
    keys = [value.key for value in attribute.values]
    if not isinstance(raw, str) or raw in keys:
        return raw
    same = [key for key in keys if key.casefold() == raw.casefold()]
    return same[0] if len(same) == 1 else raw


def attribute_answers(spec: ServiceSpec, given: dict[str, Any]) -> dict[str, Any]:
    """The attribute answers of a POST as GeoReport v2 reads them, for intake to check.

    Attributes answer a service definition: a service without one (`metadata` false) has no
    question to answer, so whatever a client sends is set aside; so is an answer to an attribute
    that only informs (`variable` false). A multivaluelist may come as `attribute[code][]`
    repeated, or comma-separated; a `string` holds no line breaks. An unknown code on a service
    with a definition is left for intake to refuse by name.
    """
    if not spec.attributes:
        return {}
    defined = {attribute.code: attribute for attribute in spec.attributes}
    answers: dict[str, Any] = {}
    for code, value in given.items():
        attribute = defined.get(code)
        if attribute is None:
            answers[code] = value
            continue
        if not attribute.variable:
            continue
        if attribute.datatype is Datatype.MULTIVALUELIST:
            values = value if isinstance(value, list) else [value]
            keys = {v.key for v in attribute.values}
            split = [p.strip() for v in values for p in (v.split(",") if v not in keys else [v])]
            value = [_choice(attribute, v) for v in split if v]
        elif attribute.datatype is Datatype.SINGLEVALUELIST:
            value = [_choice(attribute, v) for v in value] if isinstance(value, list) else value
            value = _choice(attribute, value)
        elif attribute.datatype is Datatype.STRING and isinstance(value, str):
            value = " ".join(value.splitlines())
        answers[code] = value
    return answers


def submit_request(
    *,
    db_session: Session,
    client: ClientApplication,
    submission: Submission,
    tracking_prefix: str,
    default_region: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case from an Open311 POST, recorded under the client's channel (app or web).

    Every wrong field is named in one InvalidInput: what the form could not read, the contact
    fields and what the service finds wrong. An unknown service is a NotFound before all that.
    """
    channel = client.kind.value
    errors = dict(submission.errors)
    if not submission.service_code:
        raise InvalidInput(next(f"{n}: {m}" for n, m in errors.items()), errors)
    # The reference is held so that intake finds it in the session's (weak) identity map.
    service = offered_service(db_session=db_session, code=submission.service_code)
    refused = intake.refusal(service)
    if refused is not None:
        raise refused
    answers = attribute_answers(catalogue.spec_of(service), submission.attributes)
    contact = None
    try:
        contact = _contact_data(submission.contact, default_region)
    except InvalidInput as exc:
        errors.update(exc.fields)
    try:
        intake.check_request(
            service,
            channel=channel,
            description=submission.description,
            lat=submission.lat,
            long=submission.long,
            attributes=answers,
        )
    except InvalidInput as exc:
        errors.update({name: m for name, m in exc.fields.items() if name not in errors})
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(f"{name}: {message}", errors)
    return intake.submit(
        db_session=db_session,
        service_code=service.code,
        channel=channel,
        description=submission.description,
        citizen=citizen_for(db_session=db_session, data=contact, channel=channel),
        attributes=answers,
        address=submission.address,
        lat=submission.lat,
        long=submission.long,
        media_url=submission.media_url,
        tracking_prefix=tracking_prefix,
        now=now,
    )


# The events whose words say why a case is where it is: the city's public replies, a rejection's
# reason, the original of a duplicate, a reopening's reason.
_NOTE_EVENTS = (
    EventKind.REPLY_SENT,
    EventKind.REJECTED,
    EventKind.MARKED_DUPLICATE,
    EventKind.REOPENED,
)


def _note_of(kind: EventKind, data: dict[str, Any]) -> str | None:
    if kind is EventKind.REPLY_SENT:
        return data.get("text") or None
    if kind is EventKind.MARKED_DUPLICATE and data.get("duplicate_of"):
        return f"Duplicate of {data['duplicate_of']}."
    return data.get("reason") or None


def _status_notes(*, db_session: Session, case_ids: list[int]) -> dict[int, str]:
    """Per case, why it is in its current state: the notes of its latest moment that has any.

    A rejection and the reply sent with it share one moment and are given together; reopening a
    case without a reason leaves no note from before.
    """
    if not case_ids:
        return {}
    rows = db_session.execute(
        sa.select(Event.case_id, Event.kind, Event.at, Event.data)
        .where(Event.case_id.in_(case_ids), Event.kind.in_(_NOTE_EVENTS))
        .order_by(Event.at, Event.id)
    )
    moments: dict[int, tuple[datetime, list[str]]] = {}
    for case_id, kind, at, data in rows:
        note = _note_of(kind, data or {})
        if note is None and kind is not EventKind.REOPENED:
            continue
        current = moments.get(case_id)
        if current is None or current[0] != at:
            current = moments[case_id] = (at, [])
        if kind is EventKind.REOPENED:
            current[1].clear()
        if note is not None:
            current[1].append(note)
    return {case_id: "\n".join(notes) for case_id, (_, notes) in moments.items() if notes}


def disclosures(*, db_session: Session, scope: ClientScope | None) -> dict[str, Disclosure]:
    """What a reader with this key scope (None: no key) may see of each service's requests."""
    services = db_session.scalars(sa.select(Service))
    return {s.code: disclosure(catalogue.spec_of(s), scope=scope) for s in services}


def _views(
    db_session: Session, rows: list[tuple[Case, str]], shown: dict[str, Disclosure]
) -> list[RequestView]:
    notes = _status_notes(db_session=db_session, case_ids=[case.id for case, _ in rows])
    # The thumbnail is served to anyone only while the service publishes media, whoever asks.
    public = disclosures(db_session=db_session, scope=None)
    tokens = photos.public_tokens(
        db_session=db_session,
        case_ids=[
            case.id
            for case, _ in rows
            if public[case.service_code].listed and public[case.service_code].media
        ],
    )
    return [
        RequestView(case, name, notes.get(case.id), shown[case.service_code], tokens.get(case.id))
        for case, name in rows
    ]


def _with_names() -> sa.Select:
    # The citizen and organisation come along: what the node knows of them is redacted.
    return (
        sa.select(Case, Service.name)
        .join(Service, Service.code == Case.service_code)
        .options(selectinload(Case.citizen), selectinload(Case.organisation))
    )


def _listed(shown: dict[str, Disclosure]) -> list[str]:
    return [code for code, disclosed in shown.items() if disclosed.listed]


def get_request(*, db_session: Session, code: str, scope: ClientScope | None = None) -> RequestView:
    """One request by its tracking code, if the reader may see it; NotFound otherwise."""
    shown = disclosures(db_session=db_session, scope=scope)
    case = get_by_code(db_session=db_session, code=code)
    if not shown[case.service_code].listed:
        # As if there were none: the request's existence is not for this reader either.
        raise NotFound(f"no request has the tracking code {code!r}")
    name = db_session.scalar(sa.select(Service.name).where(Service.code == case.service_code))
    return _views(db_session, [(case, name or case.service_code)], shown)[0]


def search_requests(
    *,
    db_session: Session,
    query: RequestQuery,
    scope: ClientScope | None = None,
    now: datetime | None = None,
) -> list[RequestView]:
    """Requests the reader may see matching the filters, newest first, one page of them."""
    shown = disclosures(db_session=db_session, scope=scope)
    select = _with_names().where(Case.service_code.in_(_listed(shown)))
    if query.ids:
        select = select.where(Case.tracking_code.in_(query.ids))
    else:
        if query.service_codes:
            select = select.where(Case.service_code.in_(query.service_codes))
        # As the specification says: without dates, the most recent 90 days.
        start = query.start or ((query.end or now or utcnow()) - DEFAULT_WINDOW)
        select = select.where(Case.created_at >= start)
        if query.end is not None:
            select = select.where(Case.created_at <= query.end)
        if query.closed is not None:
            closed = Case.status.in_(CLOSED_STATUSES)
            select = select.where(closed if query.closed else sa.not_(closed))
    select = (
        select.order_by(Case.created_at.desc(), Case.id.desc())
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    )
    rows = [(case, name) for case, name in db_session.execute(select)]
    return _views(db_session, rows, shown)
