"""A caller quotes the number the city's earlier system gave: staff and the call centre find it."""

import re

import pytest
import sqlalchemy as sa

from node.cases.models import Case, ImportedRequest
from node.database import get_db, utcnow
from tests.factories import make_staff, make_template_node_app
from tests.node.test_import import SAMPLE, run_import
from tests.node.web import cheap_password_hashing, sign_in_staff, text


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request, tmp_path, monkeypatch):
    """A node on either database with the NYC sample imported, one import moment ago."""
    cheap_password_hashing(monkeypatch)
    config = {"WTF_CSRF_ENABLED": False}
    if request.param == "postgres":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_template_node_app(tmp_path / "node", **config)
    run_import(app, SAMPLE, now=utcnow(), quarantine_path=tmp_path / "quarantine.csv")
    yield app
    get_db(app).engine.dispose()


def staff_client(app, role: str, department: str | None = None):
    with get_db(app).session() as session:
        user = make_staff(session, role, department)
        session.commit()
    client = app.test_client()
    assert sign_in_staff(client, user.email).status_code == 302
    return client


def case_of(app, legacy_id: str) -> Case:
    with get_db(app).session() as session:
        return session.scalar(
            sa.select(Case)
            .join(ImportedRequest, ImportedRequest.case_id == Case.id)
            .where(ImportedRequest.legacy_id == legacy_id)
        )


def listed_codes(html: str) -> list[str]:
    return re.findall(r'class="code">([A-Z]{2}-[0-9A-Z]{6})<', html)


def test_the_case_page_shows_the_legacy_number_and_an_open_import_is_not_late(app):
    client = staff_client(app, "supervisor")
    case = case_of(app, "59893284")  # open, and the export gives no due date
    page = text(client.get(f"/office/cases/{case.id}"))
    assert re.search(r'id="legacy-number"><span class="code">59893284</span>.*\(nyc311\)', page)
    assert "SLA breached" not in page
    late = case_of(app, "59893283")  # open, past the due date the earlier system set
    assert "SLA breached" in text(client.get(f"/office/cases/{late.id}"))


def test_staff_find_a_case_in_the_queue_by_its_legacy_number_or_tracking_code(app):
    client = staff_client(app, "supervisor")
    case = case_of(app, "59893288")
    assert listed_codes(text(client.get("/office/?number=59893288"))) == [case.tracking_code]
    assert listed_codes(text(client.get("/office/?number=%2059893288%20"))) == [case.tracking_code]
    by_code = text(client.get(f"/office/?number={case.tracking_code.lower()}"))
    assert listed_codes(by_code) == [case.tracking_code]
    assert listed_codes(text(client.get("/office/?number=00000000"))) == []
    # A caseworker of another department is not shown what they may not see.
    other = staff_client(app, "caseworker", "environment")
    assert listed_codes(text(other.get("/office/?number=59893288"))) == []


def test_the_call_centre_finds_the_case_a_caller_quotes_the_old_number_of(app):
    client = staff_client(app, "agent")
    case = case_of(app, "59893281")
    page = text(client.get("/office/console/?q=59893281"))
    assert f'href="/office/cases/{case.id}" class="code">{case.tracking_code}</a>' in page
    assert '<span class="code">59893281</span>' in page
    assert "Nobody matches 59893281" in page  # imported cases are anonymous: no caller profile
    again = text(client.get(f"/office/console/?q={case.tracking_code}"))
    assert f'class="code">{case.tracking_code}</a>' in again
