"""The composition root's operations: plain functions that the `carmen` command and the demo call.

Each takes what it needs as arguments, does the work through the parts' service functions,
commits where a command would, and raises `OperationError` (or the tooling's `TemplateError`)
with a message for people. The command line turns those into a non-zero exit and the message;
the demo reports them. Nothing here prints or parses options.
"""

import secrets
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

DASHBOARD_PREFIX = "/dashboard"


class OperationError(Exception):
    """An operation could not be done; the message says why."""


# ---------------------------------------------------------------------------------------------
# The hub


def init_hub(
    instance: Path,
    *,
    users: Mapping[str, Any],
    k: int = 10,
    database_url: str | None = None,
    broker_url: str | None = None,
) -> dict[str, str]:
    """Create a hub instance (settings, migrated database, users); returns each user's password.

    `users` maps each name to its role (`federation.hub.accounts.models.Role`); the passwords
    are generated.
    """
    from federation.hub.accounts import service as accounts
    from federation.hub.config import INSTANCE_FILE, HubSettings
    from federation.hub.database import get_db
    from federation.hub.migrate import upgrade

    if (instance / INSTANCE_FILE).exists():
        raise OperationError(f"{instance} is a hub instance already")
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder: its owner's only
    values: dict[str, object] = {"secret_key": secrets.token_hex(32), "k": k}
    if database_url:
        values["database_url"] = database_url
    if broker_url:
        values["broker_url"] = broker_url
    # Every evaluation also judges each service across Europe's cities (dashboards show it).
    values["europe_cities"] = str(resources.files("carmen.data").joinpath("eu_cities.csv"))
    HubSettings.write_file(instance, values)
    app = open_hub(instance)
    upgrade(app.config["DATABASE_URL"])
    passwords = {}
    with app.app_context(), get_db(app).session() as session:
        for username, role in users.items():
            _, passwords[username] = hub_call(
                accounts.create_user, db_session=session, username=username, role=role
            )
        session.commit()
    return passwords


def open_hub(instance: Path):
    """The app of a hub instance, or an OperationError saying to run `carmen hub init`."""
    from federation.hub import create_app
    from federation.hub.config import INSTANCE_FILE
    from runtime.settings import SettingsError

    if not (instance / INSTANCE_FILE).exists():
        raise OperationError(
            f"{instance} is not a hub instance (no {INSTANCE_FILE}); run `carmen hub init` first"
        )
    try:
        return create_app({"INSTANCE_PATH": instance})
    except SettingsError as exc:
        raise OperationError(str(exc)) from exc


def hub_call(function: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a hub service function, turning its HubError into an OperationError."""
    from federation.hub.errors import HubError

    try:
        return function(**kwargs)
    except HubError as exc:
        raise OperationError(exc.message) from None


def enrollment_token(
    hub_app,
    *,
    city: str,
    country: str,
    slug: str | None = None,
    pilot_start: str | None = None,
    ttl_hours: int | None = None,
):
    """Issue a one-time enrollment token bound to a city's node and its name (by default the
    node's own default name); returns (token, its record)."""
    from federation.hub.database import get_db, utcnow
    from federation.hub.nodes import service as nodes

    with hub_app.app_context(), get_db(hub_app).session() as session:
        token, record = hub_call(
            nodes.create_enrollment_token,
            db_session=session,
            city=city,
            country=country,
            slug=slug,
            pilot_start=pilot_start,
            now=utcnow(),
            ttl_hours=ttl_hours or hub_app.config["ENROLLMENT_TOKEN_TTL_HOURS"],
        )
        session.commit()
    return token, record


def evaluate_hub(hub_app, *, seed: int | None = None):
    """Run the evaluation over the stored aggregates now and keep its results; returns the run.

    A run that failed is returned with its `error`; a run a worker holds already is refused.
    """
    from federation.hub.database import get_db, utcnow
    from federation.hub.evaluations import service as evaluations

    with hub_app.app_context(), get_db(hub_app).session() as session:
        run = evaluations.run_now(
            db_session=session,
            seed=hub_app.config["EVALUATION_SEED"] if seed is None else seed,
            now=utcnow(),
            options=evaluations.evaluation_options(hub_app.config),
            europe_cities_csv=hub_app.config["EUROPE_CITIES"],
        )
        if run is None:
            raise OperationError("a worker is running an evaluation already")
        session.commit()
    return run


def mount_dashboard(hub_app, *, hub_url: str, secret_key: str | None = None):
    """One WSGI app: the hub at / and its dashboards under /dashboard/ (read over HTTP)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from dashboards import create_dashboard

    dashboard = create_dashboard(
        hub_url, requests_pathname_prefix=f"{DASHBOARD_PREFIX}/", secret_key=secret_key
    )
    return DispatcherMiddleware(hub_app, {DASHBOARD_PREFIX: dashboard.server})


# ---------------------------------------------------------------------------------------------
# A node's link to the hub


def enroll_node(app, *, instance: Path, hub_url: str, token: str, slug: str | None = None):
    """Register a node and its public key with the hub; returns (its name, the federation's k)."""
    from federation.protocol.client import EnrollmentError
    from node.database import get_db
    from node.sync import service as sync

    with get_db(app).session() as db_session:
        try:
            name = sync.enroll_with_hub(
                db_session=db_session,
                settings=app.config,
                instance=instance,
                hub_url=hub_url,
                token=token,
                slug=slug,
            )
        except (EnrollmentError, ValueError) as exc:
            raise OperationError(f"enrollment refused: {exc}") from exc
        k = sync.get_link(db_session=db_session).k
        db_session.commit()
    return name, k


def sync_node(app, *, instance: Path) -> dict:
    """Build the snapshots of changed months and push every pending one; returns each result."""
    from node.database import get_db
    from node.errors import NotFound
    from node.sync import service as sync

    key = sync.load_or_create_key(instance)
    with get_db(app).session() as db_session:
        try:
            return sync.sync_now(
                db_session=db_session,
                key=key,
                privacy=sync.noise_settings(app.config),
                release=sync.release_settings(app.config),
            )
        except (NotFound, sync.SyncBusy) as exc:
            raise OperationError(str(exc)) from exc


# ---------------------------------------------------------------------------------------------
# A node's services


class NodeServices:
    """What generating a node's services needs: its city answers, channels and services folder."""

    def __init__(self, instance: Path) -> None:
        from node.config import INSTANCE_FILE, NodeSettings
        from runtime.settings import SettingsError
        from service_templates.engine import city_answers, offered_channels

        if not (instance / INSTANCE_FILE).is_file():
            raise OperationError(f"{instance} is not a node instance: run `carmen node init` first")
        try:
            settings = NodeSettings.load(instance)
        except SettingsError as exc:
            raise OperationError(str(exc)) from exc
        self.instance = instance
        self.services_dir = settings.services_dir
        self.city: dict[str, str] = city_answers(
            city=settings.city, country=settings.country, languages=settings.languages
        )
        if settings.districts:
            self.city["areas"] = ",".join(settings.districts)
        self.channels = offered_channels(settings.channels)

    def check_spec(self, replacing: str | None = None) -> Callable[[Path], None]:
        """A check the node's loader makes of a rendered service before it is moved into place."""
        from node.services.service import load_specs, read_spec
        from service_templates.engine import TemplateError

        def check(folder: Path) -> None:
            try:
                spec = read_spec(folder / "service.toml")
            except ValueError as exc:
                raise TemplateError(f"the node would not load the service: {exc}") from exc
            for other in load_specs(self.services_dir).specs:
                if other.code == replacing:
                    continue
                if other.code == spec.code:
                    raise TemplateError(
                        f"another folder of this node already hosts a service {spec.code!r}; "
                        "give another with --set service_code=..."
                    )
                if spec.sms_keyword and other.sms_keyword == spec.sms_keyword:
                    raise TemplateError(
                        f"SMS keyword {spec.sms_keyword} is already used by {other.code} on "
                        "this node; give another with --set sms_keyword=..."
                    )

        return check

    def folder(self, code: str) -> Path:
        """The folder of one of the node's services, or an OperationError."""
        folder = self.services_dir / code
        if not (folder / "service.toml").is_file():
            raise OperationError(f"no service {code!r} in {self.services_dir}")
        return folder


def new_service(
    *,
    instance: Path,
    template: str,
    assignments: Mapping[str, str],
    templates_dir: Path | None = None,
) -> Path:
    """Generate a service from a template into a node's services folder; returns its folder."""
    from service_templates import engine

    node = NodeServices(instance)
    return engine.new_service(
        root=engine.templates_root(templates_dir),
        template=template,
        services_dir=node.services_dir,
        city=node.city,
        node_channels=node.channels,
        assignments=assignments,
        check=node.check_spec(),
    )


def clone_service(
    *, service: str, source: Path, target: Path, assignments: Mapping[str, str]
) -> Path:
    """Clone a service of one node into another with the target city's answers."""
    from service_templates import engine

    origin, node = NodeServices(source), NodeServices(target)
    return engine.clone_service(
        source_services_dir=origin.services_dir,
        service=service,
        source_city=origin.city,
        target_services_dir=node.services_dir,
        city=node.city,
        node_channels=node.channels,
        assignments=assignments,
        check=node.check_spec(),
    )
