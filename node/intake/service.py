"""One entry point for every channel: turn a request into a case and its first events."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.behaviours import behaviour_of
from node.cases.models import Case, CaseStatus, EventKind, Priority
from node.cases.schemas import Actor
from node.cases.service import CASE_OPENED, MAX_TEXT, new_tracking_code, record
from node.database import utcnow
from node.errors import InvalidInput
from node.intake.free_text import street_of
from node.profiles.models import Citizen, Organisation
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import Attribute, Datatype, ServiceSpec
from node.staff.models import Department
from node.staff.service import get_or_create_department


def validate_attributes(spec: ServiceSpec, given: dict[str, Any]) -> dict[str, Any]:
    """Check attribute values against the service's Open311 definitions; return clean values."""
    known = {a.code: a for a in spec.attributes}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for code in given:
        if code not in known:
            errors[f"attribute[{code}]"] = "unknown attribute"
    for attribute in spec.attributes:
        value = given.get(attribute.code)
        empty = value is None or value == "" or value == []
        if empty:
            if attribute.required:
                errors[f"attribute[{attribute.code}]"] = f"required: {attribute.description}"
            continue
        try:
            clean[attribute.code] = _attribute_value(attribute, value)
        except ValueError as exc:
            errors[f"attribute[{attribute.code}]"] = str(exc)
    if errors:
        first = next(iter(errors.items()))
        raise InvalidInput(f"{first[0]}: {first[1]}", errors)
    return clean


def _attribute_value(attribute: Attribute, value: Any) -> Any:
    keys = {v.key for v in attribute.values}
    match attribute.datatype:
        case Datatype.SINGLEVALUELIST:
            if isinstance(value, list):
                if len(value) != 1:
                    raise ValueError("choose exactly one value")
                value = value[0]
            if str(value) not in keys:
                raise ValueError(f"{value!r} is not one of {', '.join(sorted(keys))}")
            return str(value)
        case Datatype.MULTIVALUELIST:
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            unknown = [v for v in values if v not in keys]
            if unknown:
                raise ValueError(f"{', '.join(unknown)} not among {', '.join(sorted(keys))}")
            return values
        case Datatype.NUMBER:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not a number") from None
            # NaN and infinity are no measurement, and JSON (PostgreSQL's json above all)
            # cannot store them.
            if not math.isfinite(number):
                raise ValueError(f"{value!r} is not a finite number")
            return number
        case Datatype.DATETIME:
            try:
                return datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None
        case _:
            text = str(value).strip()
            if len(text) > MAX_TEXT:
                raise ValueError(f"longer than {MAX_TEXT} characters")
            return text


def takes_channel(spec: ServiceSpec, channel: Channel) -> bool:
    """Whether a service takes requests by a channel: those it lists, and always its own staff's."""
    return channel in spec.channels or channel is Channel.STAFF


def refusal(service: Service) -> InvalidInput | None:
    """Why the service takes no requests at all (its behaviour keeps no cases), or None."""
    spec = catalogue.spec_of(service)
    behaviour = behaviour_of(spec)
    return None if behaviour.refuse_case is None else behaviour.refuse_case(service, spec)


def check_request(
    service: Service,
    *,
    channel: Channel | str,
    description: str | None = "",
    lat: float | None = None,
    long: float | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check a request against its service; return the clean attributes.

    Raises InvalidInput naming every wrong field at once, so that a form or an app can mark them
    all; a service whose behaviour keeps no cases is refused before anything else.
    """
    refused = refusal(service)
    if refused is not None:
        raise refused
    spec = catalogue.spec_of(service)
    errors: dict[str, str] = {}
    try:
        if not takes_channel(spec, Channel(channel)):
            errors["channel"] = f"{spec.name} does not take requests by {Channel(channel).value}"
    except ValueError:
        errors["channel"] = f"unknown channel {channel!r}"
    if len((description or "").strip()) > MAX_TEXT:
        errors["description"] = f"longer than {MAX_TEXT} characters"
    if (lat is None) != (long is None):
        errors["lat" if lat is None else "long"] = "give both latitude and longitude"
    if lat is not None and not -90 <= lat <= 90:
        errors["lat"] = "a latitude is between -90 and 90"
    if long is not None and not -180 <= long <= 180:
        errors["long"] = "a longitude is between -180 and 180"
    clean: dict[str, Any] = {}
    try:
        clean = validate_attributes(spec, attributes or {})
    except InvalidInput as exc:
        errors.update(exc.fields)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(f"{name}: {message}", errors)
    return clean


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


@dataclass(frozen=True)
class Routing:
    """Where a request goes and how urgently, by the service's routing rules."""

    department: str
    priority: Priority
    sla_hours: int
    alert: bool
    rules: tuple[int, ...]  # the rules that matched, by their place in the spec


def route(spec: ServiceSpec, attributes: dict[str, Any]) -> Routing:
    """The department of the first matching rule that names one, the highest priority and the
    shortest SLA any matching rule sets, and an alert when any of them asks for one."""
    matched = [
        (n, rule)
        for n, rule in enumerate(spec.routing)
        if (value := attributes.get(rule.attribute)) == rule.equals
        or (isinstance(value, list) and rule.equals in value)
    ]
    departments = [rule.department for _, rule in matched if rule.department]
    priorities = [Priority(rule.priority) for _, rule in matched if rule.priority]
    hours = [rule.sla_hours for _, rule in matched if rule.sla_hours]
    return Routing(
        department=departments[0] if departments else spec.department,
        priority=max(priorities, key=PRIORITY_ORDER.index, default=Priority.NORMAL),
        sla_hours=min([spec.sla_hours, *hours]),
        alert=any(rule.alert for _, rule in matched),
        rules=tuple(n for n, _ in matched),
    )


def submit(
    *,
    db_session: Session,
    service_code: str,
    channel: Channel | str,
    description: str = "",
    citizen: Citizen | None = None,
    organisation: Organisation | None = None,
    attributes: dict[str, Any] | None = None,
    address: str | None = None,
    lat: float | None = None,
    long: float | None = None,
    media_url: str | None = None,
    language: str | None = None,
    tracking_prefix: str = "CA",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case in a service from any channel, routed, with its due time and first events."""
    service = catalogue.get(db_session=db_session, code=service_code)
    spec = catalogue.spec_of(service)
    clean = check_request(
        service,
        channel=channel,
        description=description,
        lat=lat,
        long=long,
        attributes=attributes or {},
    )
    channel = Channel(channel)
    description = (description or "").strip()
    if organisation is not None and citizen is None:
        citizen = organisation.contact
    now = now or utcnow()
    routing = route(spec, clean)
    department = get_or_create_department(db_session=db_session, code=routing.department)
    case = Case(
        tracking_code=new_tracking_code(db_session=db_session, prefix=tracking_prefix),
        service_code=service.code,
        channel=channel.value,
        department=department,
        citizen=citizen,
        organisation=organisation,
        description=description,
        address=(address or "").strip() or None,
        lat=lat,
        long=long,
        attributes=clean,
        media_url=media_url or None,
        language=language or (citizen.language if citizen else "en"),
        priority=routing.priority,
        due_at=now + timedelta(hours=routing.sla_hours),
        created_at=now,
        updated_at=now,
    )
    db_session.add(case)
    actor = actor or Actor.citizen()
    record(
        db_session=db_session,
        kind=EventKind.SUBMITTED,
        actor=actor,
        case=case,
        channel=channel.value,
        at=now,
        data={"on_behalf": actor.staff is not None, "organisation": organisation is not None},
    )
    record(
        db_session=db_session,
        kind=EventKind.ROUTED,
        actor=Actor.system(),
        case=case,
        at=now,
        data={"department": department.code}
        | (
            {"priority": routing.priority.value, "sla_hours": routing.sla_hours}
            if routing.rules
            else {}
        )
        | ({"alert": True} if routing.alert else {}),
    )
    db_session.flush()
    # Listeners act once the caller commits: a danger report alerts the staff on duty.
    CASE_OPENED(db_session=db_session, case_id=case.id, alert=routing.alert)
    return case


def answer_question(
    *,
    db_session: Session,
    case: Case,
    code: str,
    value: Any,
    now: datetime | None = None,
) -> Department | None:
    """Keep a citizen's answer to a question asked after their case opened (SMS asks them one
    by one). A case nobody has taken up yet goes where the answer routes it; returns the new
    department when it moved."""
    spec = catalogue.spec_of(catalogue.get(db_session=db_session, code=case.service_code))
    clean = validate_attributes(spec, {**case.attributes, code: value})
    now = now or utcnow()
    case.attributes = clean
    case.updated_at = now
    if case.status is not CaseStatus.NEW:
        return None  # staff already work it where it is: the answer is for them to read
    department = get_or_create_department(db_session=db_session, code=route(spec, clean).department)
    if department.id == case.department_id:
        return None
    case.department = department
    record(
        db_session=db_session,
        kind=EventKind.ROUTED,
        actor=Actor.system(),
        case=case,
        at=now,
        data={"department": department.code, "answer": code},
    )
    db_session.flush()
    return department


def forget_home_addresses(*, db_session: Session, citizen_id: int) -> None:
    """An erased person's requests keep the street of their place, not the house number.

    The place a request names is often the writer's home; the street is enough to work the
    case and to count it, and the same address written in the description goes too
    (connected to erasure by the app factory).
    """
    found = list(db_session.scalars(sa.select(Case).where(Case.citizen_id == citizen_id)))
    # Each address they gave, as written and without its postcode and city, with its street.
    written: dict[str, str] = {}
    for case in found:
        if case.address:
            street = street_of(case.address) or "[erased]"
            written[case.address] = written[case.address.split(",")[0].strip()] = street
    pieces = sorted((w for w in written if w), key=len, reverse=True)
    for case in found:
        for piece in pieces:
            case.description = re.sub(
                re.escape(piece), written[piece], case.description or "", flags=re.I
            )
        if case.address:
            case.address = written[case.address]
    db_session.flush()
