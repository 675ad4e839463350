"""The back office's queue at a city's volume: search, my cases, sorting, bulk actions, CSV."""

import csv
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from node.cases import service as cases
from node.cases.models import Case, CaseStatus, Event, EventKind, ImportedRequest, Priority
from node.cases.schemas import Actor
from node.database import get_db, utcnow
from node.staff.models import StaffUser
from tests.factories import make_case, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request, tmp_path, monkeypatch):
    """A node on either database (CSRF is kept on in test_web_csrf.py)."""
    cheap_password_hashing(monkeypatch)
    config = {"WTF_CSRF_ENABLED": False}
    if request.param == "postgres":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_node_app(tmp_path / "node", **config)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def world(app):
    """Staff of two departments and cases a city would have: open, closed, urgent, imported."""
    now = utcnow()
    with get_db(app).session() as session:
        people = {
            "env": make_staff(session, "caseworker", "environment"),
            "env2": make_staff(session, "caseworker", "environment"),
            "building": make_staff(session, "caseworker", "building-control"),
            "supervisor": make_staff(session, "supervisor"),
        }
        lamp = make_case(
            session,
            description="Il lampione è spento da tre notti, la strada è buia",
            address="Via dell'Indipendenza 12",
            now=now - timedelta(hours=5),
        )
        karaoke = make_case(
            session, description="Karaoke until 3 am in the courtyard", address="Piazza Verdi 2"
        )
        old = make_case(session, description="Bins emptied at 4 am", now=now - timedelta(days=40))
        for action in ("acknowledge", "resolve"):
            cases.move(db_session=session, case=old, action=action, actor=Actor.system())
        urgent = make_case(session, description="Generator humming", now=now - timedelta(hours=1))
        cases.set_priority(
            db_session=session, case=urgent, priority=Priority.URGENT, actor=Actor.system()
        )
        works = make_case(
            session,
            attributes={"source": "works"},
            description="Jackhammer at dawn near the lamp post",
        )
        session.add(ImportedRequest(source="nyc311", legacy_id="311-5989328", case_id=karaoke.id))
        session.commit()
        made = {"lamp": lamp, "karaoke": karaoke, "old": old, "urgent": urgent, "works": works}
        return {
            **{n: SimpleNamespace(id=u.id, email=u.email) for n, u in people.items()},
            **{n: SimpleNamespace(id=c.id, tracking_code=c.tracking_code) for n, c in made.items()},
        }


def signed_in(app, user):
    client = app.test_client()
    assert sign_in_staff(client, user.email).status_code == 302
    return client


def codes(html: str) -> list[str]:
    return re.findall(r'class="code">([A-Z]{2}-[0-9A-Z]{6})<', html)


def test_the_default_queue_lists_open_cases_most_urgent_first(app, world):
    listed = codes(text(signed_in(app, world["supervisor"]).get("/office/")))
    assert world["old"].tracking_code not in listed  # resolved long ago: not in the way
    assert listed[0] == world["urgent"].tracking_code
    assert set(listed) == {
        world[name].tracking_code for name in ("urgent", "lamp", "karaoke", "works")
    }
    everything = codes(text(signed_in(app, world["supervisor"]).get("/office/?status=all")))
    assert world["old"].tracking_code in everything


def test_search_finds_words_of_the_description_and_address_and_numbers(app, world):
    client = signed_in(app, world["supervisor"])

    def found(query: str) -> set[str]:
        return set(codes(text(client.get("/office/", query_string={"q": query}))))

    assert found("lampione spento") == {world["lamp"].tracking_code}
    assert found("lamp") == {world["lamp"].tracking_code, world["works"].tracking_code}  # prefix
    assert found("indipendenza") == {world["lamp"].tracking_code}
    assert found("KARAOKE courtyard") == {world["karaoke"].tracking_code}
    assert found("karaoke dawn") == set()  # every word must be there
    assert found(world["urgent"].tracking_code.lower()) == {world["urgent"].tracking_code}
    assert found("311-5989328") == {world["karaoke"].tracking_code}  # the legacy number
    assert found("bins") == {world["old"].tracking_code}  # a search looks in closed cases too
    hostile = client.get("/office/", query_string={"q": '"*) OR 1=1 -- NEAR('})
    assert hostile.status_code == 200 and codes(text(hostile)) == []  # only words, never syntax


def test_the_search_index_follows_changes_to_a_case(app, world):
    with get_db(app).session() as session:
        case = session.get(Case, world["lamp"].id)
        case.description = "Streetlight fixed, now flickering"
        session.commit()
    client = signed_in(app, world["supervisor"])
    assert codes(text(client.get("/office/?q=flickering"))) == [world["lamp"].tracking_code]
    assert codes(text(client.get("/office/?q=lampione"))) == []


def test_search_keeps_to_the_caseworkers_department(app, world):
    client = signed_in(app, world["env"])
    assert world["works"].tracking_code not in codes(text(client.get("/office/?q=lamp")))


def test_my_cases_and_the_sort_orders_are_kept_in_the_url(app, world):
    with get_db(app).session() as session:
        case = session.get(Case, world["karaoke"].id)
        me = session.get(StaffUser, world["env"].id)
        cases.assign(db_session=session, case=case, assignee=me, actor=Actor.system())
        session.commit()
    client = signed_in(app, world["env"])
    page = text(client.get("/office/?mine=y&sort=newest"))
    assert codes(page) == [world["karaoke"].tracking_code]
    assert 'name="mine" type="checkbox" value="y" checked' in page or "checked" in page
    newest = codes(text(client.get("/office/?sort=newest&status=all")))
    oldest = codes(text(client.get("/office/?sort=oldest&status=all")))
    assert newest == list(reversed(oldest))
    assert oldest[0] == world["old"].tracking_code
    paged = text(client.get("/office/?sort=oldest&q=a"))
    assert "sort=oldest" in paged  # the export and map links keep the filters


def test_pages_of_a_search_keep_its_filters_and_never_repeat_a_case(app, world):
    with get_db(app).session() as session:
        made = {make_case(session, description=f"Barking dog {n}").tracking_code for n in range(30)}
        session.commit()
    client = signed_in(app, world["env"])
    first = text(client.get("/office/?q=barking&sort=oldest"))
    assert "Page 1 of 2" in first
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "q=barking" in following and "sort=oldest" in following and "page=2" in following
    second = text(client.get(following))
    assert "Page 2 of 2" in second
    assert len(codes(first)) == 25 and len(codes(second)) == 5
    assert set(codes(first)) | set(codes(second)) == made


def bulk(client, case_ids, action, **fields):
    return client.post(
        "/office/bulk",
        data={
            "cases": [str(i) for i in case_ids],
            "action": action,
            "back": "/office/?sort=due",
            **fields,
        },
    )


def test_bulk_acknowledge_and_resolve_append_one_event_per_case(app, world):
    client = signed_in(app, world["env"])
    ids = [world["lamp"].id, world["karaoke"].id, world["works"].id]  # works: another department
    done = bulk(client, ids, "acknowledge")
    assert done.status_code == 302 and done.location.endswith("/office/?sort=due")
    resolved = bulk(client, [*ids, world["urgent"].id], "resolve", reply="Checked on site.")
    page = text(client.get(resolved.location))
    assert "2 cases updated" in page
    assert world["urgent"].tracking_code in page and "acknowledge the case before" in page
    with get_db(app).session() as session:
        for case_id in (world["lamp"].id, world["karaoke"].id):
            kinds = session.scalars(
                sa.select(Event.kind).where(Event.case_id == case_id).order_by(Event.id)
            ).all()
            assert kinds.count(EventKind.ACKNOWLEDGED) == 1
            assert kinds.count(EventKind.RESOLVED) == 1 and kinds[-1] is EventKind.REPLY_SENT
        assert session.get(Case, world["works"].id).status is CaseStatus.NEW
        assert session.get(Case, world["urgent"].id).status is CaseStatus.NEW


def test_bulk_assign_gives_every_ticked_case_to_the_colleague(app, world):
    client = signed_in(app, world["env"])
    ids = [world["lamp"].id, world["karaoke"].id]
    bulk(client, ids, "assign", assignee=str(world["env2"].id))
    with get_db(app).session() as session:
        assert {session.get(Case, i).assignee_id for i in ids} == {world["env2"].id}
        assigned = session.scalar(
            sa.select(sa.func.count()).where(
                Event.kind == EventKind.ASSIGNED, Event.case_id.in_(ids)
            )
        )
        assert assigned == 2


def test_bulk_resolve_without_a_reply_changes_nothing(app, world):
    client = signed_in(app, world["env"])
    refused = bulk(client, [world["lamp"].id], "resolve", reply="  ")
    assert "Write the public reply" in text(client.get(refused.location))
    with get_db(app).session() as session:
        assert session.get(Case, world["lamp"].id).status is CaseStatus.NEW


def test_the_map_uses_the_tile_setting_and_the_shipped_leaflet_and_keeps_to_the_department(
    app, world
):
    app.config["MAP_TILE_URL"] = "https://tiles.comune.bologna.example/{z}/{x}/{y}.png"
    with get_db(app).session() as session:
        for name, point in (("lamp", (44.4949, 11.3426)), ("works", (44.5, 11.35))):
            case = session.get(Case, world[name].id)
            case.lat, case.long = point
        session.commit()
    client = signed_in(app, world["env"])
    page = client.get("/office/map?q=lamp")  # typed straight in, with the queue's filters
    html = text(page)
    assert codes(html) == [world["lamp"].tracking_code]  # not building control's case
    assert "tiles.comune.bologna.example/{z}/{x}/{y}.png" in html
    assert (
        "img-src 'self' data: blob: https://tiles.comune.bologna.example;"
        in (page.headers["Content-Security-Policy"])
    )
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert "/static/vendor/leaflet/leaflet.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)  # nothing from elsewhere
    leaflet = client.get("/static/vendor/leaflet/leaflet.js")
    assert leaflet.status_code == 200 and b"Leaflet" in leaflet.data[:2000]


def test_the_csv_export_has_every_filtered_case_and_cannot_run_formulas(app, world):
    with get_db(app).session() as session:
        case = session.get(Case, world["karaoke"].id)
        case.description = '=HYPERLINK("http://evil.example","click")'
        for n in range(120):
            make_case(session, description=f"Barking dog number {n}")
        session.commit()
    client = signed_in(app, world["env"])
    response = client.get("/office/cases.csv?q=barking")
    assert response.mimetype == "text/csv" and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert len(rows) == 120 and all("Barking dog" in r["description"] for r in rows)
    everything = list(csv.DictReader(io.StringIO(text(client.get("/office/cases.csv?status=all")))))
    by_code = {r["tracking_code"]: r for r in everything}
    assert world["works"].tracking_code not in by_code  # another department's
    karaoke = by_code[world["karaoke"].tracking_code]
    assert karaoke["description"].startswith("'=HYPERLINK")
    assert karaoke["legacy_numbers"] == "311-5989328"


def test_case_ids_no_case_can_have_are_not_found_on_either_database(app, world):
    client = signed_in(app, world["env"])
    for number in (2**31, 10**30):  # past PostgreSQL's integer, past SQLite's
        assert client.get(f"/office/cases/{number}").status_code == 404
    for ids in (["99999999999999999999999"], ["-1", "0"], ["lamp"], [""]):
        answered = client.post(
            "/office/bulk", data={"cases": ids, "action": "acknowledge", "back": "/office/"}
        )
        assert answered.status_code == 302
    with get_db(app).session() as session:
        assert session.get(Case, world["lamp"].id).status is CaseStatus.NEW
