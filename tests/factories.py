"""Builders of realistic test data, shared by every part's tests."""

import shutil
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


def install_example_services(instance: Path) -> Path:
    """Copy the hand-written example service specs into an instance's services/ folder."""
    target = instance / "services"
    shutil.copytree(EXAMPLE_SERVICES, target, dirs_exist_ok=True)
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
