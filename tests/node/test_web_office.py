"""The back office in a browser-less client: sign-in, the queue, a case's actions, SLA, staff."""

import re
from datetime import timedelta

import pytest

from node.cases import service as cases
from node.cases.models import Case, CaseStatus, EventKind
from node.cases.schemas import Actor
from node.database import get_db, utcnow
from tests.factories import make_case, make_staff
from tests.node.web import cheap_password_hashing, rows, sign_in_staff, text


@pytest.fixture
def client(app, monkeypatch):
    """A test client on an app with CSRF off (test_web_csrf.py keeps it on)."""
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


@pytest.fixture
def world(app, client):
    """A caseworker of each department, a supervisor, an admin, an agent, and two cases."""
    with get_db(app).session() as session:
        people = {
            "env": make_staff(session, "caseworker", "environment"),
            "building": make_staff(session, "caseworker", "building-control"),
            "supervisor": make_staff(session, "supervisor"),
            "admin": make_staff(session, "admin"),
            "agent": make_staff(session, "agent"),
        }
        venue = make_case(session, attributes={"source": "venue"})
        works = make_case(session, attributes={"source": "works"}, channel="sms")
        session.commit()
        yield {
            **{name: user.email for name, user in people.items()},
            "venue": venue.id,
            "venue_code": venue.tracking_code,
            "works": works.id,
            "works_code": works.tracking_code,
        }


def _case(app, case_id: int) -> Case:
    with get_db(app).session() as session:
        return session.get(Case, case_id)


def test_wrong_password_is_refused_and_the_right_one_opens_the_queue(client, world):
    refused = sign_in_staff(client, world["env"], "not the password")
    assert refused.status_code == 401
    assert "Wrong e-mail or password." in text(refused)
    assert client.get("/office/").status_code == 302

    assert sign_in_staff(client, world["env"]).status_code == 302
    queue = text(client.get("/office/"))
    assert world["venue_code"] in queue


def test_staff_with_a_one_time_password_must_change_it_first(app, client):
    with get_db(app).session() as session:
        from node.staff import service as staff

        staff.create_user(
            db_session=session,
            email="new@city.example",
            role="supervisor",
            password="one-time-pass",
        )
        session.commit()
    sign_in_staff(client, "new@city.example", "one-time-pass")
    held = client.get("/office/")
    assert held.status_code == 302 and held.location.endswith("/office/password")

    too_short = client.post(
        "/office/password", data={"current": "one-time-pass", "new": "short", "confirm": "short"}
    )
    assert too_short.status_code == 422
    assert "at least 10 characters long" in text(too_short)
    wrong_current = client.post(
        "/office/password",
        data={"current": "guess", "new": "a much longer one", "confirm": "a much longer one"},
    )
    assert "The password is wrong." in text(wrong_current)

    changed = client.post(
        "/office/password",
        data={
            "current": "one-time-pass",
            "new": "a much longer one",
            "confirm": "a much longer one",
        },
    )
    assert changed.status_code == 302
    assert client.get("/office/").status_code == 200
    client.post("/office/logout")
    assert sign_in_staff(client, "new@city.example", "a much longer one").status_code == 302


def test_a_caseworker_sees_only_their_departments_cases(client, world):
    sign_in_staff(client, world["env"])
    queue = text(client.get("/office/"))
    assert world["venue_code"] in queue
    assert world["works_code"] not in queue
    assert client.get(f"/office/cases/{world['works']}").status_code == 404
    assert client.post(f"/office/cases/{world['works']}/acknowledge").status_code == 404

    client.post("/office/logout")
    sign_in_staff(client, world["supervisor"])
    queue = text(client.get("/office/"))
    assert world["venue_code"] in queue and world["works_code"] in queue


def test_the_queue_filters_and_pages(app, client, world):
    with get_db(app).session() as session:
        for _ in range(26):
            make_case(session)
        late = make_case(session, now=utcnow() - timedelta(days=10))
        late_code = late.tracking_code
        session.commit()
    sign_in_staff(client, world["supervisor"])

    first = text(client.get("/office/"))
    assert "(29)" in first and "Page 1 of 2" in first
    second = text(client.get("/office/?page=2"))
    assert "Page 2 of 2" in second

    breached = text(client.get("/office/?sla=breached"))
    assert "(1)" in breached and late_code in breached
    by_status = text(client.get("/office/?status=acknowledged"))
    assert "No case matches these filters." in by_status
    by_department = client.get("/office/").get_data(as_text=True)
    building = re.search(r'<option value="(\d+)">Building Control</option>', by_department)
    only_works = text(client.get(f"/office/?department={building.group(1)}"))
    assert "(1)" in only_works and world["works_code"] in only_works
    assert "(29)" in text(client.get("/office/?service=noise-report"))
    # An unknown filter value is ignored rather than breaking the page.
    assert client.get("/office/?status=bogus&page=-3").status_code == 200


def test_a_case_is_worked_from_new_to_resolved_with_a_public_reply(app, client, world):
    sign_in_staff(client, world["env"])
    base = f"/office/cases/{world['venue']}"
    assert client.post(f"{base}/acknowledge").status_code == 302
    assert client.post(f"{base}/start").status_code == 302
    client.post(f"{base}/note-bogus")  # unknown action: nothing happens
    client.post(f"{base}/note", data={"note-text": "Called the venue owner"})
    client.post(f"{base}/priority", data={"priority-priority": "high"})
    resolved = client.post(
        f"{base}/resolve", data={"resolve-reply": "The venue now closes at 23:00."}
    )
    assert resolved.status_code == 302
    page = text(client.get(base))
    assert "Resolved" in page and "The venue now closes at 23:00." in page
    assert "Called the venue owner" in page and "Internal note" in page
    assert world["env"] in page  # who
    assert "web portal" in page  # which channel the request came by
    assert "Where does the noise come from?" in page and "Bar, club or venue" in page

    case = _case(app, world["venue"])
    assert case.status is CaseStatus.RESOLVED and case.priority.value == "high"
    with get_db(app).session() as session:
        kinds = [e.kind for e in cases.timeline(db_session=session, case=case)]
    assert kinds[-2:] == [EventKind.RESOLVED, EventKind.REPLY_SENT]


def test_an_illegal_move_is_refused_with_a_clear_message_and_changes_nothing(app, client, world):
    sign_in_staff(client, world["env"])
    before = rows(app)
    refused = client.post(
        f"/office/cases/{world['venue']}/resolve",
        data={"resolve-reply": "Done"},
        follow_redirects=True,
    )
    page = text(refused)
    assert "Nothing was changed" in page
    assert "acknowledge the case before resolving it" in page
    assert rows(app) == before
    assert _case(app, world["venue"]).status is CaseStatus.NEW


def test_a_missing_field_is_shown_next_to_it_and_nothing_is_written(app, client, world):
    sign_in_staff(client, world["env"])
    base = f"/office/cases/{world['venue']}"
    before = rows(app)
    no_reason = client.post(f"{base}/reject", data={"reject-reason": "  "})
    assert no_reason.status_code == 422
    assert 'id="reject-reason-error"' in text(no_reason)

    unknown = client.post(f"{base}/mark_duplicate", data={"mark_duplicate-duplicate_of": "BO-NOPE"})
    assert unknown.status_code == 422
    page = text(unknown)
    assert 'id="mark_duplicate-duplicate_of-error"' in page
    assert "No case has this tracking code." in page
    assert 'value="BO-NOPE"' in page  # what was typed is kept
    assert rows(app) == before

    with get_db(app).session() as session:
        original = make_case(session, attributes={"source": "venue"})
        session.commit()
    client.post(f"{base}/acknowledge")
    duplicate = client.post(
        f"{base}/mark_duplicate",
        data={"mark_duplicate-duplicate_of": original.tracking_code.lower()},
    )
    assert duplicate.status_code == 302
    case = _case(app, world["venue"])
    assert case.status is CaseStatus.DUPLICATE and case.duplicate_of_id == original.id


def test_reject_reopen_assign_and_reply(app, client, world):
    sign_in_staff(client, world["supervisor"])
    base = f"/office/cases/{world['venue']}"
    client.post(f"{base}/reject", data={"reject-reason": "Not within the city"})
    assert _case(app, world["venue"]).status is CaseStatus.REJECTED
    client.post(f"{base}/reopen", data={"reopen-reason": "Checked again"})
    assert _case(app, world["venue"]).status is CaseStatus.ACKNOWLEDGED

    page = text(client.get(base))
    env_id = re.search(rf'<option value="(\d+)">{world["env"]}</option>', page).group(1)
    assert world["building"] not in page  # another department's caseworker is not offered
    client.post(f"{base}/assign", data={"assign-assignee": env_id})
    assert _case(app, world["venue"]).assignee_id == int(env_id)
    client.post(f"{base}/reply", data={"reply-text": "We are on it."})
    page = text(client.get(base))
    assert "Not within the city" in page and "Checked again" in page and "We are on it." in page


def test_an_agent_may_note_but_not_move_a_case(app, client, world):
    sign_in_staff(client, world["agent"])
    base = f"/office/cases/{world['venue']}"
    page = text(client.get(base))
    assert "Acknowledge" not in page and "Add note" in page
    refused = client.post(f"{base}/acknowledge", follow_redirects=True)
    assert "Your role does not allow this action." in text(refused)
    assert _case(app, world["venue"]).status is CaseStatus.NEW


def test_the_sla_overview_is_for_supervisors(app, client, world):
    with get_db(app).session() as session:
        old = make_case(session, now=utcnow() - timedelta(days=5))
        cases.move(db_session=session, case=old, action="acknowledge", actor=Actor.system())
        session.commit()
    sign_in_staff(client, world["env"])
    assert client.get("/office/sla").status_code == 403
    client.post("/office/logout")
    sign_in_staff(client, world["supervisor"])
    page = text(client.get("/office/sla"))
    assert "Environment" in page and "Building Control" in page
    assert 'class="breached">1<' in page


def test_only_admins_see_the_staff_list(client, world):
    sign_in_staff(client, world["supervisor"])
    assert client.get("/office/staff").status_code == 403
    client.post("/office/logout")
    sign_in_staff(client, world["admin"])
    page = text(client.get("/office/staff"))
    assert world["env"] in page and "caseworker" in page
