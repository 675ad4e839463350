"""`carmen hub`: set up, run and administer the federation hub."""

from contextlib import contextmanager
from pathlib import Path

import click

from carmen.cli.common import listen_options

INSTANCE_HELP = "Hub instance folder (holds hub.toml and, by default, the SQLite database)."


def _instance_option(function):
    return click.option(
        "--instance",
        "instance",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="CARMEN_HUB_INSTANCE",
        default="var/hub",
        show_default=True,
        help=INSTANCE_HELP,
    )(function)


def _refused(operation, *args, **kwargs):
    """Run an operation, turning its refusal into the command's error and exit."""
    from carmen.operations import OperationError

    try:
        return operation(*args, **kwargs)
    except OperationError as exc:
        raise click.ClickException(str(exc)) from None


def _app(instance: Path):
    from carmen.operations import open_hub

    return _refused(open_hub, instance)


@contextmanager
def _hub_session(instance: Path):
    """The instance's app and a database session, committed when the block ends without error."""
    from federation.hub.database import get_db
    from federation.hub.errors import HubError

    app = _app(instance)
    with app.app_context(), get_db(app).session() as session:
        try:
            yield app, session
        except HubError as exc:
            raise click.ClickException(exc.message) from None
        session.commit()


@click.group()
def hub() -> None:
    """Set up, run and administer the federation hub."""


@hub.command()
@_instance_option
@click.option(
    "--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the instance)."
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(2, 1000),
    default=10,
    show_default=True,
    help="The federation's suppression threshold, told to nodes at enrollment.",
)
@click.option(
    "--broker-url",
    default=None,
    help="Celery broker (e.g. redis://127.0.0.1:6379/0); default: tasks run in-process.",
)
@click.option(
    "--admin",
    "admin_name",
    default="admin",
    show_default=True,
    help="Name of the first user, an admin.",
)
def init(
    instance: Path, database_url: str | None, k: int, broker_url: str | None, admin_name: str
) -> None:
    """Create an instance folder, its hub.toml, a migrated database and a first admin."""
    from carmen.operations import init_hub
    from federation.hub.accounts.models import Role

    passwords = _refused(
        init_hub,
        instance,
        users={admin_name: Role.ADMIN},
        k=k,
        database_url=database_url,
        broker_url=broker_url,
    )
    password = passwords[admin_name]
    click.echo(f"Hub instance ready in {instance}")
    click.echo(f"Admin user {admin_name!r}; one-time password (shown once, change it):")
    click.echo(password)


@hub.command("settings")
@_instance_option
def settings_(instance: Path) -> None:
    """List every setting: type, default, this instance's value (secrets masked) and help.

    Set them in the instance's hub.toml (lower case) or as CARMEN_HUB_<NAME> variables.
    """
    from carmen.cli.common import print_settings
    from federation.hub.config import HubSettings

    print_settings(HubSettings, instance)


@hub.command()
@_instance_option
def migrate(instance: Path) -> None:
    """Bring the instance's database up to the latest schema."""
    from federation.hub.migrate import upgrade

    upgrade(_app(instance).config["DATABASE_URL"])
    click.echo("database up to date")


@hub.command()
@_instance_option
@listen_options(port=8700)
@click.option("--threads", type=int, default=8, show_default=True, help="Waitress worker threads.")
def serve(instance: Path, host: str, port: int, threads: int) -> None:
    """Serve the hub's API with waitress (use gunicorn in a real deployment)."""
    from waitress import serve as waitress_serve

    from carmen.operations import mount_dashboard
    from federation.hub.app import waitress_options

    app = _app(instance)
    # The dashboards read this same hub over its HTTP read API, like any other client.
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    wsgi = mount_dashboard(
        app, hub_url=f"http://{local}:{port}", secret_key=app.config["SECRET_KEY"]
    )
    click.echo(f"hub serving on http://{host}:{port}/ (OpenAPI: /api/v1/openapi.json)")
    click.echo(f"coordinators' dashboards on http://{host}:{port}/dashboard/")
    waitress_serve(wsgi, host=host, port=port, threads=threads, **waitress_options(app))


@hub.command()
@_instance_option
@click.option("--city", required=True, help="City name as Eurostat writes it.")
@click.option("--country", required=True, help="Eurostat 2-letter country code, e.g. IT, EL.")
@click.option(
    "--slug",
    default=None,
    help="The node's name in the federation (default: country-city, e.g. it-bologna, as the "
    "node names itself).",
)
@click.option(
    "--pilot-start",
    default=None,
    metavar="YYYY-MM",
    help="The first month the node may deliver (default: the hub's earliest_period setting).",
)
@click.option(
    "--ttl-hours",
    type=click.IntRange(1, 24 * 90),
    default=None,
    help="Hours the token stays valid (default: the hub's setting, 72).",
)
def enroll(
    instance: Path,
    city: str,
    country: str,
    slug: str | None,
    pilot_start: str | None,
    ttl_hours: int | None,
) -> None:
    """Issue a one-time enrollment token for one city's node (printed on the last line).

    The token enrolls one node only: of this city and country, under this name.
    """
    from carmen.operations import enrollment_token

    app = _app(instance)
    token, record = _refused(
        enrollment_token,
        app,
        city=city,
        country=country,
        slug=slug,
        pilot_start=pilot_start,
        ttl_hours=ttl_hours,
    )
    start = record.pilot_start or app.config["EARLIEST_PERIOD"]
    click.echo(
        f"Enrollment token for the node {record.node_slug} of {record.city} ({record.country}), "
        f"months from {start}, valid until {record.expires_at:%Y-%m-%d %H:%M} UTC, usable once:"
    )
    click.echo(token)


@hub.command()
@_instance_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write cities.csv and observations.csv into.",
)
def export(instance: Path, out_dir: Path) -> None:
    """Write the stored aggregates as the evaluation's tables.

    cities.csv: city_id, city, country, population, the context columns of eu_cities.csv and
    share_16-24, share_25-54, share_55-74, share_75+.
    observations.csv: city_id, service, template, period, segment (or all), channel (or all),
    measure, value; a suppressed cell has no row.
    """
    from federation.hub.aggregates import service as aggregates
    from federation.hub.database import get_db

    app = _app(instance)
    with app.app_context(), get_db(app).session() as session:
        paths = aggregates.write_export(db_session=session, out_dir=out_dir)
    for path in paths:
        click.echo(str(path))


@hub.group()
def user() -> None:
    """Manage hub users (admins and coordinators)."""


@user.command("create")
@_instance_option
@click.option("--username", required=True, help="Login name.")
@click.option(
    "--role",
    type=click.Choice(["admin", "coordinator"]),
    default="coordinator",
    show_default=True,
    help="admin manages the hub; coordinator reads it.",
)
@click.option(
    "--password",
    default=None,
    help="Password (default: a generated one, printed on the last line).",
)
def user_create(instance: Path, username: str, role: str, password: str | None) -> None:
    """Create a hub user; prints the password when it was generated."""
    from federation.hub.accounts import service as accounts
    from federation.hub.accounts.models import Role

    with _hub_session(instance) as (_, session):
        _, chosen = accounts.create_user(
            db_session=session, username=username, role=Role(role), password=password
        )
    click.echo(f"user {username!r} created with role {role}")
    if password is None:
        click.echo("One-time password (shown once):")
        click.echo(chosen)


@hub.group()
def token() -> None:
    """Manage read-API tokens."""


@token.command("create")
@_instance_option
@click.option("--username", required=True, help="The user the token acts as.")
@click.option("--name", default="cli", show_default=True, help="A label to recognise the token.")
@click.option(
    "--ttl-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days the token stays valid (default: the hub's setting, 90).",
)
def token_create(instance: Path, username: str, name: str, ttl_days: int | None) -> None:
    """Issue a read-API token for a user (printed on the last line, shown once)."""
    from federation.hub.accounts import service as accounts
    from federation.hub.database import utcnow

    with _hub_session(instance) as (app, session):
        user_record = accounts.get_user(db_session=session, username=username)
        plain, _ = accounts.create_api_token(
            db_session=session,
            user=user_record,
            name=name,
            now=utcnow(),
            ttl_days=ttl_days or app.config["API_TOKEN_TTL_DAYS"],
        )
    click.echo(f"API token {name!r} for {username} (send as Authorization: Bearer <token>):")
    click.echo(plain)


@hub.command()
@_instance_option
@click.option("--seed", type=int, default=None, help="Seed of the evaluation (default: setting).")
def evaluate(instance: Path, seed: int | None) -> None:
    """Run the evaluation over the stored aggregates now and keep its results at the hub.

    A node whose data cannot be evaluated is left out, with a warning; a run that fails keeps
    the results of the last successful one served.
    """
    from carmen.operations import evaluate_hub

    run = _refused(evaluate_hub, _app(instance), seed=seed)
    click.echo(f"evaluation run {run.id}: {run.status}")
    for warning in run.warnings or []:
        click.echo(f"  warning: {warning['node']}: {warning['message']}", err=True)
    if run.error:
        raise click.ClickException(run.error)
    for name, table in (run.results or {}).items():
        if isinstance(table, list):
            click.echo(f"  {name}: {len(table)} rows")


@hub.group()
def node() -> None:
    """Suspend, resume and list the enrolled nodes."""


@node.command("list")
@_instance_option
def node_list(instance: Path) -> None:
    """List the nodes: name, city, state, pilot start, last sync and refused pushes."""
    from federation.hub.nodes import service as nodes

    with _hub_session(instance) as (app, session):
        for record in nodes.list_nodes(db_session=session):
            state = "active" if record.active else "suspended"
            synced = f"{record.last_sync_at:%Y-%m-%d %H:%M}" if record.last_sync_at else "never"
            click.echo(
                f"{record.slug}\t{record.city} ({record.country})\t{state}\t"
                f"from {record.pilot_start or app.config['EARLIEST_PERIOD']}\t"
                f"last sync {synced}\t{record.suspended_pushes} pushes refused while suspended"
            )


@node.command("suspend")
@_instance_option
@click.argument("slug")
def node_suspend(instance: Path, slug: str) -> None:
    """Suspend the node SLUG: its pushes are refused (403) and counted, and evaluations leave
    its data out until it is resumed. Its stored months are kept."""
    from federation.hub.nodes import service as nodes

    with _hub_session(instance) as (_, session):
        nodes.set_active(db_session=session, slug=slug, active=False)
    click.echo(f"node {slug} suspended: its pushes are refused until `carmen hub node resume`")


@node.command("resume")
@_instance_option
@click.argument("slug")
def node_resume(instance: Path, slug: str) -> None:
    """Resume the suspended node SLUG: its pushes are accepted again."""
    from federation.hub.nodes import service as nodes

    with _hub_session(instance) as (_, session):
        record = nodes.set_active(db_session=session, slug=slug, active=True)
    click.echo(f"node {slug} resumed ({record.suspended_pushes} pushes were refused meanwhile)")


@token.command("list")
@_instance_option
@click.option("--username", default=None, help="Only this user's tokens.")
def token_list(instance: Path, username: str | None) -> None:
    """List API tokens (never their values): id, user, label, expiry, last use, revocation."""
    from federation.hub.accounts import service as accounts

    def when(moment) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    with _hub_session(instance) as (_, session):
        for record, name in accounts.list_tokens(db_session=session, username=username):
            state = f"revoked {when(record.revoked_at)}" if record.revoked_at else "live"
            click.echo(
                f"{record.id}\t{name}\t{record.name}\texpires {when(record.expires_at)}\t"
                f"last used {when(record.last_used_at)}\t{state}"
            )


@token.command("revoke")
@_instance_option
@click.option("--id", "token_id", type=int, default=None, help="The token's id (`token list`).")
@click.option("--token", "value", default=None, help="The token itself.")
@click.option("--username", default=None, help="Revoke every token of this user.")
def token_revoke(
    instance: Path, token_id: int | None, value: str | None, username: str | None
) -> None:
    """Revoke API tokens, by id, by value or all of one user's; they stop working at once."""
    from federation.hub.accounts import service as accounts
    from federation.hub.database import utcnow

    if sum(choice is not None for choice in (token_id, value, username)) != 1:
        raise click.UsageError("name the tokens by exactly one of --id, --token, --username")
    with _hub_session(instance) as (_, session):
        if username is not None:
            user = accounts.get_user(db_session=session, username=username)
            count = accounts.revoke_tokens(db_session=session, user=user, now=utcnow())
            message = f"{count} tokens of {username} revoked"
        else:
            record = accounts.revoke_token(
                db_session=session, token_id=token_id, token=value, now=utcnow()
            )
            message = f"token {record.id} ({record.name!r}) revoked"
    click.echo(message)


@user.command("list")
@_instance_option
def user_list(instance: Path) -> None:
    """List the hub's users: name, role and whether the account is enabled."""
    from federation.hub.accounts import service as accounts

    with _hub_session(instance) as (_, session):
        for record in accounts.list_users(db_session=session):
            state = "enabled" if record.active else "disabled"
            click.echo(f"{record.username}\t{record.role}\t{state}")


@user.command("passwd")
@_instance_option
@click.option("--username", required=True, help="The account whose password changes.")
@click.option(
    "--password",
    default=None,
    help="The new password, 8 characters or more (default: a generated one, printed on the "
    "last line).",
)
def user_passwd(instance: Path, username: str, password: str | None) -> None:
    """Change a user's password; the user's API tokens are revoked (log in again)."""
    from federation.hub.accounts import service as accounts
    from federation.hub.database import utcnow

    with _hub_session(instance) as (_, session):
        _, chosen, revoked = accounts.set_password(
            db_session=session, username=username, password=password, now=utcnow()
        )
    click.echo(f"password of {username} changed; {revoked} of its tokens revoked")
    if password is None:
        click.echo("One-time password (shown once):")
        click.echo(chosen)


@user.command("disable")
@_instance_option
@click.option("--username", required=True, help="The account to disable.")
def user_disable(instance: Path, username: str) -> None:
    """Disable an account: it cannot log in, and its API tokens are revoked at once."""
    _set_account(instance, username, active=False)
    click.echo(f"user {username} disabled; its tokens no longer work")


@user.command("enable")
@_instance_option
@click.option("--username", required=True, help="The account to enable again.")
def user_enable(instance: Path, username: str) -> None:
    """Enable a disabled account again (its old tokens stay revoked: it logs in anew)."""
    _set_account(instance, username, active=True)
    click.echo(f"user {username} enabled")


def _set_account(instance: Path, username: str, *, active: bool) -> None:
    from federation.hub.accounts import service as accounts
    from federation.hub.database import utcnow

    with _hub_session(instance) as (_, session):
        accounts.set_active(db_session=session, username=username, active=active, now=utcnow())
