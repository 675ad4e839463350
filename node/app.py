"""The node's application factory."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from node import celery_app
from node.config import NodeSettings
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from runtime import database, settings

DEFAULT_INSTANCE = Path("var") / "node"


def instance_path_from(config: Mapping[str, Any]) -> Path:
    """The instance folder: INSTANCE_PATH, else CARMEN_NODE_INSTANCE, else var/node."""
    raw = config.get("INSTANCE_PATH") or os.environ.get("CARMEN_NODE_INSTANCE") or DEFAULT_INSTANCE
    return Path(raw).resolve()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a node app from defaults, its instance file, the environment and `config`."""
    given, flask_config = NodeSettings.split(config or {})
    instance = instance_path_from(flask_config)
    flask_config.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=str(instance))
    settings.init_app(app, NodeSettings.load(instance, given))
    app.config.update(flask_config)
    if not app.config["SECRET_KEY"]:
        raise RuntimeError(
            f"no secret key for the node in {instance}: run `carmen node init` or set "
            "CARMEN_NODE_SECRET_KEY"
        )
    _secure_cookies(app)
    app.url_map.converters["int"] = BoundedInt
    database.init_app(app)
    _trust_proxies(app)
    _init_web(app)
    celery_app.init_app(app)  # after _init_web: the behaviours add their tasks there

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "city": app.config["CITY"]}

    return app


LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BoundedInt(IntegerConverter):
    """<int:...> in a URL up to the largest database integer: a longer one is a 404, not a 500
    (SQLite cannot even bind it)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _secure_cookies(app: Flask) -> None:
    """Cookies go over HTTPS only, unless the node is served on loopback (embedded, tests)."""
    from urllib.parse import urlsplit

    secure = app.config.get("SESSION_COOKIE_SECURE")
    if secure is None:
        secure = urlsplit(app.config["PUBLIC_URL"]).hostname not in LOOPBACK
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)


def _trust_proxies(app: Flask) -> None:
    """Believe the X-Forwarded-* headers of TRUSTED_PROXY_HOPS reverse proxies, and no more.

    Behind a proxy every request comes from the proxy's address; the per-address limits need the
    citizen's. Each trusted proxy appends the address it saw, so the node reads that many from
    the right of X-Forwarded-For: what a client writes further left is never believed.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def select_locale() -> str:
    """The reader's language: a signed-in citizen's, else the ?lang= choice, else the browser's."""
    from flask import current_app
    from flask_login import current_user

    languages = current_app.config["LANGUAGES"]
    citizen = getattr(current_user, "citizen", None)
    if citizen is not None and citizen.language in languages:
        return citizen.language
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config["DEFAULT_LANGUAGE"]


def _staff_account(user_id: int) -> Any:
    """A staff member who may sign in: disabled accounts sign out."""
    from node.staff import service as staff

    user = staff.get(db_session=database.db_session(), user_id=user_id)
    return user if user.active else None


def _citizen_account(citizen_id: int) -> Any:
    """A citizen's account by id."""
    from node.profiles import service as profiles

    return profiles.get_citizen(db_session=database.db_session(), citizen_id=citizen_id)


def _send_to_contact(*, kind: str, to: str, subject: str, body: str, language: str) -> None:
    """Send an account's link or code now, through the adapters; Conflict when it cannot."""
    from node.messaging.adapters import DeliveryError
    from node.messaging.tasks import current_adapters

    adapters = current_adapters()
    try:
        if kind == "phone":
            adapters.sms.send(to=to, body=body)
        else:
            adapters.email.send(to=to, subject=subject, body=body, language=language)
    except DeliveryError as exc:
        raise Conflict(f"could not be sent: {exc}") from exc


def _send_staff_mail(*, to: str, subject: str, body: str, language: str) -> None:
    """E-mail a member of staff now, through the adapters; Conflict when it cannot."""
    _send_to_contact(kind="email", to=to, subject=subject, body=body, language=language)


def _init_web(app: Flask) -> None:
    """Attach CSRF, sign-in and translations, the blueprints, and the error pages."""
    from node import auth, behaviours, display
    from node.alerts.service import export_subscriptions
    from node.cases import display as case_display
    from node.cases.photos import claim_photos, export_photos
    from node.cases.service import CASE_CHANGED, CASE_OPENED
    from node.cases.views import bp as cases_bp
    from node.cases.views import forget_erased_photos
    from node.extensions import babel, csrf
    from node.intake import limits
    from node.intake.console import bp as console_bp
    from node.intake.email.views import bp as email_bp
    from node.intake.email.views import forget_erased as forget_erased_mail
    from node.intake.email.views import office_bp as quarantine_bp
    from node.intake.open311.views import blueprint as open311_bp
    from node.intake.service import forget_home_addresses
    from node.intake.sms.service import forget_citizen as forget_sms_dialogue
    from node.intake.sms.views import bp as sms_bp
    from node.intake.views import bp as portal_bp
    from node.messaging.service import claim_notifications, forget_notifications
    from node.messaging.tasks import alert_staff_after_commit, notify_after_commit
    from node.messaging.views import bp as messaging_bp
    from node.profiles.identity import CLAIMING
    from node.profiles.service import ERASING, EXPORTING, UNLINKED, UNLINKING
    from node.profiles.views import SENDER, privacy_bp
    from node.profiles.views import bp as account_bp
    from node.services.views import bp as services_api_bp
    from node.staff.views import SENDER as STAFF_SENDER
    from node.staff.views import bp as office_bp
    from node.sync.aggregation import hold_counts_before_unlinking, keep_counts_after_unlinking
    from node.usage.views import bp as usage_bp

    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LANGUAGE"])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["TIMEZONE"])
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    auth.init_app(app, loaders={"staff": _staff_account, "citizen": _citizen_account})
    display.init_app(app)
    case_display.init_app(app)
    limits.init_app(app)  # abuse limits on the portal, Open311, SMS and e-mail intake
    app.register_blueprint(portal_bp)
    app.register_blueprint(account_bp)
    app.extensions[SENDER] = _send_to_contact  # verification links and codes
    app.register_blueprint(privacy_bp)  # data-subject requests, for the privacy role
    app.register_blueprint(office_bp)
    app.extensions[STAFF_SENDER] = _send_staff_mail  # password-reset links
    app.register_blueprint(cases_bp)
    app.register_blueprint(console_bp)  # the call centre, under /office/console
    app.register_blueprint(csrf.exempt(open311_bp))  # clients authenticate by api_key
    app.register_blueprint(services_api_bp)  # read-only JSON: the catalogue with provenance
    app.register_blueprint(csrf.exempt(sms_bp))  # the gateway signs each request instead
    app.register_blueprint(csrf.exempt(email_bp))  # the mail service sends a bearer token
    app.register_blueprint(quarantine_bp)  # quarantined mail, and originals on the case page
    app.register_blueprint(messaging_bp)  # the portal inbox on the account page
    app.register_blueprint(usage_bp)  # the usage segments learned at the node
    behaviours.init_app(app)  # each behaviour's pages and tasks (node/behaviours.py)
    CASE_CHANGED.connect(notify_after_commit)  # staff's changes are told to the citizen
    ERASING.connect(forget_sms_dialogue)  # an erased citizen's open SMS question
    ERASING.connect(forget_erased_mail)  # and their raw e-mail
    CLAIMING.connect(claim_notifications)  # a claimed request's messages follow it
    ERASING.connect(forget_notifications)  # an erased person's messages lose link and text
    ERASING.connect(forget_erased_photos)  # and their photos, rows and files
    CLAIMING.connect(claim_photos)  # a claimed request's photos follow it
    ERASING.connect(forget_home_addresses)  # their requests keep the street, not the house
    UNLINKING.connect(hold_counts_before_unlinking)  # the counts made of an erased person
    UNLINKED.connect(keep_counts_after_unlinking)  # stay, so sent months never change
    EXPORTING.connect(export_subscriptions)  # the export names their alert subscriptions
    EXPORTING.connect(export_photos)  # and the photos they sent
    CASE_OPENED.connect(alert_staff_after_commit)  # a danger report, to the staff on duty

    def error_page(status: int, title: Any, message: Any) -> tuple[str, int]:
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> tuple[str, int]:
        return error_page(
            400,
            _l("Form refused"),
            _l(
                "The form's security token was missing, expired or forged, so nothing was "
                "changed. Go back, reload the page and send the form again."
            ),
        )

    # A domain refusal a view lets through is a page with its status and the refusal's words.
    refusals = (
        (NotFound, 404, _l("Not found")),
        (Forbidden, 403, _l("Not allowed")),
        (Conflict, 409, _l("Not possible now")),
        (InvalidInput, 422, _l("Invalid input")),
    )
    for refusal, status, title in refusals:
        app.register_error_handler(
            refusal, lambda exc, status=status, title=title: error_page(status, title, str(exc))
        )

    titles = {
        400: _l("Bad request"),
        403: _l("Not allowed"),
        404: _l("Page not found"),
        405: _l("Method not allowed"),
    }

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400 or request.path.startswith("/static/"):
            return exc
        if request.accept_mimetypes.best == "application/json":
            return {"error": exc.name, "message": exc.description}, exc.code
        return error_page(exc.code, titles.get(exc.code, exc.name), exc.description)
