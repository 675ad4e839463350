"""Open311 GeoReport v2 under /open311/v2/: discovery, services, requests and tokens.

Every endpoint answers in JSON or XML after its `.json` / `.xml` suffix (JSON without one), and
every error in the specification's error document with 400, 403 or 404. The GETs are public:
they show what each service publishes (node/intake/publication.py), more to a key whose scope
allows it, and carry CORS headers for the origins OPEN311_CORS_ORIGINS allows.
"""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, request, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from node.database import db_session
from node.errors import Forbidden, InvalidInput, NodeError, NotFound
from node.intake import clients
from node.intake.models import ClientScope
from node.intake.open311 import service as open311
from node.intake.open311.formats import (
    FORMATS,
    render,
    render_errors,
    request_row,
    service_definition,
    service_row,
    timestamp,
)
from node.intake.open311.schemas import parse_query, parse_submission
from node.intake.publication import region
from node.services import service as catalogue
from node.services.models import Service

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"

blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")


class FormatConverter(BaseConverter):
    """An optional `.json` / `.xml` suffix; other suffixes are refused by the views."""

    regex = r"(?:\.[A-Za-z0-9]+)?"

    def to_python(self, value: str) -> str:
        return value[1:].lower() or "json"

    def to_url(self, value: Any) -> str:
        return f".{value}"


class IdConverter(BaseConverter):
    """A service code or tracking code: anything up to the format suffix."""

    regex = r"[^/.]+"


@blueprint.record_once
def _register_converters(state: Any) -> None:
    # Runs before the blueprint's rules are added, so the rules below can use them.
    state.app.url_map.converters.update(open311_format=FormatConverter, open311_id=IdConverter)


@blueprint.url_value_preprocessor
def _take_format(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.open311_format = (values or {}).pop("fmt", "json")


@blueprint.before_request
def _check_format_and_jurisdiction() -> Response | None:
    if g.get("open311_format", "json") not in FORMATS:
        return _errors(400, f"unknown format {g.open311_format!r}: use .json or .xml")
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.values.items(multi=True)
    ):
        # PostgreSQL text cannot hold U+0000; no Open311 field needs it.
        return _errors(400, "the request holds a NUL character (U+0000), which is not accepted")
    given = (request.values.get("jurisdiction_id") or "").strip()
    if given and given.lower() != jurisdiction():
        return _errors(
            404, f"unknown jurisdiction_id {given!r}: this node serves {jurisdiction()!r}"
        )
    return None


def jurisdiction() -> str:
    """This node's jurisdiction_id: OPEN311_JURISDICTION, else the city's name as a slug."""
    configured = current_app.config["OPEN311_JURISDICTION"]
    if configured:
        return configured.strip().lower()
    return re.sub(r"[^a-z0-9]+", "-", current_app.config["CITY"].lower()).strip("-")


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _timezone() -> ZoneInfo:
    return _zone(current_app.config["TIMEZONE"])


def _errors(status: int, *descriptions: str) -> Response:
    return render_errors(
        [(status, d) for d in descriptions], fmt=g.get("open311_format", "json"), status=status
    )


def _send(payload: Any, root: str, status: int = 200) -> Response:
    return render(payload, fmt=g.open311_format, root=root, status=status)


_READS = ("GET", "HEAD")


@blueprint.after_request
def _cross_origin(response: Response) -> Response:
    """CORS on the public reads, so that a web page elsewhere can show them; never on POST.

    A POST carries a client's secret key, which has no business in a browser on another site.
    """
    preflight = request.method == "OPTIONS"
    asked = request.headers.get("Access-Control-Request-Method", "").upper()
    if request.method not in _READS and not (preflight and asked in _READS):
        return response
    allowed = cors_origins()
    origin = request.headers.get("Origin", "")
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        response.vary.add("Origin")  # the answer differs by origin: caches must keep them apart
        if origin.rstrip("/").lower() not in allowed:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        response.headers["Access-Control-Allow-Methods"] = ", ".join(_READS)
        requested = request.headers.get("Access-Control-Request-Headers")
        if requested:
            response.headers["Access-Control-Allow-Headers"] = requested
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def cors_origins() -> list[str]:
    """OPEN311_CORS_ORIGINS, compared in lower case and without a trailing slash ("*": any)."""
    return [o.strip().rstrip("/").lower() for o in current_app.config["OPEN311_CORS_ORIGINS"]]


def _scope() -> ClientScope | None:
    """The scope of the reader's key; None without one (a key that is not valid: 403)."""
    client = clients.reader(db_session=db_session(), api_key=request.args.get("api_key"))
    return client.scope if client is not None else None


@blueprint.errorhandler(InvalidInput)
def _invalid(exc: InvalidInput) -> Response:
    # One error per wrong field, each naming it, so that an app can mark every field at once.
    descriptions = [f"{name}: {message}" for name, message in exc.fields.items()]
    if str(exc) not in descriptions:
        descriptions.insert(0, str(exc))
    return _errors(400, *descriptions)


@blueprint.errorhandler(NodeError)
def _domain_error(exc: NodeError) -> Response:
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden) else 400
    return _errors(status, str(exc))


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    # A crash stays a 500, in the spec's format: it must not pass for the client's mistake.
    status = exc.code if exc.code in (403, 404) or (exc.code or 500) >= 500 else 400
    return _errors(status, exc.description or exc.name)


@blueprint.get("/discovery<open311_format:fmt>")
def discovery() -> Response:
    """Where the API is and what it speaks."""
    loaded = db_session().scalar(sa.select(sa.func.max(Service.loaded_at)))
    changeset = timestamp(loaded, _timezone())
    city = current_app.config["CITY"]
    return _send(
        {
            "changeset": changeset,
            "contact": current_app.config["OPEN311_CONTACT"] or f"{city} city services",
            "key_service": current_app.config["OPEN311_KEY_SERVICE"]
            or f"Ask the {city} node's administrators for an API key.",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url_for("open311.root", _external=True).rstrip("/"),
                    "changeset": changeset,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
        root="discovery",
    )


@blueprint.get("/", endpoint="root")
def _root() -> Response:
    g.open311_format = "json"
    return discovery()


@blueprint.get("/services<open311_format:fmt>")
def services() -> Response:
    """The services that take requests over this API."""
    language = reader_language()
    rows = [
        service_row(service, catalogue.spec_of(service, language=language))
        for service in open311.offered_services(db_session=db_session())
    ]
    return _send(rows, root="services")


@blueprint.get("/services/<open311_id:code><open311_format:fmt>")
def service_definition_of(code: str) -> Response:
    """A service's attributes."""
    service = open311.offered_service(db_session=db_session(), code=code)
    spec = catalogue.spec_of(service, language=reader_language())
    return _send(service_definition(spec), root="service_definition")


def reader_language() -> str | None:
    """The language an app asks for (a `locale` parameter, else Accept-Language) among the
    node's; None keeps the services as written, as GeoReport v2 has no language of its own."""
    languages = current_app.config["LANGUAGES"]
    asked = (request.args.get("locale") or "").replace("_", "-").split("-")[0].lower()
    if asked in languages:
        return asked
    if request.accept_languages:
        return request.accept_languages.best_match(languages)
    return None


_sqlite_writer = threading.Lock()


@contextmanager
def one_writer(session: Session) -> Iterator[None]:
    """On SQLite, let this process's threads write one at a time; elsewhere, do nothing.

    SQLite takes one writer at a time anyway, and a thread that finds the file locked sleeps in
    growing steps (1, 2, 5, 10 ms...) before it tries again; queueing on a lock in the process
    hands over at once instead. PostgreSQL writes concurrently and needs none of this.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield


@blueprint.post("/requests<open311_format:fmt>")
def submit() -> Response:
    """Create a service request for a registered client application."""
    session = db_session()
    client = clients.authenticate(db_session=session, api_key=request.values.get("api_key"))
    submission = parse_submission(request.form.to_dict(flat=False))
    with one_writer(session):
        case = open311.submit_request(
            db_session=session,
            client=client,
            submission=submission,
            tracking_prefix=current_app.config["TRACKING_PREFIX"],
            default_region=current_app.config["DEFAULT_COUNTRY_CODE"],
        )
        session.commit()
    due = timestamp(case.due_at, _timezone())
    notice = f"Received by {case.department.name}; expected to be dealt with by {due}."
    return _send(
        [{"service_request_id": case.tracking_code, "service_notice": notice, "account_id": None}],
        root="service_requests",
    )


def _photo_link(token: str) -> str:
    """The public thumbnail's full address, as clients fetch it."""
    return url_for("portal.public_photo", token=token, _external=True)


@blueprint.get("/requests<open311_format:fmt>")
def search() -> Response:
    """Requests filtered by id, service, dates and status, newest first, a page at a time."""
    query = parse_query(request.args.to_dict(flat=False))
    views = open311.search_requests(db_session=db_session(), query=query, scope=_scope())
    zone, phones = _timezone(), region(current_app.config)
    rows = [request_row(view, zone, phones, _photo_link) for view in views]
    return _send(rows, root="service_requests")


@blueprint.get("/requests/<open311_id:code><open311_format:fmt>")
def request_detail(code: str) -> Response:
    """One request by its id (the tracking code), as a list of one."""
    view = open311.get_request(db_session=db_session(), code=code, scope=_scope())
    row = request_row(view, _timezone(), region(current_app.config), _photo_link)
    return _send([row], root="service_requests")


@blueprint.get("/tokens/<open311_id:token><open311_format:fmt>")
def token(token: str) -> Response:
    """The id behind a token; ids are given at once, so a token is the tracking code itself."""
    view = open311.get_request(db_session=db_session(), code=token, scope=_scope())
    return _send(
        [{"service_request_id": view.case.tracking_code, "token": token}],
        root="service_requests",
    )


@blueprint.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str) -> Response:
    """Anything else under /open311/v2/ is answered in the specification's error format."""
    suffix = anything.rsplit(".", 1)[-1].lower() if "." in anything else "json"
    g.open311_format = suffix if suffix in FORMATS else "json"
    return _errors(404, f"no Open311 endpoint {request.method} /open311/v2/{anything}")
