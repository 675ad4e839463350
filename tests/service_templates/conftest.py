"""Fixtures for the service templates: the shipped templates, city answer sets, small nodes."""

import shutil
from pathlib import Path

import pytest

from node.config import NodeSettings
from service_templates.engine import PACKAGE_TEMPLATES

TEMPLATES = ["issue-report", "alert-subscription", "appointment-booking", "consultation"]

# Three cities that differ in everything a template varies by: name (with an apostrophe and
# letters outside ASCII), language (with and without shipped texts), channels (with and without
# SMS), and each template's own settings.
CITY_ANSWERS: dict[str, dict[str, str]] = {
    "bologna": {
        "city_name": "Bologna",
        "country": "IT",
        "languages": "it,en",
        "channels": "web,app,sms,email,phone,counter",
    },
    "tallinn": {
        "city_name": "Tallinn",
        "country": "EE",
        "languages": "et,en",
        "channels": "web,app,sms",
        "sla_hours": "36",
    },
    "reggio": {
        "city_name": "Reggio nell'Emilia",
        "country": "IT",
        "languages": "ro,hu",  # no texts shipped: English, marked as needing translation
        "channels": "web,email,counter",
        "department": "servizi-cittadini",
    },
}

OWN_ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "issue-report": {
        "tallinn": {"problem_types": "noise,water,graffiti", "photo": "required"},
        "reggio": {"hazard_department": "protezione-civile", "photo": "none"},
    },
    "alert-subscription": {
        "tallinn": {"areas": "Kesklinn,Lasnamäe,Põhja-Tallinn", "topics": "road-works,weather"},
        "reggio": {"target_profiles": "", "quiet_hours": "", "max_alerts_per_day": "1"},
    },
    "appointment-booking": {
        "tallinn": {"opening_hours": "08:30-12:00", "slot_minutes": "15", "weekdays": "mon,wed"},
        "reggio": {"offices": 'Municipio,Anagrafe "Via Toschi"', "desks": "1"},
    },
    "consultation": {
        "bologna": {"opens_on": "2027-03-01", "closes_on": "2027-03-31"},
        "tallinn": {"opens_on": "2027-05-02", "closes_on": "2027-05-16", "options": "yes,no"},
        "reggio": {
            "opens_on": "2027-09-01",
            "closes_on": "2027-10-01",
            "comments": "no",
            "verification": "eid",
        },
    },
}


def answers_for(template: str, city: str) -> dict[str, str]:
    """A complete answer set of one city for one template."""
    return {**CITY_ANSWERS[city], **OWN_ANSWERS[template].get(city, {})}


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped templates that a test may change."""
    target = tmp_path / "templates"
    shutil.copytree(
        PACKAGE_TEMPLATES, target, ignore=shutil.ignore_patterns("*.py[co]", "__pycache__")
    )
    for module in target.glob("*.py"):
        module.unlink()  # the tooling is not a template
    return target


def make_node(path: Path, *, city: str, country: str, languages: list[str], **more) -> Path:
    """A node's settings file, enough for `carmen service` (which needs no database)."""
    path.mkdir(parents=True)
    (path / "services").mkdir()
    NodeSettings.write_file(
        path,
        {"city": city, "country": country, "languages": languages, "secret_key": "test", **more},
    )
    return path
