"""A service folder made from a template: generate it, clone it elsewhere, read its provenance.

A generated service is a folder `<instance>/services/<code>/` holding the rendered files, a
`provenance.json` (template, template version, answers, where it was cloned from) and a `.carmen/`
folder the tooling owns: `template/` is a snapshot of the template at the version the service was
made from (so that a clone can re-render that exact version even after the template moved on) and
`pristine/` is the untouched render (the common base of the three-way merge in `update`).
"""

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service_templates.answers import check_known, default_channels
from service_templates.catalogue import (
    IGNORED_PARTS,
    IGNORED_SUFFIXES,
    TOOL_DIR,
    TemplateError,
    content_files,
    get_template,
    read_template,
    template_version,
)
from service_templates.rendering import render

PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = 1
# A check the caller makes of a rendered service folder before it is used (e.g. the node's loader);
# it raises TemplateError to refuse it.
Check = Callable[[Path], None]


def service_files(folder: Path) -> dict[str, bytes]:
    """The files of a service folder that the template made or the city edited, by path."""
    if not folder.is_dir():
        return {}
    return {
        relative: file.read_bytes()
        for relative, file in content_files(folder).items()
        if relative != PROVENANCE_FILE
    }


def read_provenance(folder: Path) -> dict[str, Any]:
    """A service's provenance; raises TemplateError when it was not generated from a template."""
    file = folder / PROVENANCE_FILE
    if not folder.is_dir():
        raise TemplateError(f"no service folder {folder}")
    if not file.is_file():
        raise TemplateError(
            f"{folder.name} has no {PROVENANCE_FILE}: it was not generated from a template"
        )
    try:
        provenance = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{file}: not valid JSON: {exc}") from exc
    for key in ("template", "template_version", "answers"):
        if key not in provenance:
            raise TemplateError(f"{file}: {key} is missing")
    return provenance


def write_provenance(folder: Path, provenance: Mapping[str, Any]) -> None:
    """Write a service's provenance file."""
    text = json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    (folder / PROVENANCE_FILE).write_text(text, encoding="utf-8")


def copy_template(source: Path, target: Path) -> None:
    """Snapshot a template's content into a service's tool folder."""
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(*IGNORED_PARTS, *(f"*{s}" for s in IGNORED_SUFFIXES)),
    )


def now() -> str:
    """The time stamp written into provenance: UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _generate(
    *,
    template_path: Path,
    template_name: str,
    answers: dict[str, str],
    node_channels: list[str],
    services_dir: Path,
    check: Check | None,
    cloned_from: dict[str, Any] | None = None,
) -> Path:
    """Render into a staging folder next to the services, then move it into place in one step."""
    services_dir.mkdir(parents=True, exist_ok=True)
    version = template_version(template_path)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=services_dir))
    try:
        project = render(
            template_path=template_path,
            answers={**answers, "_node_channels": ",".join(node_channels)},
            output_dir=staging / "render",
        )
        code = project.name
        target = services_dir / code
        if target.exists():
            raise TemplateError(
                f"a service {code!r} already exists in {services_dir}; "
                "choose another service_code, or use `carmen service update`"
            )
        if check:
            check(project)
        shutil.copytree(project, staging / "pristine")
        (project / TOOL_DIR).mkdir()
        shutil.move(staging / "pristine", project / TOOL_DIR / "pristine")
        copy_template(template_path, project / TOOL_DIR / "template")
        provenance: dict[str, Any] = {
            "format": PROVENANCE_FORMAT,
            "template": template_name,
            "template_version": version,
            "service": code,
            "answers": answers,
            "generated_at": now(),
        }
        if cloned_from:
            provenance["cloned_from"] = cloned_from
        write_provenance(project, provenance)
        try:  # same file system: the service appears whole or not at all
            os.rename(project, target)
        except OSError as exc:  # another command made the same service meanwhile
            raise TemplateError(f"cannot create {target}: {exc.strerror}") from exc
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def new_service(
    *,
    root: Path,
    template: str,
    services_dir: Path,
    city: Mapping[str, str],
    node_channels: list[str],
    assignments: Mapping[str, str],
    check: Check | None = None,
) -> Path:
    """Generate a service from a template into a services folder; returns its folder."""
    info = get_template(root=root, name=template)
    check_known(info, assignments)
    answers = {k: v for k, v in city.items() if k in info.variables}
    answers["channels"] = default_channels(info, node_channels)
    answers.update(assignments)
    return _generate(
        template_path=info.path,
        template_name=info.name,
        answers=answers,
        node_channels=node_channels,
        services_dir=services_dir,
        check=check,
    )


def clone_service(
    *,
    source_services_dir: Path,
    service: str,
    source_city: Mapping[str, str],
    target_services_dir: Path,
    city: Mapping[str, str],
    node_channels: list[str],
    assignments: Mapping[str, str],
    check: Check | None = None,
) -> Path:
    """Re-render a service of one node for another: the template at the version the source used,
    the source's answers overlaid by the target city's answers and the given assignments."""
    source = source_services_dir / service
    if not (source / "service.toml").is_file():
        raise TemplateError(f"no service {service!r} in {source_services_dir}")
    provenance = read_provenance(source)
    snapshot = source / TOOL_DIR / "template"
    if not (snapshot / "cookiecutter.json").is_file():
        raise TemplateError(f"{source}: the template snapshot {TOOL_DIR}/template is missing")
    info = read_template(snapshot)
    if info.version != provenance["template_version"]:
        raise TemplateError(
            f"{source}: the template snapshot does not match the version in {PROVENANCE_FILE}"
        )
    check_known(info, assignments)
    city_bound = set(info.city_variables)
    answers = {k: str(v) for k, v in provenance["answers"].items() if k not in city_bound}
    answers.update({k: v for k, v in city.items() if k in info.variables})
    if "channels" not in assignments:
        answers["channels"] = default_channels(info, node_channels)
    answers.update(assignments)
    cloned_from = {
        "city": source_city.get("city_name", ""),
        "country": source_city.get("country", ""),
        "service": provenance.get("service", service),
        "template_version": provenance["template_version"],
        "cloned_at": now(),
    }
    return _generate(
        template_path=snapshot,
        template_name=provenance["template"],
        answers=answers,
        node_channels=node_channels,
        services_dir=target_services_dir,
        cloned_from=cloned_from,
        check=check,
    )


def list_services(services_dir: Path) -> list[tuple[str, dict[str, Any] | None]]:
    """Every service folder with its provenance (None for hand-written services)."""
    found = []
    if not services_dir.is_dir():
        return found
    for folder in sorted(p for p in services_dir.iterdir() if (p / "service.toml").is_file()):
        try:
            found.append((folder.name, read_provenance(folder)))
        except TemplateError:
            found.append((folder.name, None))
    return found
