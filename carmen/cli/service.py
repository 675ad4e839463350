"""`carmen service`: generate services from templates, clone them between cities, update them."""

import contextlib
from collections.abc import Iterator
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


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turn what the tooling or an operation refuses into the command's error and exit."""
    from carmen.operations import OperationError
    from service_templates.engine import TemplateError

    try:
        yield
    except (OperationError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from exc


def _node(instance: Path):
    from carmen.operations import NodeServices

    with _refusals():
        return NodeServices(instance)


def _root(templates_dir: Path | None) -> Path:
    from service_templates.engine import templates_root

    return templates_root(templates_dir)


def _assignments(items: tuple[str, ...]) -> dict[str, str]:
    from service_templates.engine import parse_assignments

    with _refusals():
        return parse_assignments(items)


def _version(value: str) -> str:
    return value.removeprefix("sha256:")[:12]


@service.command()
@templates_dir_option
@click.option("--variables", is_flag=True, help="Also list each template's variables.")
def templates(templates_dir: Path | None, variables: bool) -> None:
    """List the templates services can be generated from, with their versions."""
    from service_templates.engine import list_templates

    with _refusals():
        found = list_templates(root=_root(templates_dir))
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
    from carmen.operations import new_service

    with _refusals():
        folder = new_service(
            instance=instance,
            template=template,
            assignments=_assignments(assignments),
            templates_dir=templates_dir,
        )
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

    node = _node(instance)
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
    from carmen.operations import clone_service

    with _refusals():
        folder = clone_service(
            service=service_code,
            source=source,
            target=target,
            assignments=_assignments(assignments),
        )
    _report_generated(folder)


@service.command()
@click.argument("service_code", metavar="SERVICE")
@instance_option
@templates_dir_option
def diff(service_code: str, instance: Path, templates_dir: Path | None) -> None:
    """Show the local edits of SERVICE and what the current template would change."""
    from service_templates.engine import diff_service

    node = _node(instance)
    with _refusals():
        summary, local, upstream = diff_service(
            folder=node.folder(service_code),
            root=_root(templates_dir),
            node_channels=node.channels,
        )
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
    from service_templates.engine import abort_update, finish_update, update_service

    if finish and abort:
        raise click.UsageError("give --continue or --abort, not both")
    node = _node(instance)
    with _refusals():
        folder = node.folder(service_code)
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
