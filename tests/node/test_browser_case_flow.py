"""One request's round trip in a real browser: portal, back office, and back to the citizen."""

import pytest

from node.database import get_db
from tests.factories import PASSWORD, make_staff

REPLY = "We asked the venue to close at 23:00; an inspector will check next week."


@pytest.mark.browser
def test_a_citizen_request_is_resolved_in_the_back_office_and_the_reply_seen_by_code(
    app, live_url, browser, artifacts_dir
):
    with get_db(app).session() as session:
        worker = make_staff(session, "caseworker", "environment").email
        session.commit()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="it-IT")
    citizen = phone.new_page()
    citizen.goto(f"{live_url}/")
    citizen.get_by_role("link", name="Invia una richiesta").first.click()
    citizen.get_by_label("Descrivi la tua richiesta").fill("Musica alta ogni notte dopo mezzanotte")
    citizen.get_by_label("Where does the noise come from?").select_option("venue")
    citizen.get_by_label("Indirizzo o luogo").fill("Via Zamboni 33")
    citizen.get_by_label("E-mail (facoltativa)").fill("giulia@example.org")
    citizen.screenshot(path=artifacts_dir / "01-portal-request-form.png", full_page=True)
    citizen.get_by_role("button", name="Invia richiesta").click()
    code = citizen.locator("#tracking-code").inner_text().strip()
    assert code.startswith("BO-")
    citizen.screenshot(path=artifacts_dir / "02-portal-tracking-code.png", full_page=True)

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    staff = office.new_page()
    staff.goto(f"{live_url}/office/")
    staff.get_by_label("E-mail").fill(worker)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name=code).click()
    staff.get_by_role("button", name="Acknowledge").click()
    assert staff.locator("#case-status").inner_text() == "Acknowledged"
    staff.get_by_label("Public reply to the citizen").fill(REPLY)
    staff.get_by_role("button", name="Resolve").click()
    assert staff.locator("#case-status").inner_text() == "Resolved"
    timeline = staff.locator("#timeline").inner_text()
    assert "Acknowledged" in timeline and REPLY in timeline and worker in timeline
    staff.screenshot(path=artifacts_dir / "03-office-case-resolved.png", full_page=True)

    citizen.goto(f"{live_url}/track?code={code}")
    assert citizen.locator("#case-status").inner_text() == "Risolta"
    assert REPLY in citizen.locator(".timeline").inner_text()
    citizen.screenshot(path=artifacts_dir / "04-portal-reply-seen.png", full_page=True)
    phone.close()
    office.close()
