"""The demo: a real European city's node with its service, some activity, served on loopback."""

import json
import random
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.progress import Progress

from carmen.cities import ATTRIBUTION, City, find_city
from node.cases import service as cases
from node.cases.models import CaseStatus
from node.cases.schemas import Actor
from node.database import get_db, utcnow
from node.instance import initialise, load_services, open_app
from node.intake import service as intake
from node.profiles import service as profiles
from node.services.service import list_active
from node.staff import service as staff

EXAMPLE_SERVICES = Path(__file__).resolve().parents[1] / "node" / "services" / "examples"
FIRST_NAMES = [
    "Giulia",
    "Marco",
    "Sofia",
    "Luca",
    "Chiara",
    "Matteo",
    "Anna",
    "Paolo",
    "Elena",
    "Davide",
    "Sara",
    "Andrea",
    "Francesca",
    "Lorenzo",
    "Marta",
    "Giorgio",
]
LAST_NAMES = [
    "Rossi",
    "Bianchi",
    "Ferrari",
    "Esposito",
    "Romano",
    "Gallo",
    "Costa",
    "Fontana",
    "Conti",
    "Ricci",
    "Bruno",
    "Moretti",
]
DISTRICTS = ["Centro", "Navile", "Savena", "Reno", "Porto", "San Donato"]
DESCRIPTIONS = {
    "traffic": "Heavy lorries pass all night and the windows shake",
    "works": "Building site starts drilling before 7 in the morning",
    "venue": "Loud music from the bar until 3 am on weekdays",
    "other": "A generator in the courtyard runs day and night",
}


@dataclass
class Login:
    """A demo account to print."""

    role: str
    email: str
    password: str


def slug(city: City) -> str:
    """A folder name for the city's node."""
    name = "".join(ch if ch.isalnum() else "-" for ch in city.name.split("/")[0].strip().lower())
    return f"{city.country.lower()}-{name.strip('-')}"


def prepare(*, root: Path, city_name: str, fresh: bool, seed: int = 7) -> tuple[Path, list[Login]]:
    """Create (or reuse) the demo node of one city, with its service and some activity."""
    city = find_city(city_name)
    instance = root / slug(city)
    credentials = instance / "demo-logins.json"
    if fresh and instance.exists():
        shutil.rmtree(instance)
    if credentials.exists():
        return instance, [Login(**item) for item in json.loads(credentials.read_text())]

    with Progress() as progress:
        task = progress.add_task(f"Creating the node for {city.name}", total=4)
        admin = Login("admin", "admin@demo.carmen.example", secrets.token_urlsafe(9))
        initialise(
            path=instance,
            city=city.name,
            country=city.country,
            population=city.population,
            admin_email=admin.email,
            admin_password=admin.password,
            districts=DISTRICTS,
        )
        shutil.copytree(EXAMPLE_SERVICES, instance / "services", dirs_exist_ok=True)
        progress.advance(task)
        app = open_app(instance)
        load_services(app)
        progress.advance(task)
        logins = [admin]
        with get_db(app).session() as db_session:
            for role, department in (
                ("supervisor", None),
                ("caseworker", "environment"),
                ("caseworker", "building-control"),
                ("agent", None),
            ):
                login = Login(
                    role,
                    f"{role}.{department or 'all'}@demo.carmen.example",
                    secrets.token_urlsafe(9),
                )
                staff.create_user(
                    db_session=db_session,
                    email=login.email,
                    role=role,
                    password=login.password,
                    department_code=department,
                    must_change_password=False,
                )
                logins.append(login)
            db_session.commit()
        progress.advance(task)
        _seed_activity(
            app,
            random.Random(seed),
            progress,
            prefix=app.config["TRACKING_PREFIX"],
            region=app.config["DEFAULT_COUNTRY_CODE"],
        )
        progress.advance(task)
    credentials.write_text(json.dumps([login.__dict__ for login in logins], indent=2))
    credentials.chmod(0o600)
    return instance, logins


def _seed_activity(
    app, rng: random.Random, progress: Progress, *, prefix: str, region: str
) -> None:
    """Three months of citizens' requests through several channels, worked by staff."""
    with get_db(app).session() as db_session:
        services = list_active(db_session=db_session)
        workers = staff.list_caseworkers(db_session=db_session)
        task = progress.add_task("Simulating three months of requests", total=60)
        now = utcnow()
        for n in range(60):
            when = now - timedelta(days=rng.uniform(0, 90))
            citizen = None
            channel = rng.choices(["web", "app", "sms", "email", "phone"], [4, 3, 1, 2, 2])[0]
            if rng.random() < 0.8:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                data = profiles.parse_citizen(
                    {
                        "name": f"{first} {last}",
                        "email": f"{first}.{last}.{n}@example.org".lower(),
                        "district": rng.choice(DISTRICTS),
                        "birth_year": rng.randint(1940, 2005),
                        "preferred_channel": channel,
                        "language": rng.choice(["it", "it", "en"]),
                    },
                    default_region=region,
                )
                citizen = profiles.create_citizen(
                    db_session=db_session, data=data, actor=Actor.citizen(), now=when
                )
            source = rng.choice(list(DESCRIPTIONS))
            case = intake.submit(
                db_session=db_session,
                service_code=services[0].code,
                channel=channel,
                citizen=citizen,
                description=DESCRIPTIONS[source],
                attributes={"source": source},
                address=f"Via Indipendenza {n + 1}",
                tracking_prefix=prefix,
                now=when,
            )
            _work(db_session, case, rng, workers, when)
            progress.advance(task)
        db_session.commit()


def _work(db_session, case, rng: random.Random, workers, when) -> None:
    """Staff work a case as far as its age allows."""
    team = [w for w in workers if w.department_id == case.department_id] or workers
    actor = Actor.of_staff(rng.choice(team))
    steps = rng.choices([0, 1, 2, 3], [1, 2, 2, 6])[0]
    at = when
    for index, action in enumerate(("acknowledge", "start", "resolve")[:steps]):
        at += timedelta(hours=rng.uniform(1, 40))
        if at > utcnow():
            return
        if index == 0:
            cases.assign(
                db_session=db_session, case=case, assignee=actor.staff, actor=actor, now=at
            )
        reply = (
            "Thank you: an inspector checked and the problem is solved."
            if action == "resolve"
            else None
        )
        cases.move(
            db_session=db_session, case=case, action=action, actor=actor, reply=reply, now=at
        )
    if case.status is CaseStatus.RESOLVED and rng.random() < 0.6:
        cases.record_feedback(
            db_session=db_session,
            case=case,
            score=rng.choice([3, 4, 4, 5, 5, 2]),
            channel=case.channel,
            now=at + timedelta(hours=2),
        )


def banner(instance: Path, logins: list[Login], *, host: str, port: int) -> str:
    """What the demo prints once it serves."""
    lines = [
        f"CARMEN demo node in {instance}",
        f"  citizen portal:  http://{host}:{port}/",
        f"  back office:     http://{host}:{port}/office/",
        "  logins:",
        *[f"    {login.role:<11} {login.email:<42} {login.password}" for login in logins],
        f"  {ATTRIBUTION}",
        "serving (Ctrl-C to stop)",
    ]
    return "\n".join(lines)
