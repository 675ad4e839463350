"""A photo in a real browser: a citizen picks a point and sends a photo, staff see both."""

import pytest

from node.database import get_db
from tests.factories import PASSWORD, make_staff
from tests.node.test_photos import camera_jpeg


@pytest.mark.browser
def test_a_photo_uploaded_on_the_portal_shows_on_the_staff_case_page(
    app, live_url, browser, artifacts_dir, tmp_path
):
    with get_db(app).session() as session:
        worker = make_staff(session, "caseworker", "environment").email
        session.commit()
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(camera_jpeg())

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    # No tile server is reachable: the map still takes a click on its plain ground.
    phone.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    citizen = phone.new_page()
    errors: list[str] = []
    citizen.on("pageerror", lambda error: errors.append(str(error)))
    citizen.goto(f"{live_url}/services/noise-report")
    citizen.get_by_label("Describe your request").fill("Broken glass all over the cycle lane")
    citizen.get_by_label("Where does the noise come from?").select_option("other")
    citizen.get_by_label("Address or place").fill("Via Rizzoli 3")
    citizen.locator("#report-map").click(position={"x": 150, "y": 100})
    assert citizen.get_by_label("Latitude (optional)").input_value() != ""
    citizen.get_by_label("Photo (optional)").set_input_files(photo)
    citizen.screenshot(path=artifacts_dir / "photo-01-portal-form.png", full_page=True)
    citizen.get_by_role("button", name="Send request").click()
    code = citizen.locator("#tracking-code").inner_text().strip()
    assert code.startswith("BO-")
    assert errors == []

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    office.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    staff = office.new_page()
    staff.goto(f"{live_url}/office/")
    staff.get_by_label("E-mail").fill(worker)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name=code).click()
    image = staff.locator("#photos img").first
    image.wait_for()
    # Loaded and drawn: a broken image has no natural width.
    assert staff.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) > 0
    assert staff.locator("#case-point").inner_text().count(",") == 1
    staff.screenshot(path=artifacts_dir / "photo-02-office-case.png", full_page=True)
    phone.close()
    office.close()
