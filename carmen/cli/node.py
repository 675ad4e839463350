"""`carmen node`: create, serve and administer a city node."""

import sys
from pathlib import Path

import click

from carmen.cli.common import (
    instance_option,
    listen_options,
    node_session,
    open_node,
    print_settings,
    serve_wsgi,
)


@click.group()
def node() -> None:
    """Create, serve and administer a city node."""


@node.command()
@click.option("--city", required=True, help='The city\'s name, e.g. "Bologna".')
@click.option("--country", required=True, help="Two-letter country code (Eurostat), e.g. IT.")
@click.option("--population", required=True, type=click.IntRange(min=1), help="Inhabitants.")
@instance_option
@click.option(
    "--admin-email",
    default="admin@localhost.localdomain",
    show_default=True,
    help="E-mail (login) of the first administrator.",
)
@click.option(
    "--language",
    "languages",
    multiple=True,
    help="Language offered to citizens (repeat; the first is the default). Default: en, it.",
)
@click.option("--district", "districts", multiple=True, help="A district of the city (repeat).")
@click.option(
    "--database-url",
    help="SQLAlchemy URL, e.g. postgresql+psycopg://host/db "
    "(default: SQLite in the instance folder).",
)
def init(city, country, population, instance, admin_email, languages, districts, database_url):
    """Create a node instance: settings, database and a first admin with a one-time password."""
    from node.instance import InstanceError, initialise
    from node.staff.service import InvalidInput

    try:
        created = initialise(
            path=instance,
            city=city,
            country=country,
            population=population,
            admin_email=admin_email,
            languages=list(languages) or None,
            districts=list(districts) or None,
            database_url=database_url,
        )
    except (InstanceError, InvalidInput) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Node for {city} created in {created.path}")
    click.echo(f"Admin login: {created.admin_email}")
    click.echo("One-time password (shown once; you will be asked to change it):")
    click.echo(created.admin_password)


@node.command()
@instance_option
@listen_options(port=8311)
def serve(instance, host, port):
    """Serve the portal, the back office and the node's APIs.

    Without a broker (the embedded default) the node also runs its scheduled work itself on a
    thread: failed messages are retried when due, held alerts and reminders go out, usage
    segments are refitted and the hub is synced, as Celery beat and a worker would.
    """
    from node.celery_app import serve_in_background
    from node.instance import load_services
    from runtime.celery_app import EmbeddedBeat

    app = open_node(instance)
    report = load_services(app, refuse_unstaffed=True)
    for folder, problem in report.errors.items():
        click.echo(f"warning: service {folder} not loaded: {problem}", err=True)
    click.echo(f"{app.config['CITY']}: {len(report.specs)} services")
    serve_in_background(app)
    beat = None
    if not app.config["BROKER_URL"]:
        beat = EmbeddedBeat(app)
        beat.start()
        click.echo("no broker: scheduled tasks and retries run in this process")
    click.echo(
        f"serving portal on http://{host}:{port}/ and back office on http://{host}:{port}/office/"
    )
    try:
        serve_wsgi(app, host=host, port=port)
    finally:
        if beat is not None:
            beat.stop()


@node.command("usage-segments")
@instance_option
@click.option(
    "--clusters",
    type=click.IntRange(2, 20),
    help="Number of segments (default: chosen by the silhouette score, 2 to 8).",
)
def usage_segments(instance, clusters):
    """Learn the citizens' usage segments now and print each with its figures.

    Only citizens who agreed to profiling and made a request in the last year are clustered;
    beat (or the serving node itself, without a broker) does this daily. Staff can then send
    alerts to one segment.
    """
    from node.database import get_db
    from node.usage import service as usage

    app = open_node(instance)
    with get_db(app).session() as db_session:
        found = usage.fit_segments(db_session=db_session, n_clusters=clusters)
        db_session.commit()
        if not found:
            click.echo(f"fewer than {usage.MIN_CITIZENS} citizens to cluster: no segments")
            return
        for cluster in found:
            figures = ", ".join(
                f"{name} {value}" for name, value in cluster.figures.items() if value is not None
            )
            click.echo(f"{cluster.value}\t{cluster.size} citizens ({cluster.share:.0%})\t{figures}")


@node.command("settings")
@instance_option
def settings_(instance):
    """List every setting: type, default, this instance's value (secrets masked) and help.

    Set them in the instance's node.toml (lower case) or as CARMEN_NODE_<NAME> variables.
    """
    from node.config import NodeSettings

    print_settings(NodeSettings, instance)


@node.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("create")
@instance_option
@click.option("--email", required=True, help="The staff member's e-mail, used to log in.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["agent", "caseworker", "supervisor", "admin", "privacy"]),
    help="agent: call centre; caseworker: one department's cases; supervisor: all "
    "departments and SLA overview; admin: everything; privacy: data-subject requests.",
)
@click.option("--department", help="Department code (required for caseworkers), e.g. environment.")
@click.option("--name", default="", help="Full name shown in the back office.")
def user_create(instance, email, role, department, name):
    """Add a staff member and print a one-time password on the last line."""
    from node.staff import service as staff

    password = staff.one_time_password()
    with node_session(instance) as (_, db_session):
        created = staff.create_user(
            db_session=db_session,
            email=email,
            role=role,
            password=password,
            name=name,
            department_code=department,
        )
    click.echo(f"{created.email} ({created.role.value}) added; one-time password:")
    click.echo(password)


def _change_user(instance: Path, email: str, change) -> None:
    """Apply `change(db_session, user)` to one staff member, found by e-mail, and commit."""
    from node.staff import service as staff

    with node_session(instance) as (_, db_session):
        change(db_session, staff.find_by_email(db_session=db_session, email=email))


@user.command("disable")
@instance_option
@click.option("--email", required=True, help="The staff member's e-mail.")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def user_disable(instance, email, enable):
    """Disable a staff account (every session of it ends), or enable it again."""
    from node.staff import service as staff

    def change(_db_session, user):
        staff.set_active(user=user, active=enable)
        click.echo(f"{user.email} {'enabled' if enable else 'disabled'}")

    _change_user(instance, email, change)


@user.command("passwd")
@instance_option
@click.option("--email", required=True, help="The staff member's e-mail.")
def user_passwd(instance, email):
    """Reset a staff password: every session ends; prints a one-time password on the last line."""
    from node.staff import service as staff

    given = []
    _change_user(instance, email, lambda _s, user: given.append(staff.reset_password(user=user)))
    click.echo(f"{email}: one-time password (to change at the next sign-in):")
    click.echo(given[0])


@node.group()
def subject() -> None:
    """Answer a data subject's request: export or erase a person found by e-mail or phone."""


def _subjects(instance: Path, email: str | None, phone: str | None, action) -> None:
    """Apply `action(db_session, citizen)` to each live profile the contact names, recorded."""
    from node.profiles import service as profiles

    with node_session(instance) as (app, db_session):
        found = profiles.find_subjects(
            db_session=db_session,
            email=email,
            phone=phone,
            default_region=app.config["DEFAULT_COUNTRY_CODE"],
        )
        if not found:
            raise click.ClickException("the node holds no profile with this contact")
        for citizen in found:
            action(db_session, citizen)


_contact = [
    click.option("--email", help="The e-mail the person gave."),
    click.option("--phone", help="The phone number the person gave, e.g. +393331234567."),
]


def _with_contact(command):
    for option in reversed(_contact):
        command = option(command)
    return instance_option(command)


@subject.command("export")
@_with_contact
def subject_export(instance, email, phone):
    """Print, as JSON, everything the node holds about the person (recorded in the archive)."""
    import json

    from node.cases.schemas import Actor
    from node.profiles import service as profiles

    def export(db_session, citizen):
        data = profiles.export_citizen(
            db_session=db_session, citizen_id=citizen.id, actor=Actor.system()
        )
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    _subjects(instance, email, phone, export)


@subject.command("erase")
@_with_contact
@click.option("--yes", is_flag=True, help="Erase without asking for confirmation.")
def subject_erase(instance, email, phone, yes):
    """Erase the person's data (recorded); their requests stay, without them."""
    from node.cases.schemas import Actor
    from node.profiles import service as profiles

    if not yes:
        click.confirm(f"Erase {email or phone} for good?", abort=True)

    def erase(db_session, citizen):
        unlinked = profiles.erase_citizen(
            db_session=db_session, citizen_id=citizen.id, actor=Actor.system()
        )
        click.echo(f"profile {citizen.id} erased; {unlinked} requests stay without it")

    _subjects(instance, email, phone, erase)


@node.command()
@instance_option
def services(instance):
    """Load the instance's services/ folder and list the catalogue, with any problems found.

    A service whose cases could go to a department without an active caseworker is listed with
    a warning: `carmen node serve` will not offer it until the department has one.
    """
    from node.instance import load_services

    app = open_node(instance)
    report = load_services(app)
    for spec in report.specs:
        keyword = f", SMS {spec.sms_keyword}" if spec.sms_keyword else ""
        click.echo(
            f"{spec.code}\t{spec.name}\t{spec.domain.value}\t"
            f"{','.join(c.value for c in spec.channels)}\tSLA {spec.sla_hours} h{keyword}"
        )
    for code, problem in report.unstaffed.items():
        click.echo(f"warning: {code}: {problem} (refused by `carmen node serve`)", err=True)
    for folder, problem in report.errors.items():
        click.echo(f"error: {folder}: {problem}", err=True)
    if report.errors:
        raise SystemExit(1)


@node.group("api-key")
def api_key() -> None:
    """Manage the API keys of Open311 client applications.

    A key lets an app submit requests; its scope says what the app reads through Open311 GET:
    public (what anyone reads: each service's [publish], redacted) or full (the city's own
    app: every request as stored, with its text, exact address and coordinates).
    """


SCOPE_HELP = (
    "public: reads what anyone reads (each service's [publish], redacted); full: the city's "
    "own app, reads every request as stored (text, exact address and coordinates, photo)."
)


@api_key.command("create")
@instance_option
@click.option("--name", required=True, help='The client application, e.g. "Bologna Segnala".')
@click.option(
    "--kind",
    default="app",
    show_default=True,
    type=click.Choice(["app", "web"]),
    help="app: a mobile app (requests recorded under the app channel); web: a web site or "
    "form (recorded under the web channel).",
)
@click.option(
    "--scope",
    default="public",
    show_default=True,
    type=click.Choice(["public", "full"]),
    help=SCOPE_HELP,
)
def api_key_create(instance, name, kind, scope):
    """Register an Open311 client application and print its API key on the last line."""
    from node.intake import clients

    with node_session(instance) as (_, db_session):
        client, key = clients.create_client(
            db_session=db_session, name=name, kind=kind, scope=scope
        )
        described = (
            f"client application {client.name!r} ({client.kind.value}, reads "
            f"{client.scope.value}) registered as {client.id}; API key:"
        )
    click.echo(described)
    click.echo(key)


@api_key.command("list")
@instance_option
def api_key_list(instance):
    """List the client applications: id, name, kind, scope, created, active or revoked."""
    from node.database import get_db
    from node.intake import clients

    app = open_node(instance)
    with get_db(app).session() as db_session:
        for client in clients.list_clients(db_session=db_session):
            state = "active" if client.active else "revoked"
            click.echo(
                f"{client.id}\t{client.name}\t{client.kind.value}\t{client.scope.value}\t"
                f"{client.created_at:%Y-%m-%d}\t{state}"
            )


def _change_client(instance: Path, change) -> None:
    """Apply `change(db_session)` to one client application and say what it is now."""
    with node_session(instance) as (_, db_session):
        client = change(db_session)
        state = f"reads {client.scope.value}" if client.active else "revoked"
        said = f"client application {client.id} {client.name!r}: {state}"
    click.echo(said)


@api_key.command("scope")
@instance_option
@click.argument("client_id", type=int)
@click.argument("scope", type=click.Choice(["public", "full"]))
def api_key_scope(instance, client_id, scope):
    """Change what the key of client CLIENT_ID (see `api-key list`) reads: public or full.

    The key stays the same; the app reads with the new scope from its next request.
    """
    from node.intake import clients

    _change_client(
        instance,
        lambda db_session: clients.set_scope(
            db_session=db_session, client_id=client_id, scope=scope
        ),
    )


@api_key.command("revoke")
@instance_option
@click.argument("client_id", type=int)
def api_key_revoke(instance, client_id):
    """Revoke the key of client CLIENT_ID (see `api-key list`); its past requests stay."""
    from node.intake import clients

    _change_client(
        instance,
        lambda db_session: clients.deactivate(db_session=db_session, client_id=client_id),
    )


# sysexits.h: a mail transfer agent bounces EX_DATAERR with our message and retries EX_TEMPFAIL.
EX_DATAERR = 65
EX_TEMPFAIL = 75


@node.command("ingest-email")
@instance_option
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    help="The envelope recipient the MTA delivered to (repeat), e.g. Postfix's ${recipient}.",
)
def ingest_email(instance, recipients):
    """Take one raw e-mail on standard input (an MTA pipe): open or join a case, or quarantine.

    Exit status 0 when the message opened or joined a case (or was already received), or was a
    machine's (an auto-reply, a bounce: recorded, no case); 65 when it was quarantined (kept
    for staff; the MTA bounces the printed reason to the sender); 75 when the node could not
    take it now (the MTA keeps it and tries again).
    """
    from node.cases.service import CASE_CHANGED
    from node.database import get_db
    from node.intake.email import service as mail

    raw = sys.stdin.buffer.read()
    try:
        app = open_node(instance)
        settings = mail.MailSettings.from_config(app.config, Path(app.instance_path))
        # The app's context: a receipt is queued on its task queue once the message is kept.
        with app.app_context(), get_db(app).session() as db_session:
            result = mail.ingest(
                db_session=db_session, raw=raw, settings=settings, envelope_recipients=recipients
            )
            if result.case_id is not None:
                CASE_CHANGED(db_session=db_session, case_id=result.case_id)
            db_session.commit()
    except Exception as exc:  # the MTA must keep the message and retry
        click.echo(f"temporary failure, message not taken: {exc}", err=True)
        raise SystemExit(EX_TEMPFAIL) from exc
    if result.outcome == "quarantined":
        click.echo(
            f"message not accepted ({result.reason}); kept for the city's staff as "
            f"quarantined message {result.quarantine_id}",
            err=True,
        )
        raise SystemExit(EX_DATAERR)
    if result.quarantine_id is not None:  # a machine's message about no case: nothing to bounce
        click.echo(f"automatic message kept as quarantined message {result.quarantine_id}")
        return
    files = f", {len(result.attachments)} attachment(s) kept" if result.attachments else ""
    click.echo(f"{result.outcome} {result.tracking_code or '-'}{files}")


@node.group()
def quarantine() -> None:
    """E-mail the node could not place, kept as it came: list, release or replay it.

    A message is quarantined when it cannot be read, addresses no service, names a case but
    comes from someone else, is too large, or was sent by a machine about no case. Releasing
    and replaying each leave an event in the archive.
    """


@quarantine.command("list")
@instance_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="How many messages to list at most.",
)
@click.option("--all", "show_all", is_flag=True, help="Also list messages already released.")
def quarantine_list(instance, limit, show_all):
    """List quarantined messages, newest first: id, when, sender, reason, state and file."""
    from node.database import get_db
    from node.intake.email import archive

    app = open_node(instance)
    with get_db(app).session() as db_session:
        rows = archive.quarantined(db_session=db_session, limit=limit, waiting=not show_all)
        for row in rows:
            state = row.resolution if row.released_at else "waiting"
            reason = f"automatic ({row.automatic}): {row.reason}" if row.automatic else row.reason
            click.echo(
                f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.sender or '-'}\t"
                f"{reason}\t{state}\t{Path(app.instance_path) / row.path}"
            )
    if not rows:
        click.echo("no quarantined messages")


def _take_again(instance: Path, take) -> None:
    """Run `take(db_session, settings)` on a quarantined message, commit, and say what it did."""
    from node.cases.service import CASE_CHANGED
    from node.intake.email import service as mail

    with node_session(instance) as (app, db_session):
        settings = mail.MailSettings.from_config(app.config, Path(app.instance_path))
        result = take(db_session, settings)
        if result.case_id is not None:
            CASE_CHANGED(db_session=db_session, case_id=result.case_id)
    if result.case_id is None:
        click.echo(f"still quarantined: {result.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"{result.outcome} {result.tracking_code}")


@quarantine.command("release")
@instance_option
@click.argument("message_id", type=int)
@click.option("--service", "service_code", help="Open a case in this service (its code).")
@click.option("--case", "case_code", help="Add the message to this case (its tracking code).")
def quarantine_release(instance, message_id, service_code, case_code):
    """Accept quarantined message MESSAGE_ID as a citizen's after a person looked at it.

    It opens a case in --service, joins the case --case, or, with neither, goes where the
    message leads (the case it names, the service it addresses), whoever sent it. Prints
    `opened CODE` or `joined CODE`; exits 1 when it still cannot be placed (give --service).
    """
    from node.cases.schemas import Actor
    from node.intake.email import service as mail

    if service_code and case_code:
        raise click.UsageError("give --service or --case, not both")
    _take_again(
        instance,
        lambda db_session, settings: mail.release(
            db_session=db_session,
            quarantine_id=message_id,
            settings=settings,
            actor=Actor.system(),
            service_code=service_code,
            case_code=case_code,
        ),
    )


@quarantine.command("replay")
@instance_option
@click.argument("message_id", type=int)
def quarantine_replay(instance, message_id):
    """Run quarantined message MESSAGE_ID through intake again, after a fix.

    For instance once a service takes the address it was sent to, or a size limit was raised.
    Prints what it did; exits 1, with the new reason, when it is quarantined still.
    """
    from node.cases.schemas import Actor
    from node.intake.email import service as mail

    _take_again(
        instance,
        lambda db_session, settings: mail.replay(
            db_session=db_session, quarantine_id=message_id, settings=settings, actor=Actor.system()
        ),
    )


@node.command("prune-mail")
@instance_option
def prune_mail(instance):
    """Delete the raw e-mail kept longer than MAIL_RETENTION_DAYS (beat does it daily).

    The raw message of a case closed longer ago, and an automatic message quarantined longer
    ago, go; the cases, their events and the words they keep stay.
    """
    from node.database import get_db
    from node.intake.email import archive

    app = open_node(instance)
    settings = archive.MailSettings.from_config(app.config, Path(app.instance_path))
    if settings.retention_days is None:
        click.echo("MAIL_RETENTION_DAYS is none: every raw message is kept")
        return
    with get_db(app).session() as db_session:
        pruned = archive.prune(db_session=db_session, settings=settings)
        db_session.commit()
    click.echo(
        f"{pruned.archived} archived and {pruned.quarantined} automatic quarantined message(s) "
        f"older than {settings.retention_days} days deleted"
    )


@node.command("import-requests")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file naming the export's columns and translating its values (examples: "
    "node/intake/import_examples/nyc311.toml, maengelmelder.toml).",
)
@instance_option
@click.option(
    "--quarantine",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file for the rows that cannot be imported, with line number and reason, in the "
    "export's encoding and delimiter (default: FILE.quarantine.csv beside the input).",
)
@click.option(
    "--batch-size",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows written and committed together.",
)
@click.option(
    "--via",
    type=click.Choice(["bulk", "service"]),
    default="bulk",
    show_default=True,
    help="bulk: checked rows inserted a batch at a time; service: one intake.submit per row "
    "(slower, the reference). Both write the same cases and events.",
)
def import_requests(csv_file, mapping_file, instance, quarantine, batch_size, via):
    """Bring a legacy 311-style CSV export of past requests into the archive, as cases.

    The file's encoding and delimiter come from the mapping, or are detected and reported.
    Every row read is imported, found already imported, or quarantined with its line number and
    the reason (bad bytes, a short or long row, a quote never closed, a date that fits no
    format, ...), and the summary adds up. Re-running it adds nothing twice: each legacy id is
    remembered with its case, and staff find the case by it. The exit status is 1 when any row
    was quarantined. See docs/import.md.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from node.database import get_db
    from node.instance import load_services
    from node.intake import imports

    app = open_node(instance)
    load_services(app)
    try:
        mapping = imports.load_mapping(mapping_file)
    except imports.ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    with progress, get_db(app).session() as db_session:
        task = progress.add_task("rows", total=imports.count_rows(csv_file), rate=0.0)

        def advance(rows: int) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            progress.update(task, completed=rows, rate=rows / elapsed if elapsed else 0.0)

        try:
            report = imports.import_requests(
                db_session=db_session,
                csv_path=csv_file,
                mapping=mapping,
                tracking_prefix=app.config["TRACKING_PREFIX"],
                language=app.config["DEFAULT_LANGUAGE"],
                quarantine_path=quarantine,
                batch_size=batch_size,
                via=via,
                on_progress=advance,
            )
        except imports.ImportFailed as exc:
            raise click.ClickException(str(exc)) from exc
        progress.update(task, total=report.rows)
    click.echo(imports.summary(report))
    for reason, count in sorted(report.reasons.items(), key=lambda item: -item[1]):
        click.echo(f"  {count} rows with {reason} problems")
    if report.caught:
        categories = sorted(report.caught.items(), key=lambda item: -item[1])
        listed = ", ".join(f"{category} ({count})" for category, count in categories[:5])
        more = f" and {len(categories) - 5} more" if len(categories) > 5 else ""
        click.echo(
            f"  {sum(report.caught.values())} rows went to the catch-all {mapping.catch_all}: "
            f"{listed}{more}"
        )
    if report.quarantined:
        raise SystemExit(1)
