"""The citizen simulator: months of requests through the real channels, and staff who work them.

Citizens behave after their city's context: each age band uses a service at its own rate, a
city's internet use and e-government level move the uptake, and a citizen reaches the city
through a digital channel with the probability that people of their age in their country use
the internet, else by phone. Requests travel the real way: Open311 over HTTP (app and web
clients), the SMS webhook over HTTP with the gateway's signature, the e-mail pipe, and the agent
console's service layer for phone calls. Simulated staff then acknowledge, work and resolve the
cases against each service's SLA, faster in cities with a higher e-government index, and some
citizens leave feedback. The node's clock follows the simulated time, so a pilot of 18 months
plays in minutes.
"""

import hashlib
import math
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import sqlalchemy as sa
from flask import Flask

from federation.protocol.vocabulary import AgeBand, Channel
from node.cases import service as cases
from node.cases.models import CaseStatus
from node.cases.schemas import Actor, QueueFilter
from node.database import CLOCK, get_db
from node.intake import clients
from node.intake import service as intake
from node.intake.email.service import MailSettings, ingest
from node.intake.sms.signature import HEADER as SMS_SIGNATURE
from node.intake.sms.signature import compute as sms_signature
from node.messaging.models import InboundMessage
from node.profiles import service as profiles
from node.services.schemas import Datatype, ServiceSpec
from node.services.service import list_active, spec_of
from node.staff import service as staff
from node.staff.models import Role

BANDS = (AgeBand.A16_24, AgeBand.A25_54, AgeBand.A55_74, AgeBand.A75_PLUS)
# Typical shares of the population in each band (the rest is under 16): adjusted per city.
BASE_SHARES = {
    AgeBand.A16_24: 0.10,
    AgeBand.A25_54: 0.41,
    AgeBand.A55_74: 0.25,
    AgeBand.A75_PLUS: 0.09,
}
# Monthly users per 1,000 people of each band, by template: each service has its own public.
BAND_RATES = {
    "issue-report": {
        AgeBand.A16_24: 1.0,
        AgeBand.A25_54: 2.6,
        AgeBand.A55_74: 2.2,
        AgeBand.A75_PLUS: 0.8,
    },
    "alert-subscription": {
        AgeBand.A16_24: 2.2,
        AgeBand.A25_54: 2.8,
        AgeBand.A55_74: 1.2,
        AgeBand.A75_PLUS: 0.4,
    },
    "appointment-booking": {
        AgeBand.A16_24: 1.2,
        AgeBand.A25_54: 2.0,
        AgeBand.A55_74: 2.8,
        AgeBand.A75_PLUS: 3.2,
    },
    "consultation": {
        AgeBand.A16_24: 1.6,
        AgeBand.A25_54: 1.8,
        AgeBand.A55_74: 1.4,
        AgeBand.A75_PLUS: 0.6,
    },
}
DEFAULT_RATES = {band: 1.5 for band in BANDS}
DIGITAL_WEIGHTS = {Channel.APP: 0.35, Channel.WEB: 0.30, Channel.EMAIL: 0.20, Channel.SMS: 0.15}
FIRST_NAMES = [
    "Anna",
    "Marco",
    "Sofia",
    "Jonas",
    "Eva",
    "Piotr",
    "Maria",
    "Lukas",
    "Elena",
    "Nikos",
    "Ines",
    "Tomas",
    "Sara",
    "Jan",
    "Laura",
    "Mikael",
]
LAST_NAMES = [
    "Rossi",
    "Tamm",
    "Peeters",
    "Nilsson",
    "Silva",
    "Nowak",
    "Papadopoulos",
    "Gruber",
    "Ferreira",
    "Kask",
    "Janssens",
    "Lindqvist",
]
DESCRIPTIONS = [
    "Please look into this as soon as you can",
    "This has been going on for a week now",
    "Second time I ask about this",
    "My neighbours are worried too",
    "Happens mostly in the evening",
]


@dataclass
class SimulatedCity:
    """A node taking part in the simulation, with what the simulator needs to reach it."""

    app: Flask
    base_url: str  # where its HTTP channels answer, e.g. http://127.0.0.1:8300/it-bologna
    sms_token: str | None
    context: dict[str, float]
    population_shares: dict[str, float]
    population: int
    rng: random.Random
    api_keys: dict[str, str] = field(default_factory=dict)
    citizens: list[tuple[int, AgeBand, str | None, str | None]] = field(default_factory=list)
    participated: set[tuple[str, int]] = field(default_factory=set)  # (service, citizen)

    @classmethod
    def of_node(cls, app: Flask, *, base_url: str, rng: random.Random) -> "SimulatedCity":
        """A node as its settings describe its city: context, population and its age mix."""
        config = app.config
        return cls(
            app=app,
            base_url=base_url,
            sms_token=config["SMS_AUTH_TOKEN"],
            context=config["CONTEXT"],
            population_shares=config["POPULATION_SHARES"] or illustrative_shares(config["CITY"]),
            population=config["POPULATION"],
            rng=rng,
        )


@dataclass
class SimulationReport:
    """What the simulation did, per channel, and what went wrong."""

    requests: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    cases_worked: int = 0

    def count(self, channel: str) -> None:
        """Count one accepted request on a channel."""
        self.requests[channel] = self.requests.get(channel, 0) + 1

    @property
    def total(self) -> int:
        """Requests accepted on every channel."""
        return sum(self.requests.values())


def illustrative_shares(city: str) -> dict[str, float]:
    """Population shares per age band for a city: typical European shares, tilted per city.

    The project's city table has no age structure; a real node is set up with its city's
    official figures (population_shares in node.toml).
    """
    seed = int(hashlib.sha256(city.encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    tilt = rng.uniform(-0.25, 0.25)  # older or younger than typical
    shares = {
        AgeBand.A16_24: BASE_SHARES[AgeBand.A16_24] * (1 - tilt),
        AgeBand.A25_54: BASE_SHARES[AgeBand.A25_54] * (1 - tilt / 3),
        AgeBand.A55_74: BASE_SHARES[AgeBand.A55_74] * (1 + tilt / 2),
        AgeBand.A75_PLUS: BASE_SHARES[AgeBand.A75_PLUS] * (1 + tilt),
    }
    return {band.value: round(share, 4) for band, share in shares.items()}


def digital_probability(band: AgeBand, context: dict[str, float]) -> float:
    """How likely someone of this age in this city reaches the city through a digital channel."""
    overall = context.get("internet_use_pct", 85.0) / 100
    young = context.get("internet_use_16_24_pct", overall * 100) / 100
    older = context.get("internet_use_55_74_pct", overall * 80) / 100
    by_band = {
        AgeBand.A16_24: young,
        AgeBand.A25_54: overall,
        AgeBand.A55_74: older,
        AgeBand.A75_PLUS: older * 0.55,
    }
    return min(0.97, by_band.get(band, overall) * 0.92)


def context_factor(context: dict[str, float]) -> float:
    """How much a city's connectivity and e-government level move the uptake of its services."""
    internet = context.get("internet_use_pct", 85.0) / 90
    egov = context.get("egov_index_2018", 0.8) / 0.85
    skills = context.get("digital_skills_basic_pct", 55.0) / 57
    return internet**2 * egov * skills**0.5


def _birth_year(band: AgeBand, year: int, rng: random.Random) -> int:
    low, high = {
        AgeBand.A16_24: (16, 24),
        AgeBand.A25_54: (25, 54),
        AgeBand.A55_74: (55, 74),
        AgeBand.A75_PLUS: (75, 92),
    }[band]
    return year - rng.randint(low, high)


def _phone(region: str, rng: random.Random) -> str | None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    digits = str(example.national_number)
    for _ in range(10):
        candidate = digits[:-4] + f"{rng.randrange(10_000):04d}"
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def prepare_city(city: SimulatedCity, *, citizens: int, start: datetime) -> None:
    """Register the city's client applications and the citizens who will use its services."""
    app, rng = city.app, city.rng
    region = app.config["DEFAULT_COUNTRY_CODE"] or "IT"
    with get_db(app).session() as session:
        for kind in ("app", "web"):
            _, key = clients.create_client(
                db_session=session, name=f"Simulated {kind} client", kind=kind
            )
            city.api_keys[kind] = key
        shares = [city.population_shares.get(b.value, BASE_SHARES[b]) for b in BANDS]
        slug = app.config["TRACKING_PREFIX"].lower()
        run = secrets.token_hex(3)  # a later run, even with the same seed, registers other people
        taken: set[str] = set()
        for n in range(citizens):
            band = rng.choices(BANDS, shares)[0]
            digital = rng.random() < digital_probability(band, city.context)
            phone = _phone(region, rng)
            if phone in taken or profiles.find_by_contact(db_session=session, phone=phone):
                phone = None  # numbers are unique to a person
            taken.add(phone or "")
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{run}{n}@{slug}.example".lower()
            data = profiles.parse_citizen(
                {
                    "name": f"{first} {last}",
                    "email": email,
                    "phone": phone,
                    "birth_year": _birth_year(band, start.year, rng),
                    "preferred_channel": "email" if digital else "phone",
                    "language": app.config["DEFAULT_LANGUAGE"],
                },
                default_region=region,
            )
            citizen = profiles.create_citizen(
                db_session=session, data=data, actor=Actor.citizen(), now=start
            )
            city.citizens.append((citizen.id, band, email, phone))
        session.commit()


def attribute_answers(spec: ServiceSpec, rng: random.Random, now: datetime) -> dict[str, Any]:
    """Answers to a service's Open311 attributes, as a citizen would give them."""
    answers: dict[str, Any] = {}
    for attribute in spec.attributes:
        if not attribute.required and rng.random() < 0.5:
            continue
        match attribute.datatype:
            case Datatype.SINGLEVALUELIST:
                answers[attribute.code] = rng.choice(attribute.values).key
            case Datatype.MULTIVALUELIST:
                answers[attribute.code] = [rng.choice(attribute.values).key]
            case Datatype.NUMBER:
                answers[attribute.code] = str(rng.randint(1, 5))
            case Datatype.DATETIME:
                answers[attribute.code] = (now + timedelta(days=rng.randint(1, 20))).isoformat()
            case _:
                answers[attribute.code] = rng.choice(DESCRIPTIONS)
    return answers


def choice_words(spec: ServiceSpec, rng: random.Random) -> str:
    """The names of a choice for each required question, as a citizen writes them in free text."""
    return " ".join(
        rng.choice(attribute.values).name
        for attribute in spec.attributes
        if attribute.required and attribute.values
    )


class Channels:
    """The real ways into a node, as a citizen's phone, app or mail server would use them."""

    def __init__(self, city: SimulatedCity, http: httpx.Client, report: SimulationReport) -> None:
        self.city, self.http, self.report = city, http, report

    def open311(self, kind: str, spec: ServiceSpec, citizen: tuple, text: str, now: datetime):
        """POST a request as a mobile app or web client of the Open311 API."""
        email = citizen[2]
        form: dict[str, Any] = {
            "api_key": self.city.api_keys[kind],
            "service_code": spec.code,
            "description": text,
            "email": email,
            "lat": f"{45 + self.city.rng.random():.5f}",
            "long": f"{11 + self.city.rng.random():.5f}",
        }
        for code, value in attribute_answers(spec, self.city.rng, now).items():
            if isinstance(value, list):
                form[f"attribute[{code}][]"] = value
            else:
                form[f"attribute[{code}]"] = value
        response = self.http.post(f"{self.city.base_url}/open311/v2/requests.json", data=form)
        return self._accepted(kind, response.status_code == 200, response.text)

    def sms(self, spec: ServiceSpec, citizen: tuple, text: str, now: datetime):
        """Send an SMS through the gateway's webhook, signed as the gateway signs it."""
        _, _, _, phone = citizen
        choices = choice_words(spec, self.city.rng)
        body = f"{spec.sms_keyword} {choices} {text}"
        if spec.identity == "alert-subscription":
            # node/alerts answers `<KEYWORD> <topic> <area>` with a subscription, not a case.
            values = {attribute.code: attribute.values for attribute in spec.attributes}
            topic, area = (self.city.rng.choice(values[code]).key for code in ("topics", "area"))
            body = f"{spec.sms_keyword} {topic} {area}"
        url = f"{self.city.base_url}/sms/inbound"
        params = {
            "From": phone,
            "To": "+10000000000",
            "Body": body,
            "MessageSid": f"SM{self.city.rng.getrandbits(64):016x}",
        }
        headers = {SMS_SIGNATURE: sms_signature(url, params, self.city.sms_token)}
        response = self.http.post(url, data=params, headers=headers)
        opened = response.status_code == 200 and (
            self.city.app.config["TRACKING_PREFIX"] in response.text
            or self._sms_outcome(params["MessageSid"]) == "subscribed"
        )
        return self._accepted("sms", opened, response.text)

    def _sms_outcome(self, message_sid: str) -> str | None:
        """What the node did with an SMS, as it recorded it against the gateway's id."""
        with get_db(self.city.app).session() as session:
            return session.scalar(
                sa.select(InboundMessage.outcome).where(InboundMessage.external_id == message_sid)
            )

    def vote(self, spec: ServiceSpec, citizen: tuple) -> bool:
        """Take part in a consultation by SMS: one answer per citizen, from their phone."""
        options = [v.key for a in spec.attributes if a.required and a.values for v in a.values]
        key = (spec.code, citizen[0])
        if not options or key in self.city.participated:
            return False
        url = f"{self.city.base_url}/sms/inbound"
        params = {
            "From": citizen[3],
            "To": "+10000000000",
            "Body": f"{spec.sms_keyword} {self.city.rng.choice(options)}",
            "MessageSid": f"SM{self.city.rng.getrandbits(64):016x}",
        }
        headers = {SMS_SIGNATURE: sms_signature(url, params, self.city.sms_token)}
        response = self.http.post(url, data=params, headers=headers)
        self.city.participated.add(key)
        return self._accepted("sms", response.status_code == 200, response.text)

    def email(self, spec: ServiceSpec, citizen: tuple, text: str, now: datetime):
        """Pipe a citizen's e-mail into the node, as the city's mail server does."""
        _, _, email, _ = citizen
        message = EmailMessage()
        message["From"] = email
        message["To"] = f"{spec.code}@{self.city.app.config['TRACKING_PREFIX'].lower()}.example"
        message["Subject"] = f"{spec.code}: {text[:40]}"
        message["Message-ID"] = f"<{self.city.rng.getrandbits(64):x}@mail.example>"
        # Like SMS, mail is free text: the citizen names their choices in words.
        message.set_content(f"{choice_words(spec, self.city.rng)}\n\n{text}")
        app = self.city.app
        with get_db(app).session() as session:
            result = ingest(
                db_session=session,
                raw=message.as_bytes(),
                now=now,
                settings=MailSettings.from_config(app.config, Path(app.instance_path)),
            )
            session.commit()
        return self._accepted("email", result.outcome == "opened", result.outcome)

    def phone(self, spec: ServiceSpec, citizen: tuple, text: str, now: datetime, agent):
        """An agent of the call centre opens the case for the caller."""
        citizen_id = citizen[0]
        app = self.city.app
        with get_db(app).session() as session:
            person = profiles.get_citizen(db_session=session, citizen_id=citizen_id)
            intake.submit(
                db_session=session,
                service_code=spec.code,
                channel=Channel.PHONE,
                description=text,
                citizen=person,
                attributes=attribute_answers(spec, self.city.rng, now),
                tracking_prefix=app.config["TRACKING_PREFIX"],
                now=now,
                actor=Actor.of_staff(session.merge(agent)),
            )
            session.commit()
        return self._accepted("phone", True, "")

    def _accepted(self, channel: str, ok: bool, detail: str) -> bool:
        if ok:
            self.report.count(channel)
        else:
            self.report.refused.append(f"{self.city.app.config['CITY']} {channel}: {detail[:160]}")
        return ok


@contextmanager
def simulated_time(moment: datetime) -> Iterator[None]:
    """Set the nodes' clock for the duration of one request."""
    CLOCK.set(moment)
    try:
        yield
    finally:
        CLOCK.set(None)


def pilot_months(end: datetime, count: int) -> list[datetime]:
    """The first instants of the `count` calendar months before `end`'s month, oldest first."""
    first = datetime(end.year, end.month, 1, tzinfo=UTC)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first)
    return sorted(months)


def _staff(app: Flask) -> tuple[Any, list[Any]]:
    with get_db(app).session() as session:
        agents = [u for u in staff.list_staff(db_session=session) if u.role is Role.AGENT]
        workers = staff.list_caseworkers(db_session=session)
        return (agents[0] if agents else None), workers


def _work_cases(city: SimulatedCity, since: datetime, until: datetime, report: SimulationReport):
    """Staff work every case opened in the period, as fast as the city's efficiency allows."""
    app, rng = city.app, city.rng
    efficiency = city.context.get("egov_index_2018", 0.8) / 0.8
    with get_db(app).session() as session:
        opened, _ = cases.queue(
            db_session=session,
            staff=_supervisor(session),
            filters=QueueFilter(status=CaseStatus.NEW, since=since),
            limit=100_000,
        )
        for case in opened:
            workers = [
                w
                for w in staff.list_caseworkers(
                    db_session=session, department_id=case.department_id
                )
            ]
            worker = rng.choice(workers) if workers else _supervisor(session)
            actor = Actor.of_staff(worker)
            sla = (case.due_at - case.created_at).total_seconds() / 3600
            at = case.created_at + timedelta(hours=rng.expovariate(efficiency / 6))
            if at >= until:
                continue
            cases.move(db_session=session, case=case, action="acknowledge", actor=actor, now=at)
            if rng.random() < 0.05:
                cases.move(
                    db_session=session,
                    case=case,
                    action="reject",
                    actor=actor,
                    reason="Outside the city's remit",
                    now=at + timedelta(hours=1),
                )
                continue
            at += timedelta(hours=rng.expovariate(efficiency / (sla * 0.45)))
            if at >= until:
                continue
            cases.move(
                db_session=session,
                case=case,
                action="resolve",
                actor=actor,
                now=at,
                reply="Done: thank you for telling us.",
            )
            report.cases_worked += 1
            if rng.random() < 0.45:
                in_time = at <= case.due_at
                score = rng.choice([4, 5, 5] if in_time else [2, 3, 3, 4])
                cases.record_feedback(
                    db_session=session,
                    case=case,
                    score=score,
                    channel=case.channel,
                    now=at + timedelta(hours=3),
                )
        session.commit()


def _supervisor(session):
    return next(
        u for u in staff.list_staff(db_session=session) if u.role in (Role.SUPERVISOR, Role.ADMIN)
    )


def simulate(
    cities: list[SimulatedCity],
    *,
    months: int = 18,
    end: datetime | None = None,
    scale: float = 0.02,
    progress: Callable[[str, int, int], None] | None = None,
) -> SimulationReport:
    """Play `months` calendar months up to `end` (default: the start of this month)."""
    report = SimulationReport()
    end = end or datetime.now(UTC)
    periods = pilot_months(end, months)
    timeline_end = datetime(end.year, end.month, 1, tzinfo=UTC)
    lock = threading.Lock()  # one request at a time: the nodes' clock is shared
    with httpx.Client(timeout=30) as http:
        for index, month in enumerate(periods):
            next_month = (month + timedelta(days=32)).replace(day=1)
            for city in cities:
                _simulate_month(city, http, report, month, next_month, scale, lock)
                _work_cases(city, month, timeline_end, report)
            if progress:
                progress(month.strftime("%Y-%m"), index + 1, len(periods))
    return report


def _simulate_month(city, http, report, month, next_month, scale, lock) -> None:
    rng = city.rng
    channels = Channels(city, http, report)
    agent, _ = _staff(city.app)
    with get_db(city.app).session() as session:
        specs = [spec_of(service) for service in list_active(db_session=session)]
    boost = context_factor(city.context)
    by_band: dict[AgeBand, list[tuple]] = {}
    for citizen in city.citizens:
        by_band.setdefault(citizen[1], []).append(citizen)
    seconds = (next_month - month).total_seconds()
    for spec in specs:
        rates = BAND_RATES.get(spec.identity, DEFAULT_RATES)
        for band in BANDS:
            people = by_band.get(band)
            if not people:
                continue
            share = city.population_shares.get(band.value, BASE_SHARES[band])
            expected = city.population * share / 1000 * rates[band] * boost * scale
            for _ in range(_poisson(rng, expected)):
                citizen = rng.choice(people)
                now = month + timedelta(seconds=rng.uniform(0, seconds))
                text = rng.choice(DESCRIPTIONS)
                with lock, simulated_time(now):
                    _one_request(channels, spec, citizen, band, text, now, agent, rng)


def _one_request(channels, spec, citizen, band, text, now, agent, rng) -> None:
    if spec.identity == "consultation":
        # A consultation takes participations, not requests: verified by the phone's SMS.
        if citizen[3] and spec.sms_keyword and channels.city.sms_token:
            channels.vote(spec, citizen)
        return
    offered = set(spec.channels)
    digital = [c for c in DIGITAL_WEIGHTS if c in offered]
    # Bookings by SMS name a date and time the simulator does not pick: book another way.
    no_sms = spec.identity == "appointment-booking"
    if no_sms or citizen[3] is None or not channels.city.sms_token:
        digital = [c for c in digital if c is not Channel.SMS]
    use_digital = digital and rng.random() < digital_probability(band, channels.city.context)
    if use_digital:
        channel = rng.choices(digital, [DIGITAL_WEIGHTS[c] for c in digital])[0]
        if channel in (Channel.APP, Channel.WEB):
            channels.open311(channel.value, spec, citizen, text, now)
        elif channel is Channel.SMS and spec.sms_keyword:
            channels.sms(spec, citizen, text, now)
        else:
            channels.email(spec, citizen, text, now)
    elif Channel.PHONE in offered and agent is not None:
        channels.phone(spec, citizen, text, now, agent)
    elif digital:
        channels.open311("web", spec, citizen, text, now)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
