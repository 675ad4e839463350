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

import functools
import hashlib
import math
import random
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

from carmen.bulk import (
    NewCitizen,
    NewSubscription,
    PilotWriter,
    WorkedRequest,
    record_participations,
    register_citizens,
    run_token,
    subscribe_citizens,
)
from federation.protocol.vocabulary import AgeBand, Channel
from node.alerts import service as alerts
from node.cases import service as cases
from node.cases.models import CaseStatus
from node.cases.schemas import Actor, QueueFilter
from node.consultations import service as consultations
from node.database import CLOCK, get_db
from node.errors import NodeError
from node.intake import clients
from node.intake import service as intake
from node.intake.email.service import MailSettings, ingest
from node.intake.free_text import catch_all
from node.intake.sms.signature import HEADER as SMS_SIGNATURE
from node.intake.sms.signature import compute as sms_signature
from node.messaging.models import InboundMessage
from node.profiles import service as profiles
from node.profiles.models import Citizen
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
# Monthly users per 1,000 people of each band, by template (docs/demo.md gives their sources).
BAND_RATES = {
    "issue-report": {
        AgeBand.A16_24: 0.9,
        AgeBand.A25_54: 2.2,
        AgeBand.A55_74: 2.0,
        AgeBand.A75_PLUS: 0.7,
    },
    "alert-subscription": {
        AgeBand.A16_24: 0.45,
        AgeBand.A25_54: 0.55,
        AgeBand.A55_74: 0.3,
        AgeBand.A75_PLUS: 0.1,
    },
    "appointment-booking": {
        AgeBand.A16_24: 0.35,
        AgeBand.A25_54: 0.5,
        AgeBand.A55_74: 0.7,
        AgeBand.A75_PLUS: 0.8,
    },
    "consultation": {
        AgeBand.A16_24: 0.3,
        AgeBand.A25_54: 0.3,
        AgeBand.A55_74: 0.25,
        AgeBand.A75_PLUS: 0.1,
    },
}
# How far a city's uptake of a service strays from what its context predicts (log-normal): what
# no context figure explains, such as how well the city made the service known. Kept modest, so
# that the pilots carry the signal the judgement is there to find.
LUCK_SIGMA = 0.12
# A pilot is not used at full rate from its first day: months 1, 2 and 3 reach a quarter, a
# half and three quarters of it, as word of a new service spreads.
RAMP_MONTHS = 3
DEFAULT_RATES = {band: 0.5 for band in BANDS}
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


Person = tuple[int, AgeBand, str | None, str | None]  # citizen id, band, e-mail, phone


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
    luck: dict[str, float] = field(default_factory=dict)  # per template, see LUCK_SIGMA
    api_keys: dict[str, str] = field(default_factory=dict)
    citizens: dict[AgeBand, list[Person]] = field(default_factory=dict)
    participated: set[tuple[str, int]] = field(default_factory=set)  # (service, citizen)
    phones: set[str] = field(default_factory=set)  # numbers given out: unique to a person
    run: str = field(default_factory=run_token)
    staff: dict[str | None, list[int]] | None = None  # caseworker ids per department
    # What the simulator meant: users per (service code, YYYY-MM), summed over the bands.
    intended: dict[tuple[str, str], float] = field(default_factory=dict)

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
            luck={name: rng.lognormvariate(0, LUCK_SIGMA) for name in sorted(BAND_RATES)},
        )

    @property
    def name(self) -> str:
        """The city's name."""
        return self.app.config["CITY"]

    def band_population(self, band: AgeBand) -> float:
        """People of an age band in the city."""
        return self.population * self.population_shares.get(band.value, BASE_SHARES[band])

    def intended_users(self, template: str, band: AgeBand, month: int) -> float:
        """Users of a service of this template, in a band, expected in the pilot's month
        (0 is the first): the band's people × the rate × the city's context × its luck,
        ramped up over the first months."""
        rate = BAND_RATES.get(template, DEFAULT_RATES)[band] / 1000
        ramp = min(1.0, (month + 1) / (RAMP_MONTHS + 1))
        luck = self.luck.get(template, 1.0)
        return self.band_population(band) * rate * context_factor(self.context) * luck * ramp


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


@functools.cache
def _mobile_example(region: str) -> phonenumbers.PhoneNumber | None:
    return phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)


def _phone(region: str, rng: random.Random) -> str | None:
    example = _mobile_example(region)
    if example is None:
        return None
    digits = str(example.national_number)
    for _ in range(10):
        # The example's own number range with other last digits: a mobile number of the region.
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code,
            national_number=int(digits[:-4] + f"{rng.randrange(10_000):04d}"),
        )
        if phonenumbers.is_valid_number(number):
            return f"+{example.country_code}{number.national_number}"
    return None


def prepare_city(city: SimulatedCity, *, citizens: int, start: datetime) -> None:
    """Register the city's client applications and the first citizens who will use its
    services (more are registered as the months need them)."""
    app = city.app
    with get_db(app).session() as session:
        # Numbers are unique to a person: an earlier run's citizens keep theirs.
        city.phones.update(
            session.scalars(sa.select(Citizen.phone).where(Citizen.phone.is_not(None)))
        )
        for kind in ("app", "web"):
            _, key = clients.create_client(
                db_session=session, name=f"Simulated {kind} client", kind=kind
            )
            city.api_keys[kind] = key
        shares = [city.population_shares.get(b.value, BASE_SHARES[b]) for b in BANDS]
        wanted: dict[AgeBand, int] = {}
        for band in city.rng.choices(BANDS, shares, k=citizens):
            wanted[band] = wanted.get(band, 0) + 1
        for band, count in wanted.items():
            _register(city, session, band, count, start)
        session.commit()


def _register(city: SimulatedCity, session, band: AgeBand, count: int, now: datetime) -> None:
    """Register `count` more citizens of a band (the session commits)."""
    app, rng = city.app, city.rng
    region = app.config["DEFAULT_COUNTRY_CODE"] or "IT"
    slug = app.config["TRACKING_PREFIX"].lower()
    districts = app.config["DISTRICTS"] or [None]
    people = []
    pool = city.citizens.setdefault(band, [])
    for n in range(len(pool), len(pool) + count):
        digital = rng.random() < digital_probability(band, city.context)
        phone = _phone(region, rng)
        if phone in city.phones:
            phone = None
        if phone:
            city.phones.add(phone)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        people.append(
            NewCitizen(
                name=f"{first} {last}",
                email=f"{first}.{last}.{city.run}{band.value}.{n}@{slug}.example".lower(),
                phone=phone,
                birth_year=_birth_year(band, now.year, rng),
                preferred_channel="email" if digital else "phone",
                language=app.config["DEFAULT_LANGUAGE"],
                district=rng.choice(districts),
            )
        )
    made = register_citizens(db_session=session, people=people, now=now)
    pool.extend((i, band, p.email, p.phone) for i, p in zip(made, people, strict=True))


def _users(
    city: SimulatedCity, session, band: AgeBand, count: int, now: datetime, service: str | None
) -> list[Person]:
    """`count` different citizens of a band, registering more when the city has too few; with a
    `service`, only people who have not taken part in it yet (a consultation takes one answer
    per person)."""
    pool = city.citizens.get(band, [])
    free = (
        pool if service is None else [p for p in pool if (service, p[0]) not in city.participated]
    )
    if len(free) < count:
        start = len(pool)
        _register(city, session, band, count - len(free) + count // 4 + 5, now)
        free = free + city.citizens[band][start:]
    return city.rng.sample(free, count)


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
    """The names of a choice for each required question, as a citizen writes them in free text.

    A list of several choices (an alert's topics) is read by its keys, which its question lists.
    """
    return " ".join(
        (choice.key if attribute.datatype is Datatype.MULTIVALUELIST else choice.name)
        for attribute in spec.attributes
        if attribute.required and attribute.values
        for choice in [rng.choice(attribute.values)]
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
            # Nothing happens after the simulation's end (it would open a month of its own).
            if rng.random() < 0.45 and at + timedelta(hours=3) < until:
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
    scale: float = 1.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> SimulationReport:
    """Play `months` calendar months up to `end` (default: the start of this month).

    `scale` is the share of the intended users played: 1 is the city's real uptake.
    """
    report = SimulationReport()
    end = end or datetime.now(UTC)
    periods = pilot_months(end, months)
    timeline_end = datetime(end.year, end.month, 1, tzinfo=UTC)
    lock = threading.Lock()  # one request at a time: the nodes' clock is shared
    with httpx.Client(timeout=30) as http:
        for index, month in enumerate(periods):
            next_month = (month + timedelta(days=32)).replace(day=1)
            for city in cities:
                month_of_pilot = Month(index, month, next_month, timeline_end)
                _simulate_month(city, http, report, month_of_pilot, scale, lock)
                _work_cases(city, month, timeline_end, report)
            if progress:
                progress(month.strftime("%Y-%m"), index + 1, len(periods))
    return report


@dataclass(frozen=True)
class Month:
    """One month of the pilot: its place (0 is the first), its bounds, and the simulation's
    end (nothing happens after it)."""

    index: int
    start: datetime
    end: datetime
    until: datetime

    def moment(self, rng: random.Random) -> datetime:
        """A moment of the month, uniformly."""
        return self.start + timedelta(
            seconds=rng.uniform(0, (self.end - self.start).total_seconds())
        )


# Each channel carries a few requests over HTTP in every city every month; the rest of the
# volume goes in bulk (carmen.bulk).
HTTP_CHANNELS = (Channel.APP, Channel.WEB, Channel.SMS, Channel.EMAIL, Channel.PHONE)


def _simulate_month(city, http, report, month: Month, scale: float, lock) -> None:
    rng = city.rng
    channels = Channels(city, http, report)
    agent, _ = _staff(city.app)
    period = month.start.strftime("%Y-%m")
    with get_db(city.app).session() as session:
        specs = [spec_of(service) for service in list_active(db_session=session)]
        chosen: dict[str, list[Person]] = {}
        for spec in specs:
            # One answer per person to a consultation; a subscriber stays subscribed, so each
            # month's users of an alert service are new subscribers.
            once = spec.code if spec.identity in ("consultation", "alert-subscription") else None
            people: list[Person] = []
            for band in BANDS:
                expected = city.intended_users(spec.identity, band, month.index) * scale
                key = (spec.code, period)
                city.intended[key] = city.intended.get(key, 0.0) + expected
                count = _poisson(rng, expected)
                people += _users(city, session, band, count, month.start, once)
            rng.shuffle(people)
            chosen[spec.code] = people
        session.commit()
    for spec, channel, person in _over_http(city, specs, chosen, agent):
        now = month.moment(rng)
        with lock, simulated_time(now):
            _one_request(channels, spec, person, channel, rng.choice(DESCRIPTIONS), now, agent)
    _in_bulk(city, specs, chosen, month, report)


def _takes_over_http(city: SimulatedCity, spec: ServiceSpec, channel: Channel, agent) -> bool:
    """Whether the simulator can send a request of this service on this channel."""
    if channel.value not in {c.value for c in spec.channels}:
        return False
    if channel is Channel.SMS:
        # Bookings by SMS name a date and time the simulator does not pick.
        return bool(city.sms_token and spec.sms_keyword and spec.identity != "appointment-booking")
    if spec.identity == "consultation":
        return False  # the demo's consultations verify people by their phone's SMS
    if channel is Channel.EMAIL:
        # Mail answers no question from its words: each required choice needs a catch-all.
        return all(
            catch_all(a) is not None
            for a in spec.attributes
            if a.required and a.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
        )
    return channel is not Channel.PHONE or agent is not None


def _over_http(
    city: SimulatedCity, specs, chosen, agent
) -> list[tuple[ServiceSpec, Channel, Person]]:
    """Who of this month's users comes over HTTP: one request on each channel, by a service
    that takes it; they are taken out of `chosen`, which the bulk then writes."""
    planned = []
    for channel in HTTP_CHANNELS:
        options = [s for s in specs if _takes_over_http(city, s, channel, agent) and chosen[s.code]]
        if not options:
            continue
        spec = city.rng.choice(options)
        people = chosen[spec.code]
        usable = [p for p in people if p[3]] if channel is Channel.SMS else people
        if not usable:
            continue
        person = usable[0]
        people.remove(person)
        planned.append((spec, channel, person))
    return planned


def _one_request(channels, spec, citizen, channel, text, now, agent) -> None:
    if spec.identity == "consultation":
        # A consultation takes participations, not requests: verified by the phone's SMS.
        channels.vote(spec, citizen)
    elif channel in (Channel.APP, Channel.WEB):
        channels.open311(channel.value, spec, citizen, text, now)
    elif channel is Channel.SMS:
        if channels.sms(spec, citizen, text, now) and spec.identity == "alert-subscription":
            channels.city.participated.add((spec.code, citizen[0]))  # subscribed now
    elif channel is Channel.EMAIL:
        channels.email(spec, citizen, text, now)
    else:
        channels.phone(spec, citizen, text, now, agent)


def _offered(spec: ServiceSpec) -> frozenset[str]:
    return frozenset(c.value for c in spec.channels)


def _channel_of(city: SimulatedCity, spec: ServiceSpec, person: Person) -> Channel:
    """The channel a citizen takes to a service: digital with their band's probability."""
    offered = _offered(spec)
    digital = [c for c in DIGITAL_WEIGHTS if c.value in offered]
    if person[3] is None or spec.identity == "appointment-booking":
        digital = [c for c in digital if c is not Channel.SMS]
    if digital and city.rng.random() < digital_probability(person[1], city.context):
        return city.rng.choices(digital, [DIGITAL_WEIGHTS[c] for c in digital])[0]
    if Channel.PHONE.value in offered:
        return Channel.PHONE
    return digital[0] if digital else Channel.WEB


def _in_bulk(city: SimulatedCity, specs, chosen, month: Month, report) -> None:
    """The month's other users, through the node's service layer in batches (carmen.bulk)."""
    app = city.app
    with get_db(app).session() as session:
        writer = None
        for spec in specs:
            people = chosen[spec.code]
            if not people:
                continue
            if spec.identity == "consultation":
                _participations(city, session, spec, people, month, report)
            elif spec.identity == "alert-subscription":
                _subscriptions(city, session, spec, people, month, report)
            else:
                writer = writer or PilotWriter(
                    db_session=session,
                    prefix=app.config["TRACKING_PREFIX"],
                    language=app.config["DEFAULT_LANGUAGE"],
                    now=month.until,
                )
                worked = [_worked(city, session, spec, p, month) for p in people]
                for start in range(0, len(worked), 2000):
                    writer.write_pilot(worked[start : start + 2000])
                for request in worked:
                    report.count(request.channel)
                    report.cases_worked += request.closed is not None and not request.rejected
        session.commit()


def _citizens(session, people: list[Person]) -> list[Any]:
    ids = [p[0] for p in people]
    found = {c.id: c for c in session.scalars(sa.select(Citizen).where(Citizen.id.in_(ids)))}
    return [found[i] for i in ids]


def _participations(city, session, spec, people, month: Month, report) -> None:
    consultation = consultations.for_service(db_session=session, service_code=spec.code)
    if consultation is None:
        return
    answers = []
    for person, citizen in zip(people, _citizens(session, people), strict=True):
        now = month.moment(city.rng)
        channel = Channel.SMS.value  # the signed SMS proves the phone (verification=phone)
        try:
            consultations.check_open(consultation, language="en", now=now)
            consultations.check_eligible(
                db_session=session,
                consultation=consultation,
                citizen=citizen,
                channel=channel,
                now=now,
            )
        except NodeError as exc:
            report.refused.append(f"{city.name} consultation: {exc}")
            continue
        answers.append((person[0], city.rng.choice(consultation.options), now))
        city.participated.add((spec.code, person[0]))
        report.count(channel)
    record_participations(
        db_session=session, consultation=consultation, answers=answers, channel=Channel.SMS.value
    )


def _subscriptions(city, session, spec, people, month: Month, report) -> None:
    settings = alerts.settings_of(
        services_dir=city.app.config["SERVICES_DIR"], service_code=spec.code
    )
    rng = city.rng
    made = []
    for person in people:
        via = _channel_of(city, spec, person)
        delivery = "sms" if via is Channel.SMS and person[3] else "email"
        if delivery not in settings.delivery_channels:
            delivery = settings.delivery_channels[0]
        if delivery == "sms" and not person[3]:
            report.refused.append(f"{city.name} alerts: no phone for alerts by SMS")
            continue
        made.append(
            NewSubscription(
                citizen_id=person[0],
                delivery=delivery,
                via=via.value,
                topics=[rng.choice(settings.topics)],
                areas=[rng.choice(settings.area_keys)],
                at=month.moment(rng),
            )
        )
        city.participated.add((spec.code, person[0]))
        report.count(via.value)
    subscribe_citizens(db_session=session, service_code=spec.code, subscriptions=made)


def _worked(city: SimulatedCity, session, spec: ServiceSpec, person: Person, month: Month):
    """A request and what the city's staff did with it, as fast as its efficiency allows."""
    rng = city.rng
    opened = month.moment(rng)
    attributes = intake.validate_attributes(spec, attribute_answers(spec, rng, opened))
    routing = intake.route(spec, attributes)
    workers = (
        _caseworkers(city, session).get(routing.department) or _caseworkers(city, session)[None]
    )
    request = WorkedRequest(
        service_code=spec.code,
        channel=_channel_of(city, spec, person).value,
        citizen_id=person[0],
        band=person[1],
        description=rng.choice(DESCRIPTIONS),
        attributes=attributes,
        opened=opened,
        routing=routing,
        staff_id=rng.choice(workers),
    )
    efficiency = city.context.get("egov_index_2018", 0.8) / 0.8
    at = opened + timedelta(hours=rng.expovariate(efficiency / 6))
    if at >= month.until:
        return request
    request.acknowledged = at
    if rng.random() < 0.05:
        request.closed, request.rejected = at + timedelta(hours=1), True
        return request
    at += timedelta(hours=rng.expovariate(efficiency / (routing.sla_hours * 0.45)))
    if at >= month.until:
        return request
    request.closed = at
    if rng.random() < 0.45 and at + timedelta(hours=3) < month.until:
        in_time = at <= opened + timedelta(hours=routing.sla_hours)
        score = rng.choice([4, 5, 5] if in_time else [2, 3, 3, 4])
        request.feedback = (at + timedelta(hours=3), score)
    return request


def _caseworkers(city: SimulatedCity, session) -> dict[str | None, list[int]]:
    """The ids of each department's caseworkers (None: a supervisor, for the others)."""
    if city.staff is None:
        found: dict[str | None, list[int]] = {None: [_supervisor(session).id]}
        for worker in staff.list_caseworkers(db_session=session):
            if worker.department is not None:
                found.setdefault(worker.department.code, []).append(worker.id)
        city.staff = found
    return city.staff


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
