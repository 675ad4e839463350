"""Builders of realistic test data, shared by every part's tests."""

import atexit
import shutil
import tempfile
from itertools import count
from pathlib import Path

from sqlalchemy.orm import Session

from node.cases.models import Case
from node.cases.schemas import Actor
from node.intake import service as intake
from node.profiles import service as profiles
from node.services import service as catalogue
from node.staff import service as staff
from node.staff.models import StaffUser

EXAMPLE_SERVICES = Path(__file__).resolve().parents[1] / "node" / "services" / "examples"
PASSWORD = "correct horse battery"
_numbers = count(1)
# Answers a shipped template cannot do without (it has no default for them).
_REQUIRED_ANSWERS = {"consultation": {"opens_on": "2027-03-01", "closes_on": "2027-03-31"}}
_generated: list[Path] = []


def install_example_services(instance: Path) -> Path:
    """Copy the hand-written example service specs into an instance's services/ folder."""
    target = instance / "services"
    shutil.copytree(EXAMPLE_SERVICES, target, dirs_exist_ok=True)
    return target


def install_template_services(instance: Path) -> Path:
    """Every shipped template generated into an instance's services/ folder with its default
    answers for Bologna, as `carmen service new` makes them (generated once, then copied)."""
    from service_templates.engine import (
        PACKAGE_TEMPLATES,
        city_answers,
        list_templates,
        new_service,
    )

    if not _generated:
        folder = Path(tempfile.mkdtemp(prefix="carmen-template-services-"))
        for info in list_templates(root=PACKAGE_TEMPLATES):
            new_service(
                root=PACKAGE_TEMPLATES,
                template=info.name,
                services_dir=folder,
                city=city_answers(city="Bologna", country="IT", languages=["en"]),
                node_channels=["web", "app", "sms", "email", "phone", "counter"],
                assignments=_REQUIRED_ANSWERS.get(info.name, {}),
            )
        atexit.register(shutil.rmtree, folder, True)
        _generated.append(folder)
    target = instance / "services"
    shutil.copytree(_generated[0], target, dirs_exist_ok=True)
    return target


def load_services(db_session: Session, instance: Path) -> None:
    """Install the example services and load them into the catalogue."""
    report = catalogue.load_catalogue(
        db_session=db_session, services_dir=install_example_services(instance)
    )
    assert not report.errors, report.errors


def make_staff(
    db_session: Session,
    role: str = "caseworker",
    department: str | None = "environment",
    email: str | None = None,
) -> StaffUser:
    """A staff member with the shared test password."""
    n = next(_numbers)
    return staff.create_user(
        db_session=db_session,
        email=email or f"{role}{n}@city.example",
        role=role,
        password=PASSWORD,
        department_code=department if role == "caseworker" else None,
        must_change_password=False,
    )


def make_citizen(db_session: Session, **values):
    """A citizen with a unique e-mail, living in Navile, born in 1980 unless told otherwise."""
    n = next(_numbers)
    data = {
        "name": f"Giulia Rossi {n}",
        "email": f"giulia{n}@example.org",
        "district": "Navile",
        "birth_year": 1980,
        "language": "it",
    } | values
    return profiles.create_citizen(
        db_session=db_session, data=profiles.parse_citizen(data), actor=Actor.citizen()
    )


def make_case(db_session: Session, citizen=None, channel: str = "web", **values) -> Case:
    """A noise report submitted through a channel."""
    fields = {
        "description": "Loud music every night after midnight",
        "attributes": {"source": "venue"},
        "address": "Via Zamboni 33",
    } | values
    return intake.submit(
        db_session=db_session,
        service_code="noise-report",
        channel=channel,
        citizen=citizen,
        tracking_prefix="BO",
        **fields,
    )


def seed_month(db_session: Session, *, year: int, month: int, cases: int, rng, prefix: str = "BO"):
    """A month of activity: citizens of every age band submit through several channels, staff
    work most cases and some citizens leave feedback. Returns the cases."""
    from datetime import UTC, datetime, timedelta

    from node.cases import service as case_service

    made = []
    for n in range(cases):
        day = datetime(year, month, 1 + rng.randrange(27), rng.randrange(24), tzinfo=UTC)
        citizen, unique = None, next(_numbers)
        if rng.random() < 0.85:
            citizen = profiles.create_citizen(
                db_session=db_session,
                data=profiles.parse_citizen(
                    {
                        "name": f"Canary Person {unique}",
                        "email": f"canary.{unique}@example.org",
                        "phone": f"+39333{unique:07d}",
                        "birth_year": rng.choice([1940, 1955, 1965, 1980, 1990, 2004]),
                        "district": "Navile",
                    }
                ),
                actor=Actor.citizen(),
                now=day,
            )
        case = intake.submit(
            db_session=db_session,
            service_code="noise-report",
            channel=rng.choice(["web", "web", "app", "sms", "phone", "email"]),
            citizen=citizen,
            description=f"Canary description {n} at Via Segreta {n}",
            attributes={"source": rng.choice(["traffic", "venue", "other"])},
            address=f"Via Segreta {n}",
            tracking_prefix=prefix,
            now=day,
        )
        at = day
        for action in ("acknowledge", "start", "resolve")[: rng.choice([0, 1, 3, 3, 3])]:
            at += timedelta(hours=rng.uniform(0.5, 60))
            case_service.move(
                db_session=db_session, case=case, action=action, actor=Actor.system(), now=at
            )
        if case.is_closed and rng.random() < 0.7:
            case_service.record_feedback(
                db_session=db_session,
                case=case,
                score=rng.choice([3, 4, 5, 5]),
                channel=case.channel,
                now=at + timedelta(hours=1),
            )
        made.append(case)
    db_session.flush()
    return made


def add_service(app, spec: str) -> None:
    """Install a hand-written service.toml into a node's services folder and load it."""
    from node.database import get_db

    code = next(line for line in spec.splitlines() if line.startswith("code"))
    folder = Path(app.config["SERVICES_DIR"]) / code.split("=")[1].strip().strip('"')
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.toml").write_text(spec)
    with get_db(app).session() as db_session:
        report = catalogue.load_catalogue(
            db_session=db_session, services_dir=Path(app.config["SERVICES_DIR"])
        )
        assert not report.errors, report.errors
        db_session.commit()


def make_node_app(instance: Path, **overrides):
    """A node app for Bologna on a migrated SQLite database with the example services."""
    from node.app import create_app
    from node.database import get_db
    from node.migrate import upgrade

    instance.mkdir(parents=True, exist_ok=True)
    config = {
        "INSTANCE_PATH": instance,
        "SECRET_KEY": "test",
        "CITY": "Bologna",
        "COUNTRY": "IT",
        "POPULATION": 390_000,
        "DEFAULT_COUNTRY_CODE": "IT",
        "DISTRICTS": ["Navile", "Savena"],
        "TESTING": True,
    } | overrides
    app = create_app(config)
    upgrade(app.config["DATABASE_URL"])
    with get_db(app).session() as db_session:
        load_services(db_session, instance)
        db_session.commit()
    return app


def make_template_node_app(instance: Path, **overrides):
    """A node app for Bologna whose services are generated from the shipped templates too."""
    from node.instance import load_services as load_instance_services

    app = make_node_app(instance, **overrides)
    install_template_services(instance)
    report = load_instance_services(app)
    assert not report.errors, report.errors
    return app
