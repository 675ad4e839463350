"""Open311 requests over the node's domain: submit through intake, search and describe cases."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import CLOSED_STATUSES, Case, Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import get_by_code
from node.database import utcnow
from node.errors import NotFound
from node.intake import service as intake
from node.intake.models import ClientApplication
from node.intake.open311.schemas import Contact, RequestQuery, Submission
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.services import service as catalogue
from node.services.models import Service

API_CHANNELS = frozenset({Channel.APP.value, Channel.WEB.value})
DEFAULT_WINDOW = timedelta(days=90)


@dataclass
class RequestView:
    """A case with what its Open311 representation needs from elsewhere."""

    case: Case
    service_name: str
    status_notes: str | None


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


def citizen_for(
    *,
    db_session: Session,
    contact: Contact,
    channel: str,
    default_region: str | None = None,
) -> Citizen | None:
    """The profile the contact fields point to, created when new; None without e-mail or phone."""
    if not (contact.email or contact.phone):
        return None
    data = profiles.parse_citizen(
        {
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "preferred_channel": Channel.EMAIL.value if contact.email else Channel.SMS.value,
        },
        default_region=default_region,
    )
    for found in (
        profiles.find_by_contact(db_session=db_session, email=data.email),
        profiles.find_by_contact(db_session=db_session, phone=data.phone),
    ):
        if found is not None:
            return found
    return profiles.create_citizen(
        db_session=db_session, data=data, actor=Actor.citizen(), channel=channel
    )


def submit_request(
    *,
    db_session: Session,
    client: ClientApplication,
    submission: Submission,
    tracking_prefix: str,
    default_region: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case from an Open311 POST, recorded under the client's channel (app or web)."""
    channel = client.kind.value
    # The service is checked first so that an unknown code is a 404 whatever else is wrong; the
    # reference is held so that intake finds it in the session's (weak) identity map.
    service = offered_service(db_session=db_session, code=submission.service_code)
    citizen = citizen_for(
        db_session=db_session,
        contact=submission.contact,
        channel=channel,
        default_region=default_region,
    )
    return intake.submit(
        db_session=db_session,
        service_code=service.code,
        channel=channel,
        description=submission.description,
        citizen=citizen,
        attributes=submission.attributes,
        address=submission.address,
        lat=submission.lat,
        long=submission.long,
        media_url=submission.media_url,
        tracking_prefix=tracking_prefix,
        now=now,
    )


def _latest_replies(*, db_session: Session, case_ids: list[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    rows = db_session.execute(
        sa.select(Event.case_id, Event.data)
        .where(Event.case_id.in_(case_ids), Event.kind == EventKind.REPLY_SENT)
        .order_by(Event.at, Event.id)
    )
    return {case_id: data.get("text", "") for case_id, data in rows}  # the last one wins


def _views(db_session: Session, rows: list[tuple[Case, str]]) -> list[RequestView]:
    notes = _latest_replies(db_session=db_session, case_ids=[case.id for case, _ in rows])
    return [RequestView(case, name, notes.get(case.id)) for case, name in rows]


def _with_names() -> sa.Select:
    return sa.select(Case, Service.name).join(Service, Service.code == Case.service_code)


def get_request(*, db_session: Session, code: str) -> RequestView:
    """One request by its tracking code; NotFound when there is none."""
    case = get_by_code(db_session=db_session, code=code)
    name = db_session.scalar(sa.select(Service.name).where(Service.code == case.service_code))
    return _views(db_session, [(case, name or case.service_code)])[0]


def search_requests(
    *, db_session: Session, query: RequestQuery, now: datetime | None = None
) -> list[RequestView]:
    """Requests matching the filters, newest first, one page of them."""
    select = _with_names()
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
    return _views(db_session, [(case, name) for case, name in db_session.execute(select)])
