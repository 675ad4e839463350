"""Staff accounts that can be trusted: limits, sessions, management, headers, no 500s."""

import pytest
from click.testing import CliRunner

from carmen.cli import main
from node.database import get_db
from tests.factories import PASSWORD, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text

NUL = "nul\x00byte"


@pytest.fixture
def client(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    with get_db(app).session() as session:
        make_staff(session, role="admin", department=None, email="admin@example.org")
        make_staff(session, role="caseworker", email="carla@example.org")
        session.commit()
    return app.test_client()


def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one(instance, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app = make_node_app(instance, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=True)
    with get_db(app).session() as session:
        make_staff(session, role="admin", department=None, email="admin@example.org")
        session.commit()
    for n in range(30):
        # From many addresses, as a botnet would: the account's own limit stops them.
        app.test_client().post(
            "/office/login",
            data={"email": "admin@example.org", "password": f"guess {n}"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
        )
    right = sign_in_staff(app.test_client(), "admin@example.org")
    assert right.status_code == 429 and right.headers["Retry-After"]
    stranger = app.test_client().post(
        "/account/login", data={"email": "x@example.org", "password": "y"}
    )
    assert stranger.status_code == 401  # another account is not locked


def test_signing_out_and_disabling_end_every_session(app, client):
    sign_in_staff(client, "carla@example.org")
    other = app.test_client()
    sign_in_staff(other, "carla@example.org")
    assert other.get("/office/password").status_code == 200
    client.post("/office/logout")
    assert other.get("/office/password").status_code == 302

    sign_in_staff(other, "carla@example.org")
    admin = app.test_client()
    sign_in_staff(admin, "admin@example.org")
    assert "carla@example.org" in text(admin.get("/office/staff"))
    admin.post("/office/staff/2/disable")
    assert other.get("/office/password").status_code == 302
    assert sign_in_staff(app.test_client(), "carla@example.org").status_code == 401


def test_an_admin_creates_resets_and_moves_staff_and_others_may_not(app, client):
    sign_in_staff(client, "admin@example.org")
    page = client.post(
        "/office/staff",
        data={"email": "Dario@Example.org", "role": "caseworker", "department": "parks"},
    )
    assert page.status_code == 200 and "dario@example.org" in text(page)
    one_time = text(page).split("<code>")[1].split("</code>")[0]
    dario = app.test_client()
    assert (
        sign_in_staff(dario, "dario@example.org", one_time)
        .headers["Location"]
        .endswith("/office/password")
    )
    reset = client.post("/office/staff/3/reset")
    assert "<code>" in text(reset)
    assert dario.get("/office/password").status_code == 302  # the reset ended its session
    refused = client.post("/office/staff/3/role", data={"role": "caseworker", "department": ""})
    assert refused.status_code == 302
    client.post("/office/staff/3/role", data={"role": "privacy", "department": ""})
    assert '<option value="privacy" selected>' in text(client.get("/office/staff"))

    worker = app.test_client()
    sign_in_staff(worker, "carla@example.org")
    assert worker.get("/office/staff").status_code == 403
    assert worker.post("/office/staff/1/disable").status_code == 403


def test_staff_pages_are_never_cached_nor_framed(app, client):
    sign_in_staff(client, "admin@example.org")
    page = client.get("/office/staff")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


def test_cookies_are_secure_unless_the_node_is_served_on_loopback(tmp_path):
    public = make_node_app(tmp_path / "a", PUBLIC_URL="https://segnala.comune.bologna.it")
    local = make_node_app(tmp_path / "b")
    assert public.config["SESSION_COOKIE_SECURE"] is True
    assert local.config["SESSION_COOKIE_SECURE"] is False
    get_db(public).engine.dispose()
    get_db(local).engine.dispose()


@pytest.mark.parametrize(
    "path,data",
    [
        ("/track", None),
        ("/office/login", {"email": NUL, "password": NUL}),
        ("/account/login", {"email": NUL, "password": "x"}),
        ("/account/signup", {"email": "a@example.org", "name": NUL}),
        ("/services/noise-report", {"description": NUL, "email": "a@example.org"}),
    ],
)
def test_a_nul_byte_is_a_bad_request_not_a_server_error(client, path, data):
    if data is None:
        answer = client.get(path, query_string={"code": NUL})
    else:
        answer = client.post(path, data=data)
    assert answer.status_code == 400


FORMS = {
    "/services/noise-report": {
        "description": "Music every night",
        "attr_source": "venue",
        "address": "Via Zamboni 1",
        "email": "a@example.org",
        "phone": "+39 333 1234567",
    },
    "/account/signup": {
        "name": "Anna",
        "email": "anna@example.org",
        "phone": "+39 333 1234567",
        "preferred_channel": "email",
        "language": "en",
        "password": "a long citizen password",
        "confirm": "a long citizen password",
    },
    "/account/login": {"email": "anna@example.org", "password": "a long citizen password"},
    "/account/reset": {"email": "anna@example.org"},
    "/office/login": {"email": "admin@example.org", "password": PASSWORD},
    "/office/reset": {"email": "admin@example.org"},
}


@pytest.mark.postgres
def test_a_nul_byte_in_any_field_of_the_public_forms_is_a_bad_request_on_postgresql(
    instance, postgres_url, monkeypatch
):
    cheap_password_hashing(monkeypatch)
    app = make_node_app(instance, WTF_CSRF_ENABLED=False, DATABASE_URL=postgres_url)
    with get_db(app).session() as session:
        make_staff(session, role="admin", department=None, email="admin@example.org")
        session.commit()
    client = app.test_client()
    answers = {}
    for path, form in FORMS.items():
        for name in form:
            for poisoned in (NUL, "\x00", form[name] + "\x00"):
                answers[(path, name, poisoned)] = client.post(path, data=form | {name: poisoned})
    for where in ("code", "next", "lang"):
        answers[("/track", where, NUL)] = client.get("/track", query_string={where: NUL})
    answers[("/office/login", "next", NUL)] = client.post(
        "/office/login", query_string={"next": NUL}, data=FORMS["/office/login"]
    )
    assert {key: a.status_code for key, a in answers.items() if a.status_code != 400} == {}
    # Nothing half-written: the same forms without the NUL still work on this database.
    assert (
        client.post("/services/noise-report", data=FORMS["/services/noise-report"]).status_code
        == 302
    )
    assert client.post("/office/login", data=FORMS["/office/login"]).status_code == 302
    get_db(app).engine.dispose()


def test_a_huge_case_id_is_not_found(client):
    sign_in_staff(client, "admin@example.org")
    assert client.get(f"/office/cases/{10**30}").status_code == 404


def test_the_command_line_disables_and_resets_staff(app, client, instance):
    (instance / "node.toml").write_text('secret_key = "test"\ncity = "Bologna"\ncountry = "IT"\n')
    session_ = app.test_client()
    sign_in_staff(session_, "carla@example.org")
    run = CliRunner().invoke
    base = ["node", "user"]
    reset = run(
        main, [*base, "passwd", "--instance", str(instance), "--email", "carla@example.org"]
    )
    assert reset.exit_code == 0, reset.output
    one_time = reset.output.strip().splitlines()[-1]
    assert session_.get("/office/password").status_code == 302
    assert sign_in_staff(app.test_client(), "carla@example.org", PASSWORD).status_code == 401
    assert sign_in_staff(app.test_client(), "carla@example.org", one_time).status_code == 302
    off = run(main, [*base, "disable", "--instance", str(instance), "--email", "carla@example.org"])
    assert off.exit_code == 0
    assert sign_in_staff(app.test_client(), "carla@example.org", one_time).status_code == 401
    unknown = run(
        main, [*base, "disable", "--instance", str(instance), "--email", "no@example.org"]
    )
    assert unknown.exit_code != 0 and "no staff member" in unknown.output
