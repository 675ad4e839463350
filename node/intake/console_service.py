"""The call centre's logic: find a caller, read their history, open a case on their behalf."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import Case, Event, ImportedRequest
from node.cases.schemas import Actor
from node.cases.service import citizen_cases, citizen_history, find_by_number, legacy_numbers
from node.errors import InvalidInput, NotFound
from node.intake import service as intake
from node.profiles import service as profiles
from node.profiles.models import Citizen, Organisation
from node.services import service as catalogue
from node.services.models import Service
from node.staff.models import StaffUser


@dataclass
class Caller:
    """Everything an agent sees about a caller: profile, businesses, cases and archive events."""

    citizen: Citizen
    organisations: list[Organisation]
    cases: list[Case]
    history: list[Event]

    @property
    def codes(self) -> dict[int, str]:
        """Tracking code of each of the caller's cases, by case id."""
        return {case.id: case.tracking_code for case in self.cases}


def find_callers(
    *, db_session: Session, text: str, default_region: str | None = None
) -> list[tuple[Citizen, list[Organisation]]]:
    """Callers matching a phone, e-mail or name, and contact persons of businesses so named."""
    found = profiles.search(db_session=db_session, text=text, default_region=default_region)
    text = text.strip()
    if text:
        by_business = db_session.scalars(
            sa.select(Citizen)
            .join(Organisation, Organisation.contact_id == Citizen.id)
            .where(Organisation.name.ilike(f"%{text}%"), Citizen.erased_at.is_(None))
            .limit(20)
        )
        known = {c.id for c in found}
        found += [c for c in by_business if c.id not in known]
    return [(c, organisations_of(db_session=db_session, citizen=c)) for c in found]


def find_cases(*, db_session: Session, text: str) -> list[tuple[Case, list[ImportedRequest]]]:
    """Cases a caller's number names (a tracking code or a legacy number), with legacy numbers."""
    return [
        (case, legacy_numbers(db_session=db_session, case=case))
        for case in find_by_number(db_session=db_session, number=text)
    ]


def organisations_of(*, db_session: Session, citizen: Citizen) -> list[Organisation]:
    """The businesses and associations this citizen is the contact person of."""
    query = sa.select(Organisation).where(Organisation.contact_id == citizen.id)
    return list(db_session.scalars(query.order_by(Organisation.name)))


def caller(*, db_session: Session, citizen_id: int) -> Caller:
    """A caller's profile, businesses, cases (newest first) and every archive event about them."""
    citizen = profiles.get_citizen(db_session=db_session, citizen_id=citizen_id)
    return Caller(
        citizen=citizen,
        organisations=organisations_of(db_session=db_session, citizen=citizen),
        cases=citizen_cases(db_session=db_session, citizen_id=citizen.id),
        history=citizen_history(db_session=db_session, citizen_id=citizen.id),
    )


def phone_services(*, db_session: Session) -> list[Service]:
    """The active services that take requests by phone."""
    return [
        service
        for service in catalogue.list_active(db_session=db_session)
        if Channel.PHONE in catalogue.spec_of(service).channels
    ]


def open_case(
    *,
    db_session: Session,
    agent: StaffUser,
    citizen: Citizen,
    service_code: str,
    organisation_id: int | None = None,
    description: str,
    attributes: dict[str, Any],
    address: str | None,
    lat: float | None = None,
    long: float | None = None,
    tracking_prefix: str,
) -> Case:
    """Open a case by phone for a caller, or for a business the caller is the contact of."""
    organisation = None
    if organisation_id is not None:
        organisation = db_session.get(Organisation, organisation_id)
        if organisation is None or organisation.contact_id != citizen.id:
            raise InvalidInput(
                "the caller is not the contact person of that business",
                {"on_behalf": "not this caller's business"},
            )
    try:
        return intake.submit(
            db_session=db_session,
            service_code=service_code,
            channel=Channel.PHONE,
            description=description,
            citizen=citizen,
            organisation=organisation,
            attributes=attributes,
            address=address,
            lat=lat,
            long=long,
            language=citizen.language,
            tracking_prefix=tracking_prefix,
            actor=Actor.of_staff(agent),
        )
    except NotFound as exc:
        raise InvalidInput(str(exc), {"service": "unknown"}) from exc
