"""Property-based fuzzing of the Open311 API, the portal's forms and both sign-ins, and the hub
API with hypothesis, in-process.

Every check sends what hypothesis makes up through the Flask test client and asserts what a
client would rely on: never a 5xx, and every error in the format the API documents (Open311: the
specification's list of `code` and `description`, in JSON or as `<errors><error>` in XML; the hub:
a JSON object with `error` and `message`; the portal and the sign-in pages: a page, never the
crash page). Runs are derandomized, so a run is repeatable.

Run alone with `python -m reliability.fuzz [--examples N]`.
"""

import argparse
import contextlib
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from federation.hub.database import get_db as hub_db
from federation.protocol.signing import sign_request
from node.database import get_db as node_db
from node.staff import service as staff
from reliability.apps import HubUnderTest, fresh_database, hub_app, node_app, registration

OPEN311 = "/open311/v2"
SNAPSHOTS = "/api/v1/snapshots"
ENROLL = "/api/v1/enroll"

# Text as clients really send it, plus anything at all: values that look almost right reach
# deeper into validation than random noise does.
_noise = st.text(max_size=40)
_datelike = st.sampled_from(
    [
        "2026-11-29T18:30:00+01:00",
        "2026-11-29",
        "2026-11-29T18:30:00Z",
        "2026-02-30T00:00:00Z",
        "9999-12-31T23:59:59+14:00",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00-12:00",
        "0001-01-01T00:00:00+14:00",
        "2026-11-29T18:30:00.123456789+01:00",
        "2026-13-01",
        "1e309",
        "",
        "now",
    ]
)
_numberlike = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    # The edges get branches of their own, so that few examples still reach them.
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e400", "-1e400"]),
    st.sampled_from(["0", "-1", "-0", "0x10", " 5 ", "٣", "²", "1_000", "1,5", "12.5cm"]),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "1" + "0" * 30]),
)
_value = st.one_of(_noise, _datelike, _numberlike)


@dataclass
class FuzzResult:
    """One fuzz target's outcome: its name, how many examples ran, and the failure if any."""

    name: str
    examples: int
    failure: str | None = None
    statuses: Counter[int] = field(default_factory=Counter)


def _run(name: str, test: Callable[[Counter[int]], None], examples: int) -> FuzzResult:
    result = FuzzResult(name, examples)
    try:
        test(result.statuses)
    except Exception as exc:  # the falsifying example is in the message hypothesis raised
        result.failure = f"{type(exc).__name__}: {exc}"
    return result


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def check_open311_errors(status: int, body: bytes, fmt: str, what: str) -> None:
    """Assert an Open311 answer is no 5xx and, when it is an error, the spec's error document."""
    assert status < 500, f"{what} answered {status}: {body[:300]!r}"
    if status < 400:
        return
    if fmt == "xml":
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            raise AssertionError(f"{what}: the error is not XML ({exc}): {body[:300]!r}") from None
        assert root.tag == "errors", f"{what}: XML error root is {root.tag!r}"
        items = list(root)
        assert items and all(item.tag == "error" for item in items), f"{what}: {body[:300]!r}"
        for item in items:
            code, description = item.findtext("code"), item.findtext("description")
            assert code is not None and code.isdigit(), f"{what}: error code {code!r}"
            assert description, f"{what}: error without a description"
            _not_a_crash(description, what)
        return
    try:
        errors = json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{what}: the error is not JSON ({exc}): {body[:300]!r}") from None
    assert isinstance(errors, list) and errors, f"{what}: JSON errors are {errors!r}"
    for error in errors:
        assert set(error) == {"code", "description"}, f"{what}: error {error!r}"
        assert isinstance(error["code"], int) and isinstance(error["description"], str), error
        _not_a_crash(error["description"], what)


def _not_a_crash(description: str, what: str) -> None:
    # An unhandled exception must not pass for the client's mistake under a 4xx status.
    assert "internal error" not in description.lower(), f"{what}: a crash answered {description!r}"


def check_hub_error(status: int, body: bytes, what: str) -> None:
    """Assert a hub answer is no 5xx and, when it is an error, JSON with `error` and `message`."""
    assert status < 500, f"{what} answered {status}: {body[:300]!r}"
    if status < 400:
        return
    error = json.loads(body)
    assert isinstance(error, dict), f"{what}: error body {error!r}"
    assert isinstance(error.get("error"), str) and error["error"], f"{what}: {error!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"{what}: {error!r}"
    _not_a_crash(error["message"], what)


# --- Open311 -------------------------------------------------------------------------------------

# A service with every attribute datatype, so that each one's parsing meets odd values.
STREET_DAMAGE = """
code = "street-damage"
name = "Street damage"
domain = "mobility"
description = "Potholes, broken paving and damaged signs."
department = "public-works"
channels = ["web", "app", "phone"]
sla_hours = 120

[[attributes]]
code = "kind"
datatype = "singlevaluelist"
description = "What is damaged?"
required = true
values = [{ key = "pothole", name = "Pothole" }, { key = "sign", name = "Road sign" }]

[[attributes]]
code = "hazards"
datatype = "multivaluelist"
description = "Which hazards do you see?"
values = [{ key = "glass", name = "Broken glass" }, { key = "water", name = "Standing water" }]

[[attributes]]
code = "depth_cm"
datatype = "number"
description = "How deep is it, in centimetres?"

[[attributes]]
code = "seen_at"
datatype = "datetime"
description = "When did you see it?"

[[attributes]]
code = "plate"
datatype = "string"
description = "Number plate of a vehicle involved, if any"

[[attributes]]
code = "details"
datatype = "text"
description = "Anything else the crew should know"
"""

_FIELDS = [
    "api_key",
    "service_code",
    "description",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "phone",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "media_url",
    "jurisdiction_id",
    "attribute[source]",
    "attribute[night]",
    "attribute[source][]",
    "attribute[]",
    "attribute[[x]]",
    "attribute[kind]",
    "attribute[hazards][]",
    "attribute[depth_cm]",
    "attribute[seen_at]",
    "attribute[plate]",
    "attribute[details]",
]
_QUERY = [
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page",
    "page_size",
    "jurisdiction_id",
    "api_key",
]
_formats = st.sampled_from(["json", "xml", "json", "xml", "", "JSON", "yaml"])


def _fmt_of(suffix: str) -> str:
    return suffix.lower() if suffix.lower() in ("json", "xml") else "json"


def _path(base: str, suffix: str) -> str:
    return f"{base}.{suffix}" if suffix else base


def _plausible(name: str, key: str) -> st.SearchStrategy[str]:
    known = {
        "api_key": st.sampled_from([key, key, "", "wrong-key"]),
        "service_code": st.sampled_from(["noise-report", "street-damage", "nope", ""]),
        "attribute[kind]": st.sampled_from(["pothole", "sign", "both"]),
        "attribute[hazards][]": st.sampled_from(["glass", "water", "fire"]),
        "attribute[depth_cm]": _numberlike,
        "attribute[seen_at]": _datelike,
        "lat": _numberlike,
        "long": _numberlike,
        "attribute[source]": st.sampled_from(["traffic", "venue", "other", "", "x" * 300]),
        "attribute[night]": st.sampled_from(["yes", "no", ""]),
        "email": st.sampled_from(["a@example.org", "not-an-email", "@", ""]),
        "phone": st.sampled_from(["+39 333 1234567", "123", "+999999999999999999", ""]),
        "media_url": st.sampled_from(["https://x.example/p.jpg", "javascript:alert(1)", "http://"]),
        "start_date": _datelike,
        "end_date": _datelike,
        "status": st.sampled_from(["open", "closed", "open,closed", "OPEN", "", "pending"]),
        "page": _numberlike,
        "page_size": _numberlike,
        "jurisdiction_id": st.sampled_from(["bologna", "BOLOGNA", "tallinn", ""]),
    }
    return st.one_of(known.get(name, _value), _value)


def _fields(
    key: str, names: list[str], base: list[tuple[str, str]]
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A valid list of fields with a few of them dropped, replaced or added."""
    pair = st.one_of(
        st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), _plausible(n, key))),
        st.tuples(_noise, _value),
    )

    @st.composite
    def mutated(draw: Callable[..., Any]) -> list[tuple[str, str]]:
        fields = list(base)
        for _ in range(draw(st.integers(0, 4))):
            action = draw(st.sampled_from(["drop", "replace", "add"]))
            if action == "add" or not fields:
                fields.insert(draw(st.integers(0, len(fields))), draw(pair))
                continue
            at = draw(st.integers(0, len(fields) - 1))
            if action == "drop":
                del fields[at]
            else:
                fields[at] = (fields[at][0], draw(_plausible(fields[at][0], key)))
        return fields

    return mutated()


def _valid_post(key: str) -> list[tuple[str, str]]:
    return [
        ("api_key", key),
        ("service_code", "noise-report"),
        ("description", "Lorries idling under the windows every night from four."),
        ("lat", "44.4949"),
        ("long", "11.3426"),
        ("attribute[source]", "traffic"),
        ("attribute[night]", "yes"),
        ("email", "giulia@example.org"),
    ]


def _valid_street_post(key: str) -> list[tuple[str, str]]:
    return [
        ("api_key", key),
        ("service_code", "street-damage"),
        ("description", "A deep pothole in the cycle lane"),
        ("address_string", "Via dell'Indipendenza 10"),
        ("attribute[kind]", "pothole"),
        ("attribute[hazards][]", "glass"),
        ("attribute[hazards][]", "water"),
        ("attribute[depth_cm]", "12.5"),
        ("attribute[seen_at]", "2026-11-29T18:30:00+01:00"),
        ("attribute[plate]", "AB123CD"),
        ("attribute[details]", "Cyclists swerve into traffic to avoid it."),
    ]


_VALID_QUERY = [
    ("service_code", "noise-report"),
    ("start_date", "2026-01-01T00:00:00Z"),
    ("end_date", "2030-01-01T00:00:00+01:00"),
    ("status", "open"),
    ("page", "1"),
    ("page_size", "20"),
]


@contextlib.contextmanager
def _quiet_crash_logs() -> Iterator[None]:
    # Each crash is reported once with its falsifying example; the apps' tracebacks of every
    # shrinking step would bury it.
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def fuzz_open311(*, examples: int = 100, database_url: str | None = None) -> list[FuzzResult]:
    """Fuzz POST requests, GET requests, services/{code}, requests/{id} and tokens/{id}.

    The node's database is SQLite unless a fresh, empty `database_url` is given.
    """
    with tempfile.TemporaryDirectory(prefix="carmen-fuzz-open311-") as tmp:
        app, key = node_app(
            Path(tmp) / "node", database_url, extra_services={"street-damage": STREET_DAMAGE}
        )
        client = app.test_client()
        try:
            with _quiet_crash_logs():
                return _open311_targets(client, key, examples)
        finally:
            node_db(app).engine.dispose()


def _open311_targets(client: Any, key: str, examples: int) -> list[FuzzResult]:
    @_settings(examples)
    @given(
        fields=st.one_of(
            _fields(key, _FIELDS, _valid_post(key)),
            _fields(key, _FIELDS, _valid_street_post(key)),
        ),
        suffix=_formats,
        encoding=st.sampled_from(["form", "form", "form", "multipart", "json", "raw"]),
    )
    def post_requests(
        seen: Counter[int], fields: list[tuple[str, str]], suffix: str, encoding: str
    ) -> None:
        url = _path(f"{OPEN311}/requests", suffix)
        if encoding == "form":
            answer = client.post(url, data=MultiDict(fields))
        elif encoding == "multipart":
            answer = client.post(url, data=MultiDict(fields), content_type="multipart/form-data")
        elif encoding == "json":  # the spec says form fields: a JSON body must be refused cleanly
            answer = client.post(url, json=dict(fields))
        else:
            body = "&".join(f"{k}={v}" for k, v in fields).encode("utf-8", "surrogatepass")
            answer = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        seen[answer.status_code] += 1
        check_open311_errors(answer.status_code, answer.data, _fmt_of(suffix), f"POST {fields!r}")

    @st.composite
    def one_bad_field(draw: Callable[..., Any]) -> list[tuple[str, str]]:
        # A valid report but for one field: the surest way to reach each field's own parsing.
        fields = list(draw(st.sampled_from([_valid_post(key), _valid_street_post(key)])))
        at = draw(st.integers(0, len(fields) - 1))
        name = fields[at][0]
        fields[at] = (name, draw(_plausible(name, key)))
        return fields

    @_settings(examples)
    @given(fields=one_bad_field(), suffix=_formats)
    def post_one_bad_field(seen: Counter[int], fields: list[tuple[str, str]], suffix: str) -> None:
        answer = client.post(_path(f"{OPEN311}/requests", suffix), data=MultiDict(fields))
        seen[answer.status_code] += 1
        check_open311_errors(answer.status_code, answer.data, _fmt_of(suffix), f"POST {fields!r}")

    @_settings(examples)
    @given(params=_fields(key, _QUERY, _VALID_QUERY), suffix=_formats)
    def get_requests(seen: Counter[int], params: list[tuple[str, str]], suffix: str) -> None:
        answer = client.get(_path(f"{OPEN311}/requests", suffix), query_string=MultiDict(params))
        seen[answer.status_code] += 1
        check_open311_errors(answer.status_code, answer.data, _fmt_of(suffix), f"GET {params!r}")

    @_settings(examples)
    @given(
        where=st.sampled_from(["services", "requests", "tokens"]),
        code=st.one_of(st.text(min_size=1, max_size=60), st.sampled_from(["noise-report", "BO-1"])),
        suffix=_formats,
        params=_fields(key, _QUERY, []),
    )
    def get_one(
        seen: Counter[int], where: str, code: str, suffix: str, params: list[tuple[str, str]]
    ) -> None:
        path = _path(f"{OPEN311}/{where}/{quote(code, safe='')}", suffix)
        answer = client.get(path, query_string=MultiDict(params))
        # A code holding '.' or '/' splits into another route; the suffix then is what follows.
        seen[answer.status_code] += 1
        fmt = _fmt_of(suffix) if "." not in code and "/" not in code else None
        if fmt is None:
            # A code holding '.' or '/' routes elsewhere (with '..', even out of the API): the
            # answer's own content type says which format to hold it to.
            content = answer.content_type or ""
            if not content.startswith(("text/xml", "application/json")):
                assert answer.status_code < 500, f"GET {path} answered {answer.status_code}"
                return
            fmt = "xml" if content.startswith("text/xml") else "json"
        check_open311_errors(answer.status_code, answer.data, fmt, f"GET {path}")

    @_settings(examples)
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
        path=st.text(max_size=40),
        body=st.binary(max_size=200),
    )
    def anything_else(seen: Counter[int], method: str, path: str, body: bytes) -> None:
        url = f"{OPEN311}/{quote(path, safe='/.')}"
        answer = client.open(url, method=method, data=body)
        content = answer.content_type or ""
        fmt = "xml" if content.startswith("text/xml") else "json"
        seen[answer.status_code] += 1
        if not content.startswith(("text/xml", "application/json")):
            # A redirect or the discovery root; only no-5xx applies.
            assert answer.status_code < 500, f"{method} {url} answered {answer.status_code}"
            return
        check_open311_errors(answer.status_code, answer.data, fmt, f"{method} {url}")

    return [
        _run("Open311 POST requests", post_requests, examples),
        _run("Open311 POST one bad field", post_one_bad_field, examples),
        _run("Open311 GET requests", get_requests, examples),
        _run("Open311 GET services|requests|tokens/{id}", get_one, examples),
        _run("Open311 any method and path", anything_else, examples),
    ]


# --- portal and sign-ins -------------------------------------------------------------------------

KNOWN_STAFF, KNOWN_CITIZEN = (
    "caseworker.environment@reliability.example",
    "anna@reliability.example",
)
KNOWN_PASSWORD = "a known fuzzing password"
# What people paste into forms: a NUL from a copied PDF, markup, very long words, other scripts.
_typed = st.one_of(
    _noise,
    st.sampled_from(
        [
            "",
            " ",
            "nul\x00byte",
            "\x00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "Via dell'Indipendenza 10",
            "Ünïcødé ✓ 日本語 مرحبا",
            "x" * 5000,
            "\u202egnp.exe",
            "\r\n\r\nInjected: header",
        ]
    ),
)
_emailish = st.one_of(
    st.sampled_from(
        [
            KNOWN_STAFF,
            KNOWN_CITIZEN,
            KNOWN_CITIZEN.upper(),
            f" {KNOWN_CITIZEN} ",
            "new.person@example.org",
            "not-an-email",
            "@",
            "a@b",
            "a" * 320 + "@example.org",
            "nul\x00@example.org",
        ]
    ),
    _typed,
)
_phoneish = st.one_of(
    st.sampled_from(["+39 333 1234567", "333 123 4567", "123", "+999999999999999999", "", "٣٣٣"]),
    _typed,
)
_passwordish = st.one_of(st.sampled_from([KNOWN_PASSWORD, "short", "x" * 10_000]), _typed)


def _portal_value(name: str) -> st.SearchStrategy[str]:
    known = {
        "email": _emailish,
        "phone": _phoneish,
        "password": _passwordish,
        "confirm": _passwordish,
        "birth_year": _numberlike,
        "attr_source": st.sampled_from(["traffic", "venue", "other", "", "x" * 300]),
        "attr_night": st.sampled_from(["yes", "no", ""]),
        "preferred_channel": st.sampled_from(["email", "sms", "web", "staff", "pigeon", ""]),
        "language": st.sampled_from(["en", "it", "xx", ""]),
        "district": st.sampled_from(["Navile", "Savena", "Atlantis", ""]),
        "consent_contact": st.sampled_from(["y", "n", "on", ""]),
        "code": st.sampled_from(["BO-7K3M9Q", "bo-7k3m9q", "", "BO-", "x" * 200]),
    }
    return st.one_of(known.get(name, _typed), _typed)


def _form(base: list[tuple[str, str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A valid form with a few of its fields dropped, replaced, doubled or added."""
    names = [name for name, _ in base]

    @st.composite
    def mutated(draw: Callable[..., Any]) -> list[tuple[str, str]]:
        fields = list(base)
        for _ in range(draw(st.integers(0, 4))):
            action = draw(st.sampled_from(["drop", "replace", "replace", "double", "add"]))
            if action == "add" or not fields:
                name = draw(st.one_of(st.sampled_from(names), _noise))
                fields.append((name, draw(_portal_value(name))))
                continue
            at = draw(st.integers(0, len(fields) - 1))
            name = fields[at][0]
            if action == "drop":
                del fields[at]
            elif action == "double":
                fields.insert(at, (name, draw(_portal_value(name))))
            else:
                fields[at] = (name, draw(_portal_value(name)))
        return fields

    return mutated()


_REPORT = [
    ("description", "Music from the bar until three every night"),
    ("attr_source", "venue"),
    ("address", "Via Zamboni 33"),
    ("email", "giulia@example.org"),
    ("phone", "+39 333 123 4567"),
]
_SIGNUP = [
    ("name", "Giulia Verdi"),
    ("email", "new.person@example.org"),
    ("phone", "+39 333 123 4567"),
    ("preferred_channel", "email"),
    ("language", "en"),
    ("birth_year", "1990"),
    ("consent_contact", "y"),
    ("password", KNOWN_PASSWORD),
    ("confirm", KNOWN_PASSWORD),
]
_LOGIN = [("email", KNOWN_CITIZEN), ("password", KNOWN_PASSWORD)]
_STAFF_LOGIN = [("email", KNOWN_STAFF), ("password", KNOWN_PASSWORD)]
_RESET = [("email", KNOWN_CITIZEN)]


def check_page(status: int, body: bytes, what: str) -> None:
    """Assert a portal or sign-in answer is no 5xx and no crash passed off as a refusal."""
    assert status < 500, f"{what} answered {status}: {body[:300]!r}"
    page = body.decode("utf-8", "replace").lower()
    assert "internal server error" not in page, f"{what}: a crash answered {status}"
    _not_a_crash(page, what)


def fuzz_portal(*, examples: int = 100, database_url: str | None = None) -> list[FuzzResult]:
    """Fuzz the portal's report, tracking and sign-up forms and both sign-ins, unauthenticated.

    The forms' CSRF check is off: it would refuse every example before its fields are read.
    The node's database is SQLite unless a fresh, empty `database_url` is given.
    """
    from node.cases.schemas import Actor
    from node.profiles import service as profiles
    from node.profiles.schemas import CitizenData

    with tempfile.TemporaryDirectory(prefix="carmen-fuzz-portal-") as tmp:
        app, _key = node_app(Path(tmp) / "node", database_url)
        app.config["WTF_CSRF_ENABLED"] = False
        with node_db(app).session() as session:
            user = staff.find_by_email(db_session=session, email=KNOWN_STAFF)
            user.password_hash = staff.hash_password(KNOWN_PASSWORD)
            profiles.create_citizen(
                db_session=session,
                data=CitizenData.model_validate(
                    {"name": "Anna", "email": KNOWN_CITIZEN, "language": "en"}
                ),
                actor=Actor.system(),
                password_hash=staff.hash_password(KNOWN_PASSWORD),
            )
            session.commit()
        try:
            with _quiet_crash_logs():
                return _portal_targets(app, examples)
        finally:
            node_db(app).engine.dispose()


def _portal_targets(app: Any, examples: int) -> list[FuzzResult]:
    def post(path: str) -> Callable[[Counter[int], list[tuple[str, str]]], None]:
        # A fresh client each time: no example signs the next one in.
        def target(seen: Counter[int], fields: list[tuple[str, str]]) -> None:
            answer = app.test_client().post(path, data=MultiDict(fields))
            seen[answer.status_code] += 1
            check_page(answer.status_code, answer.data, f"POST {path} {fields!r}")

        return target

    def fuzzed(path: str, base: list[tuple[str, str]]) -> Callable[[Counter[int]], None]:
        return _settings(examples)(given(fields=_form(base))(post(path)))

    @_settings(examples)
    @given(
        code=st.one_of(_portal_value("code"), _typed),
        params=st.lists(st.tuples(_noise, _typed), max_size=3),
    )
    def track(seen: Counter[int], code: str, params: list[tuple[str, str]]) -> None:
        answer = app.test_client().get("/track", query_string=MultiDict([("code", code), *params]))
        seen[answer.status_code] += 1
        check_page(answer.status_code, answer.data, f"GET /track {code!r} {params!r}")

    @_settings(examples)
    @given(
        service=st.one_of(
            st.just("noise-report"), st.sampled_from(["noise-report", "nope", "", "%00"]), _noise
        ),
        fields=_form(_REPORT),
    )
    def report(seen: Counter[int], service: str, fields: list[tuple[str, str]]) -> None:
        path = f"/services/{quote(service, safe='')}"
        answer = app.test_client().post(path, data=MultiDict(fields))
        seen[answer.status_code] += 1
        check_page(answer.status_code, answer.data, f"POST {path} {fields!r}")

    return [
        _run("portal POST report", report, examples),
        _run("portal GET track", track, examples),
        _run("portal POST sign-up", fuzzed("/account/signup", _SIGNUP), examples),
        _run("portal POST citizen sign-in", fuzzed("/account/login", _LOGIN), examples),
        _run("portal POST password reset", fuzzed("/account/reset", _RESET), examples),
        _run("back office POST staff sign-in", fuzzed("/office/login", _STAFF_LOGIN), examples),
        _run("back office POST password reset", fuzzed("/office/reset", _RESET), examples),
    ]


# --- hub -----------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _snapshot(node: str, citizens: int = 12) -> dict[str, Any]:
    measures = {
        "citizens": citizens,
        "events": {"submitted": 40, "completed": 30},
        "time_to_complete": None,
    }
    return {
        "node": node,
        "period": "2026-05",
        "revision": 1,
        "k": 10,
        "services": [{"code": "noise", "template": "noise_report", "template_version": "1.2.0"}],
        "cells": [
            {"service": "noise", "measures": measures},
            {"service": "noise", "channel": "web", "measures": measures},
            {"service": "noise", "segment": "25-54", "measures": measures},
        ],
    }


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid document with one value somewhere replaced, dropped or added."""

    def mutate(draw: Callable[..., Any]) -> Any:
        document = json.loads(json.dumps(base))
        target = document
        while True:
            if isinstance(target, dict) and target:
                name = draw(st.sampled_from(sorted(target)))
            elif isinstance(target, list) and target:
                name = draw(st.integers(0, len(target) - 1))
            else:
                break
            if not isinstance(target[name], dict | list) or draw(st.booleans()):
                action = draw(st.sampled_from(["replace", "drop", "add"]))
                if action == "drop":
                    del target[name]
                elif action == "add" and isinstance(target, dict):
                    target[draw(st.text(max_size=12))] = draw(_json)
                else:
                    target[name] = draw(_json)
                break
            target = target[name]
        return document

    return st.composite(lambda draw: mutate(draw))()


def fuzz_hub(*, examples: int = 100, database_url: str | None = None) -> list[FuzzResult]:
    """Fuzz snapshot pushes (signed or not), enrollment, and the read API with a valid token.

    The hub's database is SQLite unless a fresh, empty `database_url` is given.
    """
    with tempfile.TemporaryDirectory(prefix="carmen-fuzz-hub-") as tmp:
        hub = hub_app(Path(tmp) / "hub", database_url)
        try:
            with _quiet_crash_logs():
                return _hub_targets(hub, examples)
        finally:
            hub_db(hub.app).engine.dispose()


def _hub_targets(hub: HubUnderTest, examples: int) -> list[FuzzResult]:
    client = hub.app.test_client()
    valid_snapshots = st.builds(
        lambda period, revision, citizens: json.dumps(
            _snapshot(hub.node, citizens) | {"period": period, "revision": revision}
        ).encode(),
        st.sampled_from(["2026-01", "2026-05", "2025-12"]),
        st.integers(1, 4),
        st.integers(10, 12),
    )
    bodies = st.one_of(
        valid_snapshots,
        _mutated(_snapshot(hub.node)).map(lambda d: json.dumps(d).encode()),
        _json.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=300),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
    header_names = st.sampled_from(
        ["X-Carmen-Node", "X-Carmen-Timestamp", "X-Carmen-Nonce", "X-Carmen-Signature"]
    )

    @_settings(examples)
    @given(
        body=bodies,
        signing=st.sampled_from(["signed", "signed", "unsigned", "tampered", "other node"]),
        content_type=st.sampled_from(["application/json", "text/plain", ""]),
        tamper=st.tuples(header_names, st.one_of(st.text(max_size=30), _numberlike)),
    )
    def push_snapshots(
        seen: Counter[int], body: bytes, signing: str, content_type: str, tamper: tuple[str, str]
    ) -> None:
        headers: dict[str, str] = {"Content-Type": content_type} if content_type else {}
        if signing != "unsigned":
            signed = sign_request(
                private_key=hub.key,
                node=hub.node if signing != "other node" else "ee-nowhere",
                method="POST",
                path=SNAPSHOTS,
                body=body,
            )
            headers |= signed
        if signing == "tampered":
            headers[tamper[0]] = tamper[1]
        headers = {k: v for k, v in headers.items() if _latin1(v)}
        answer = client.post(SNAPSHOTS, data=body, headers=headers)
        seen[answer.status_code] += 1
        check_hub_error(answer.status_code, answer.data, f"push {signing} {body[:200]!r}")

    valid = {"token": hub.enrollment_token, "registration": None}
    valid["registration"] = registration("ee-tallinn", hub.key).model_dump(mode="json")
    enroll_bodies = st.one_of(
        st.just(json.dumps(valid).encode()),
        _mutated(valid).map(lambda d: json.dumps(d).encode()),
        _json.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=200),
    )

    @_settings(examples)
    @given(body=enroll_bodies)
    def enroll(seen: Counter[int], body: bytes) -> None:
        answer = client.post(ENROLL, data=body, headers={"Content-Type": "application/json"})
        seen[answer.status_code] += 1
        check_hub_error(answer.status_code, answer.data, f"enroll {body[:200]!r}")

    read_paths = st.sampled_from(
        [
            "/api/v1/auth/me",
            "/api/v1/nodes",
            "/api/v1/nodes/{slug}",
            "/api/v1/nodes/{slug}/health",
            "/api/v1/nodes/{slug}/services",
            "/api/v1/services",
            "/api/v1/aggregates",
            "/api/v1/evaluations/latest",
            "/api/v1/evaluations/latest/{slug}",
        ]
    )
    read_params = st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(
                    [
                        "node",
                        "service",
                        "period",
                        "segment",
                        "channel",
                        "measure",
                        "limit",
                        "offset",
                    ]
                ),
                _noise,
            ),
            _value,
        ),
        max_size=8,
    )

    @_settings(examples)
    @given(
        path=read_paths,
        slug=st.one_of(st.just(hub.node), st.text(min_size=1, max_size=30)),
        params=read_params,
        authorization=st.sampled_from(["valid", "valid", "valid", "none", "garbage"]),
    )
    def read_api(
        seen: Counter[int], path: str, slug: str, params: list[tuple[str, str]], authorization: str
    ) -> None:
        url = path.replace("{slug}", quote(slug, safe=""))
        headers = {
            "valid": {"Authorization": f"Bearer {hub.token}"},
            "none": {},
            "garbage": {"Authorization": f"Bearer {slug}"},
        }[authorization]
        headers = {k: v for k, v in headers.items() if _latin1(v)}
        answer = client.get(url, query_string=MultiDict(params), headers=headers)
        seen[answer.status_code] += 1
        check_hub_error(answer.status_code, answer.data, f"GET {url} {params!r}")

    @_settings(examples)
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
        path=st.one_of(
            st.sampled_from(
                [
                    "enroll",
                    "snapshots",
                    "auth/tokens",
                    "auth/me",
                    "nodes",
                    "services",
                    "aggregates",
                    "evaluations",
                    "evaluations/latest",
                    "openapi.json",
                ]
            ),
            st.text(max_size=40),
        ),
        body=st.binary(max_size=200),
        authorized=st.booleans(),
    )
    def anything_else(
        seen: Counter[int], method: str, path: str, body: bytes, authorized: bool
    ) -> None:
        url = f"/api/v1/{quote(path, safe='/.')}"
        headers = {"Authorization": f"Bearer {hub.token}"} if authorized else {}
        answer = client.open(url, method=method, data=body, headers=headers)
        seen[answer.status_code] += 1
        check_hub_error(answer.status_code, answer.data, f"{method} {url}")

    return [
        _run("hub any method and path", anything_else, examples),
        _run("hub POST snapshots", push_snapshots, examples),
        _run("hub POST enroll", enroll, examples),
        _run("hub read API", read_api, examples),
    ]


def _latin1(value: str) -> bool:
    # HTTP header values are bytes; a client cannot send what Latin-1 cannot encode.
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\n" not in value and "\r" not in value and "\x00" not in value


def run(examples: int = 300, postgres_url: str | None = None) -> list[FuzzResult]:
    """Every fuzz target with `examples` examples each, on SQLite, and on PostgreSQL if named."""
    results = (
        fuzz_open311(examples=examples)
        + fuzz_portal(examples=examples)
        + fuzz_hub(examples=examples)
    )
    if postgres_url:
        for fuzz in (fuzz_open311, fuzz_portal, fuzz_hub):
            with fresh_database(postgres_url) as url:
                for result in fuzz(examples=examples, database_url=url):
                    result.name += " (PostgreSQL)"
                    results.append(result)
    return results


def main() -> None:
    """Print each target's outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="examples per target")
    parser.add_argument("--postgres", help="PostgreSQL server URL: fuzz on it as well")
    args = parser.parse_args()
    failed = False
    for result in run(args.examples, args.postgres):
        failed |= result.failure is not None
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
        print(f"{result.name}: {result.examples} examples ({statuses}), {result.failure or 'ok'}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
