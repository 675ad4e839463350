"""Create and open a node's instance folder: settings file, database, first admin."""

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from node.app import create_app
from node.behaviours import BEHAVIOURS
from node.config import INSTANCE_FILE, NodeSettings
from node.database import get_db
from node.migrate import upgrade
from node.profiles.service import seed_segment_definitions
from node.services.service import LoadReport, load_catalogue
from node.staff import service as staff
from node.staff.models import Role

# Eurostat writes Greece and the United Kingdom as EL and UK; phone numbering uses GR and GB.
_PHONE_REGION = {"EL": "GR", "UK": "GB"}


@dataclass
class NewInstance:
    """What `initialise` created and must be told to the person who ran it once."""

    path: Path
    admin_email: str
    admin_password: str


class InstanceError(Exception):
    """The instance folder cannot be created or opened; the message says why."""


def initialise(
    *,
    path: Path,
    city: str,
    country: str,
    population: int,
    admin_email: str,
    languages: list[str] | None = None,
    districts: list[str] | None = None,
    database_url: str | None = None,
    admin_password: str | None = None,
    settings: dict[str, Any] | None = None,
) -> NewInstance:
    """Create a node instance; on any failure nothing is left behind."""
    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InstanceError(f"country must be a two-letter code such as IT, not {country!r}")
    if population <= 0:
        raise InstanceError("population must be a positive number of inhabitants")
    if not city.strip():
        raise InstanceError("city must not be empty")
    if (path / INSTANCE_FILE).exists():
        raise InstanceError(f"{path} already holds a node ({INSTANCE_FILE} exists)")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "services").mkdir(exist_ok=True)
        values = {
            "city": city.strip(),
            "country": country,
            "population": population,
            "secret_key": secrets.token_hex(32),
            "languages": languages or ["en", "it"],
            "default_language": (languages or ["en"])[0],
            "default_country_code": _PHONE_REGION.get(country, country),
            "districts": districts or [],
            **(settings or {}),  # further settings, lower-case keys as in node.toml
        }
        if database_url:
            values["database_url"] = database_url
        NodeSettings.write_file(path, values)
        app = open_app(path)
        password = admin_password or staff.one_time_password()
        with get_db(app).session() as db_session:
            seed_segment_definitions(db_session=db_session, districts=districts or [])
            staff.create_user(
                db_session=db_session,
                email=admin_email,
                role=Role.ADMIN,
                password=password,
                name="Administrator",
                must_change_password=admin_password is None,
            )
            db_session.commit()
        get_db(app).engine.dispose()
        return NewInstance(path=path, admin_email=admin_email.lower(), admin_password=password)
    except BaseException:
        # A half-made instance would block the next try; remove what this call created.
        if created:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for name in (INSTANCE_FILE, "node.db", "node.db-wal", "node.db-shm"):
                (path / name).unlink(missing_ok=True)
        raise


def open_app(path: Path, **overrides) -> Flask:
    """The app of an existing instance, with its database migrated to the latest schema."""
    if not (path / INSTANCE_FILE).exists():
        raise InstanceError(f"{path} is not a node instance: run `carmen node init` first")
    app = create_app({"INSTANCE_PATH": path, **overrides})
    upgrade(app.config["DATABASE_URL"])
    return app


def load_services(app: Flask, *, refuse_unstaffed: bool = False) -> LoadReport:
    """Discover the services installed in the instance and update the catalogue; a serving
    node refuses a service whose cases could go to a department without staff."""
    with get_db(app).session() as db_session:
        report = load_catalogue(
            db_session=db_session,
            services_dir=app.config["SERVICES_DIR"],
            behaviours=list(BEHAVIOURS),
            refuse_unstaffed=refuse_unstaffed,
        )
        db_session.commit()
    return report
