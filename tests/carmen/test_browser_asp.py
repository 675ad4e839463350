"""ASP mode in a real browser: every redirect and link of a city keeps the city's prefix."""

import random
import threading

import pytest
from werkzeug.serving import make_server

from carmen.asp import open_nodes, path_dispatcher
from node.cases.models import Case
from node.database import get_db
from node.instance import initialise
from tests.factories import PASSWORD, install_example_services, make_staff, seed_month
from tests.node.web import cheap_password_hashing


@pytest.fixture
def deployment_url(tmp_path, monkeypatch):
    """Bologna and Tallinn served under their prefixes on a loopback port."""
    cheap_password_hashing(monkeypatch)
    instances = []
    for city, country in (("Bologna", "IT"), ("Tallinn", "EE")):
        instance = tmp_path / city.lower()
        initialise(
            path=instance,
            city=city,
            country=country,
            population=400_000,
            admin_email=f"admin@{city.lower()}.example",
            admin_password=PASSWORD,
        )
        install_example_services(instance)
        instances.append(instance)
    nodes = open_nodes(instances)
    bologna = nodes[0].app
    with get_db(bologna).session() as session:
        seed_month(session, year=2026, month=4, cases=3, rng=random.Random(1), prefix="BO")
        make_staff(session, "supervisor", department=None, email="sara@bologna.example")
        session.commit()
        case_id = session.query(Case).order_by(Case.id.desc()).first().id
    server = make_server("127.0.0.1", 0, path_dispatcher(nodes), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", case_id
    server.shutdown()
    thread.join(timeout=5)
    for node in nodes:
        get_db(node.app).engine.dispose()


@pytest.mark.browser
def test_staff_following_a_deep_link_under_a_prefix_sign_in_and_land_on_the_deep_page(
    deployment_url, browser, artifacts_dir
):
    url, case_id = deployment_url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    deep = f"{url}/it-bologna/office/cases/{case_id}"
    page.goto(deep)
    assert page.url.startswith(f"{url}/it-bologna/office/login?next=")
    page.get_by_label("E-mail").fill("sara@bologna.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(deep)
    assert page.locator("#case-status").is_visible()
    page.screenshot(path=artifacts_dir / "asp-01-deep-page-after-sign-in.png", full_page=True)

    # Signing out leads back to this city's sign-in page, not to the provider's front page.
    page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(f"{url}/it-bologna/office/login")
    context.close()


@pytest.mark.browser
def test_citizens_under_a_prefix_keep_it_through_language_links_and_sign_in(
    deployment_url, browser
):
    url, _case_id = deployment_url
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{url}/it-bologna/services/noise-report?x=1")
    page.locator("a[hreflang=it]").click()
    assert page.url.startswith(f"{url}/it-bologna/services/noise-report?")
    assert "lang=it" in page.url and "x=1" in page.url
    page.goto(f"{url}/it-bologna/account/")
    assert page.url.startswith(f"{url}/it-bologna/account/login?next=/it-bologna/account/")
    page.goto(f"{url}/it-bologna/services/noise-report")
    sign_in = page.locator("form a[href*='login?next=']").get_attribute("href")
    assert sign_in.startswith("/it-bologna/account/login?next=/it-bologna/services/noise-report")
    context.close()
