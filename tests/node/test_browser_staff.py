"""Staff management in a real browser: an administrator adds, moves and disables an account."""

import pytest

from node.database import get_db
from node.staff.models import StaffUser
from tests.factories import PASSWORD, make_staff

NEW_PASSWORD = "Marco's own long password"


def sign_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/office/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.browser
def test_an_admin_creates_moves_and_disables_a_staff_account_which_then_cannot_sign_in(
    app, live_url, browser, artifacts_dir
):
    with get_db(app).session() as session:
        admin = make_staff(session, "admin", department=None, email="admin@example.org")
        admin.must_change_password = False
        session.commit()

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    boss = office.new_page()
    sign_in(boss, live_url, "admin@example.org", PASSWORD)
    boss.goto(f"{live_url}/office/staff")
    form = boss.locator("#new-staff")
    form.get_by_label("E-mail").fill("marco@example.org")
    form.get_by_label("Name").fill("Marco Bianchi")
    form.get_by_label("Role").select_option("caseworker")
    form.get_by_label("Department (code)").fill("environment")
    form.get_by_role("button", name="Add").click()
    one_time = boss.locator("#one-time code").inner_text().strip()
    assert len(one_time) >= 12
    row = boss.locator("tr[data-email='marco@example.org']")
    assert "caseworker" in row.get_by_label("Role").input_value()
    assert row.get_by_label("Department (code)").input_value() == "environment"
    boss.screenshot(path=artifacts_dir / "staff-01-created.png", full_page=True)

    # Marco signs in with the one-time password and must choose his own first.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    marco = desk.new_page()
    sign_in(marco, live_url, "marco@example.org", one_time)
    assert marco.url.endswith("/office/password")
    marco.get_by_label("Current password").fill(one_time)
    marco.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    marco.get_by_label("New password again").fill(NEW_PASSWORD)
    marco.get_by_role("button", name="Change password").click()
    assert marco.url.rstrip("/").endswith("/office")  # the queue

    # The admin makes him a supervisor of the roads department.
    row.get_by_label("Role").select_option("supervisor")
    row.get_by_label("Department (code)").fill("roads")
    row.get_by_role("button", name="Save").click()
    row = boss.locator("tr[data-email='marco@example.org']")
    assert row.get_by_label("Role").input_value() == "supervisor"
    assert row.get_by_label("Department (code)").input_value() == "roads"
    with get_db(app).session() as session:
        marco_row = session.query(StaffUser).filter_by(email="marco@example.org").one()
        assert (marco_row.role.value, marco_row.department.code) == ("supervisor", "roads")

    row.get_by_role("button", name="Disable").click()
    row = boss.locator("tr[data-email='marco@example.org']")
    assert row.get_by_role("button", name="Enable").is_visible()
    boss.screenshot(path=artifacts_dir / "staff-02-disabled.png", full_page=True)

    # His open session has ended, and his password no longer opens the back office.
    marco.reload()
    assert "/office/login" in marco.url
    sign_in(marco, live_url, "marco@example.org", NEW_PASSWORD)
    assert "/office/login" in marco.url
    assert marco.get_by_text("Wrong e-mail or password.").is_visible()
    office.close()
    desk.close()
