"""The queue in a real browser: search, bulk acknowledge, and the map with no tiles at all."""

import pytest

from node.database import get_db
from tests.factories import PASSWORD, make_case, make_staff


@pytest.mark.browser
def test_staff_search_tick_and_acknowledge_then_see_the_cases_on_a_map_without_tiles(
    app,
    live_url,
    browser,
    artifacts_dir,
):
    with get_db(app).session() as session:
        worker = make_staff(session, "caseworker", "environment").email
        lamps = [
            make_case(
                session,
                description=f"Lampione spento numero {n}",
                lat=44.49 + n / 1000,
                long=11.34 + n / 1000,
            )
            for n in range(3)
        ]
        make_case(session, description="Music from the bar", lat=44.5, long=11.35)
        session.commit()
        codes = sorted(c.tracking_code for c in lamps)

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tiles = []
    office.route(
        "https://tile.openstreetmap.org/**", lambda route: (tiles.append(1), route.abort())
    )
    page = office.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/office/")
    page.get_by_label("E-mail").fill(worker)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Search").fill("lampione")
    page.get_by_role("button", name="Filter").click()
    assert "q=lampione" in page.url  # the filters are kept in the URL
    listed = sorted(page.locator("table.queue a.code").all_inner_texts())
    assert listed == codes
    page.locator("#tick-all").check()  # the script ticks every case of the page
    page.get_by_label("Action").select_option("acknowledge")
    page.get_by_role("button", name="Apply to the ticked cases").click()
    assert "3 cases updated" in page.locator(".flash-success").inner_text()
    assert page.locator("table.queue .status").all_inner_texts() == ["Acknowledged"] * 3
    page.screenshot(path=artifacts_dir / "office-queue-bulk.png", full_page=True)

    page.get_by_role("link", name="Show on a map").click()
    page.wait_for_selector("#case-map path.leaflet-interactive")
    assert page.locator("#case-map path.leaflet-interactive").count() == 3
    assert sorted(page.locator("#map-list a.code").all_inner_texts()) == codes
    assert tiles, "the map asked for tiles, which could not load"
    assert errors == []
    page.screenshot(path=artifacts_dir / "office-map-without-tiles.png", full_page=True)
    office.close()
