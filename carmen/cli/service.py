"""`carmen service`: generate services from templates, clone them between cities, update them."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from carmen.cli.common import instance_option

templates_dir_option = click.option(
    "--templates-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CARMEN_SERVICE_TEMPLATES",
    help="Folder of service templates (default: the ones shipped in service_templates/; "
    "also read from CARMEN_SERVICE_TEMPLATES).",
)
set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Answer one template variable, e.g. --set sla_hours=48 (repeat for more); "
    "`carmen service templates --variables` lists them.",
)


@click.group()
def service() -> None:
    """Generate services from templates, clone them into other cities, keep them up to date."""


class _Node:
    """What the commands need from a node instance: its city answers and offered channels."""

    def __init__(self, instance: Path) -> None:
        from node.config import INSTANCE_FILE, NodeSettings
        from runtime.settings import SettingsError
        from service_templates.engine import TemplateError, city_answers, offered_channels

        if not (instance / INSTANCE_FILE).is_file():
            raise click.ClickException(
                f"{instance} is not a node instance: run `carmen node init` first"
            )
        try:
            settings = NodeSettings.load(instance)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        self.instance = instance
        self.services_dir = settings.services_dir
        self.city: dict[str, str] = city_answers(
            city=settings.city, country=settings.country, languages=settings.languages
        )
        if settings.districts:
            self.city["areas"] = ",".join(settings.districts)
        try:
            self.channels = offered_channels(settings.channels)
        except TemplateError as exc:
            raise click.ClickException(str(exc)) from exc

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


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _root(templates_dir: Path | None) -> Path:
    from service_templates.engine import templates_root

    return templates_root(templates_dir)


def _version(value: str) -> str:
    return value.removeprefix("sha256:")[:12]


@service.command()
@templates_dir_option
@click.option("--variables", is_flag=True, help="Also list each template's variables.")
def templates(templates_dir: Path | None, variables: bool) -> None:
    """List the templates services can be generated from, with their versions."""
    from service_templates.engine import TemplateError, list_templates

    try:
        found = list_templates(root=_root(templates_dir))
    except TemplateError as exc:
        raise _fail(exc) from exc
    for info in found:
        click.echo(f"{info.name}\t{info.short_version}\t{info.domain}\t{info.description}")
        if variables:
            for name, default in info.variables.items():
                shown = default if "{" not in default else "(derived)"
                click.echo(f"    {name} = {shown!s}\t{info.help.get(name, '')}")


@service.command()
@click.argument("template")
@instance_option
@set_option
@templates_dir_option
def new(template: str, instance: Path, assignments: tuple[str, ...], templates_dir: Path | None):
    """Generate a service from TEMPLATE into the node's services/ folder.

    The city's name, country, languages and channels default to the node's settings.
    """
    from service_templates.engine import TemplateError, new_service, parse_assignments

    node = _Node(instance)
    try:
        folder = new_service(
            root=_root(templates_dir),
            template=template,
            services_dir=node.services_dir,
            city=node.city,
            node_channels=node.channels,
            assignments=parse_assignments(assignments),
            check=node.check_spec(),
        )
    except TemplateError as exc:
        raise _fail(exc) from exc
    _report_generated(folder)


def _report_generated(folder: Path) -> None:
    from service_templates.engine import read_provenance

    provenance = read_provenance(folder)
    origin = provenance.get("cloned_from")
    came = f", cloned from {origin['service']} of {origin['city']}" if origin else ""
    click.echo(
        f"{folder.name}: generated from {provenance['template']} "
        f"{_version(provenance['template_version'])}{came} in {folder}"
    )
    click.echo("Restart the node (or run `carmen node services`) to load it.")


@service.command("list")
@instance_option
def list_(instance: Path) -> None:
    """List the node's services with where they came from."""
    from service_templates.engine import TOOL_DIR, list_services

    node = _Node(instance)
    found = list_services(node.services_dir)
    if not found:
        click.echo(f"no services in {node.services_dir}")
    for code, provenance in found:
        if provenance is None:
            click.echo(f"{code}\thand-written")
            continue
        line = f"{code}\t{provenance['template']} {_version(provenance['template_version'])}"
        origin = provenance.get("cloned_from")
        if origin:
            line += f"\tcloned from {origin['service']} of {origin['city']} ({origin['country']})"
        if (node.services_dir / code / TOOL_DIR / "pending").exists():
            line += "\tupdate waiting for conflicts to be resolved"
        click.echo(line)
        answers = ", ".join(f"{k}={v}" for k, v in provenance["answers"].items())
        click.echo(f"\tanswers: {answers}")


@service.command()
@click.argument("service_code", metavar="SERVICE")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder of the node the service comes from.",
)
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder of the node that gets the clone.",
)
@set_option
def clone(service_code: str, source: Path, target: Path, assignments: tuple[str, ...]) -> None:
    """Clone SERVICE from one node into another.

    Re-renders the template at the version the source used, with the source's answers overlaid by
    the target city's answers (name, country, languages, channels) and the --set values.
    """
    from service_templates.engine import TemplateError, clone_service, parse_assignments

    origin, node = _Node(source), _Node(target)
    try:
        folder = clone_service(
            source_services_dir=origin.services_dir,
            service=service_code,
            source_city=origin.city,
            target_services_dir=node.services_dir,
            city=node.city,
            node_channels=node.channels,
            assignments=parse_assignments(assignments),
            check=node.check_spec(),
        )
    except TemplateError as exc:
        raise _fail(exc) from exc
    _report_generated(folder)


def _service_folder(node: _Node, code: str) -> Path:
    folder = node.services_dir / code
    if not (folder / "service.toml").is_file():
        raise click.ClickException(f"no service {code!r} in {node.services_dir}")
    return folder


@service.command()
@click.argument("service_code", metavar="SERVICE")
@instance_option
@templates_dir_option
def diff(service_code: str, instance: Path, templates_dir: Path | None) -> None:
    """Show the local edits of SERVICE and what the current template would change."""
    from service_templates.engine import TemplateError, diff_service

    node = _Node(instance)
    try:
        summary, local, upstream = diff_service(
            folder=_service_folder(node, service_code),
            root=_root(templates_dir),
            node_channels=node.channels,
        )
    except TemplateError as exc:
        raise _fail(exc) from exc
    click.echo(summary)
    click.echo("\nLocal edits since it was generated:")
    click.echo(local or "(none)\n", nl=False)
    click.echo("\nChanges the current template brings:")
    click.echo(upstream or "(none)\n", nl=False)


@service.command()
@click.argument("service_code", metavar="SERVICE")
@instance_option
@templates_dir_option
@click.option(
    "--continue",
    "finish",
    is_flag=True,
    help="Accept an update whose conflict markers you have resolved.",
)
@click.option(
    "--abort",
    is_flag=True,
    help="Undo an update that stopped on conflicts: the local files come back as they were.",
)
def update(
    service_code: str, instance: Path, templates_dir: Path | None, finish: bool, abort: bool
) -> None:
    """Merge the current template into SERVICE, keeping local edits.

    A three-way merge of the service as generated, as edited here, and as the current template
    renders it. Conflicts are written as <<<<<<< markers and reported with exit status 1; the
    local files are kept in .carmen/pending/local until `--continue` or `--abort`.
    """
    from service_templates.engine import (
        TemplateError,
        abort_update,
        finish_update,
        update_service,
    )

    if finish and abort:
        raise click.UsageError("give --continue or --abort, not both")
    node = _Node(instance)
    folder = _service_folder(node, service_code)
    try:
        if finish:
            checked = finish_update(folder=folder, check=node.check_spec(replacing=service_code))
            click.echo(f"{service_code}: update accepted ({len(checked)} resolved files)")
            return
        if abort:
            restored = abort_update(folder=folder)
            click.echo(f"{service_code}: update undone; restored {', '.join(restored) or 'none'}")
            return
        report = update_service(
            folder=folder,
            root=_root(templates_dir),
            node_channels=node.channels,
            check=node.check_spec(replacing=service_code),
        )
    except TemplateError as exc:
        raise _fail(exc) from exc
    _print_update(report)
    if report.conflicts:
        raise SystemExit(1)


def _print_update(report: Any) -> None:
    old, new_ = _version(report.old_version), _version(report.new_version)
    if report.up_to_date:
        click.echo(f"{report.service}: up to date with the template ({new_})")
        return
    for change in report.changes:
        click.echo(f"  {change.outcome:9} {change.path}")
    if report.conflicts:
        click.echo(
            f"{report.service}: {len(report.conflicts)} conflict(s) updating {old} -> {new_}. "
            "Resolve the <<<<<<< markers in the files above, then run "
            f"`carmen service update {report.service} --continue` (or --abort to go back). "
            "Your previous files are kept in .carmen/pending/local.",
            err=True,
        )
    else:
        click.echo(f"{report.service}: updated {old} -> {new_}; restart the node to load it.")
