"""Generate services from cookiecutter templates, clone them between cities, merge template updates.

A generated service is a folder `<instance>/services/<code>/` holding the rendered files, a
`provenance.json` (template, template version, answers, where it was cloned from) and a `.carmen/`
folder the tooling owns: `template/` is a snapshot of the template at the version the service was
made from (so that a clone can re-render that exact version even after the template moved on) and
`pristine/` is the untouched render (the common base of the three-way merge in `update`).

This module knows nothing of the node: the caller passes the node's city answers and offered
channels. It imports only the standard library, cookiecutter and the federation's vocabulary.
"""

import contextlib
import difflib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import CookiecutterException, FailedHookException
from cookiecutter.main import cookiecutter

from federation.protocol.vocabulary import Channel

PACKAGE_TEMPLATES = Path(__file__).resolve().parent
TEMPLATES_ENV = "CARMEN_SERVICE_TEMPLATES"
PROVENANCE_FILE = "provenance.json"
TOOL_DIR = ".carmen"
TEMPLATE_META = "template.toml"
PROVENANCE_FORMAT = 1
# A check the caller makes of a rendered service folder before it is used (e.g. the node's loader);
# it raises TemplateError to refuse it.
Check = Callable[[Path], None]
# The variables that say which city a service serves; a clone takes them from the target city.
DEFAULT_CITY_VARIABLES = ("city_name", "city_slug", "country", "languages", "channels")
# Files a service's own tooling leaves behind that are neither template nor local edits.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", TOOL_DIR, ".ruff_cache"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", "~", ".orig", ".rej")

# Cookiecutter logs a failed hook with a traceback; the hook's own message is what people need.
logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
logging.getLogger("cookiecutter").propagate = False


class TemplateError(Exception):
    """A template, its answers or a service folder is not usable; the message says why."""


@dataclass(frozen=True)
class TemplateInfo:
    """A template that can be generated: its name, content version, domain and variables."""

    name: str
    path: Path
    version: str
    domain: str
    description: str
    variables: dict[str, str]  # variable -> default as written in cookiecutter.json
    help: dict[str, str]  # variable -> what it means
    city_variables: tuple[str, ...]

    @property
    def short_version(self) -> str:
        """The first twelve hex digits of the version, enough to tell versions apart."""
        return self.version.removeprefix("sha256:")[:12]


@dataclass
class FileChange:
    """How one file of a service fared in a merge."""

    path: str
    outcome: str  # added, updated, merged, deleted, kept, conflict


@dataclass
class UpdateReport:
    """The result of bringing a template change into a service."""

    service: str
    old_version: str
    new_version: str
    changes: list[FileChange] = field(default_factory=list)

    @property
    def conflicts(self) -> list[FileChange]:
        """The files that need a person to decide."""
        return [c for c in self.changes if c.outcome == "conflict"]

    @property
    def up_to_date(self) -> bool:
        """Whether there was nothing to bring in."""
        return self.old_version == self.new_version and not self.changes


# ---------------------------------------------------------------------------------------------
# Templates


def templates_root(override: Path | None = None) -> Path:
    """The folder holding the templates: the override, else $CARMEN_SERVICE_TEMPLATES, else ours."""
    raw = override or os.environ.get(TEMPLATES_ENV) or PACKAGE_TEMPLATES
    return Path(raw).resolve()


def _template_files(path: Path) -> list[Path]:
    """Every file of a template folder that makes up its content, in a stable order."""
    files = []
    for file in path.rglob("*"):
        relative = file.relative_to(path)
        if file.is_dir() or any(part in _IGNORED_PARTS for part in relative.parts):
            continue
        if file.name.endswith(_IGNORED_SUFFIXES):
            continue
        files.append(file)
    return sorted(files, key=lambda f: f.relative_to(path).as_posix())


def template_version(path: Path) -> str:
    """A content hash of a template folder: the same files give the same version on any machine."""
    digest = hashlib.sha256()
    for file in _template_files(path):
        relative = file.relative_to(path).as_posix().encode()
        content = file.read_bytes()
        # Lengths keep "ab"+"c" and "a"+"bc" from hashing alike.
        digest.update(f"{len(relative)}:".encode() + relative)
        digest.update(f"{len(content)}:".encode() + content)
    return "sha256:" + digest.hexdigest()


def read_template(path: Path) -> TemplateInfo:
    """Describe one template folder; raises TemplateError when it is not a usable template."""
    context_file = path / "cookiecutter.json"
    if not context_file.is_file():
        raise TemplateError(f"{path} is not a template: it has no cookiecutter.json")
    try:
        variables = json.loads(context_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{context_file}: not valid JSON: {exc}") from exc
    meta: dict[str, Any] = {}
    if (path / TEMPLATE_META).is_file():
        with (path / TEMPLATE_META).open("rb") as handle:
            meta = tomllib.load(handle)
    return TemplateInfo(
        name=path.name,
        path=path,
        version=template_version(path),
        domain=str(meta.get("domain", "")),
        description=str(meta.get("description", "")),
        variables={k: str(v) for k, v in variables.items() if not k.startswith("_")},
        help={str(k): str(v) for k, v in meta.get("variables", {}).items()},
        city_variables=tuple(meta.get("city_variables", DEFAULT_CITY_VARIABLES)),
    )


def list_templates(*, root: Path) -> list[TemplateInfo]:
    """Every template under a templates folder, by name."""
    if not root.is_dir():
        raise TemplateError(f"no templates folder at {root}")
    found = [
        read_template(child)
        for child in sorted(root.iterdir())
        if (child / "cookiecutter.json").is_file()
    ]
    return found


def get_template(*, root: Path, name: str) -> TemplateInfo:
    """One template by name, or a TemplateError listing the ones there are."""
    path = root / name
    if (
        not name
        or "/" in name
        or name.startswith(".")
        or not (path / "cookiecutter.json").is_file()
    ):
        known = ", ".join(t.name for t in list_templates(root=root)) or "none"
        raise TemplateError(f"unknown template {name!r}; templates: {known}")
    return read_template(path)


# ---------------------------------------------------------------------------------------------
# Answers


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Turn `key=value` strings into answers; raises TemplateError on anything else."""
    answers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TemplateError(f"--set takes key=value, e.g. sla_hours=48; got {item!r}")
        if key.startswith("_"):
            raise TemplateError(f"{key} is set by the node, not by --set")
        answers[key] = value.strip()
    return answers


def _check_known(info: TemplateInfo, answers: Mapping[str, Any]) -> None:
    unknown = sorted(set(answers) - set(info.variables))
    if unknown:
        raise TemplateError(
            f"unknown variable {', '.join(unknown)} for template {info.name}; "
            f"its variables: {', '.join(info.variables)}"
        )


def city_answers(*, city: str, country: str, languages: list[str]) -> dict[str, str]:
    """The answers a node's settings give every template: its city, country and languages."""
    return {"city_name": city, "country": country, "languages": ",".join(languages)}


def default_channels(info: TemplateInfo, offered: list[str]) -> str:
    """The template's default channels that the node offers, in the template's order."""
    wanted = [c.strip() for c in info.variables.get("channels", "").split(",") if c.strip()]
    kept = [c for c in wanted if c in offered]
    return ",".join(kept or offered)


# ---------------------------------------------------------------------------------------------
# Rendering


@contextlib.contextmanager
def _stderr_of_children() -> Iterator[list[str]]:
    """Collect what child processes (cookiecutter's hooks) write on file descriptor 2."""
    collected: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield collected
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            collected.append(sink.read().decode("utf-8", errors="replace"))


def render(*, template_path: Path, answers: Mapping[str, Any], output_dir: Path) -> Path:
    """Render a template with answers into output_dir and return the project folder."""
    with tempfile.TemporaryDirectory(prefix="carmen-cookiecutter-") as scratch:
        # A private config keeps cookiecutter's replay files out of the user's home.
        config = Path(scratch) / "config.yaml"
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(Path(scratch) / 'cookiecutters'))}\n"
            f"replay_dir: {json.dumps(str(Path(scratch) / 'replay'))}\n",
            encoding="utf-8",
        )
        try:
            with _stderr_of_children() as stderr:
                project = cookiecutter(
                    str(template_path),
                    no_input=True,
                    extra_context=dict(answers),
                    output_dir=str(output_dir),
                    config_file=str(config),
                )
        except FailedHookException as exc:
            message = "\n".join(line for line in stderr[0].splitlines() if line.strip())
            raise TemplateError(message or f"the template refused the answers: {exc}") from exc
        except (CookiecutterException, ValueError) as exc:
            raise TemplateError(f"cannot render {template_path.name}: {exc}") from exc
        except Exception as exc:  # Jinja errors name the template line; pass them on readably
            raise TemplateError(f"cannot render {template_path.name}: {exc}") from exc
    return Path(project)


# ---------------------------------------------------------------------------------------------
# Service folders


def service_files(folder: Path) -> dict[str, bytes]:
    """The files of a service folder that the template made or the city edited, by path."""
    found: dict[str, bytes] = {}
    if not folder.is_dir():
        return found
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        if file.is_dir() or any(part in _IGNORED_PARTS for part in relative.parts):
            continue
        if file.name.endswith(_IGNORED_SUFFIXES) or relative.as_posix() == PROVENANCE_FILE:
            continue
        found[relative.as_posix()] = file.read_bytes()
    return found


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


def _write_provenance(folder: Path, provenance: Mapping[str, Any]) -> None:
    text = json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    (folder / PROVENANCE_FILE).write_text(text, encoding="utf-8")


def _copy_template(source: Path, target: Path) -> None:
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(*_IGNORED_PARTS, *(f"*{s}" for s in _IGNORED_SUFFIXES)),
    )


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _generate(
    *,
    template_path: Path,
    template_name: str,
    answers: dict[str, str],
    node_channels: list[str],
    services_dir: Path,
    cloned_from: dict[str, Any] | None,
    check: Check | None,
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
        _copy_template(template_path, project / TOOL_DIR / "template")
        provenance: dict[str, Any] = {
            "format": PROVENANCE_FORMAT,
            "template": template_name,
            "template_version": version,
            "service": code,
            "answers": answers,
            "generated_at": _now(),
        }
        if cloned_from:
            provenance["cloned_from"] = cloned_from
        _write_provenance(project, provenance)
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
    _check_known(info, assignments)
    answers = {k: v for k, v in city.items() if k in info.variables}
    answers["channels"] = default_channels(info, node_channels)
    answers.update(assignments)
    return _generate(
        template_path=info.path,
        template_name=info.name,
        answers=answers,
        node_channels=node_channels,
        services_dir=services_dir,
        cloned_from=None,
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
    _check_known(info, assignments)
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
        "cloned_at": _now(),
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


# ---------------------------------------------------------------------------------------------
# Diff and update


def _pending_dir(folder: Path) -> Path:
    return folder / TOOL_DIR / "pending"


def _render_current(
    *, folder: Path, root: Path, node_channels: list[str], scratch: Path
) -> tuple[dict[str, Any], TemplateInfo, Path]:
    """The service's provenance, the current template and its render with the stored answers."""
    provenance = read_provenance(folder)
    info = get_template(root=root, name=provenance["template"])
    answers = {k: str(v) for k, v in provenance["answers"].items() if k in info.variables}
    project = render(
        template_path=info.path,
        answers={**answers, "_node_channels": ",".join(node_channels)},
        output_dir=scratch,
    )
    if project.name != folder.name:
        raise TemplateError(
            f"the template now renders the service as {project.name!r}, not {folder.name!r}"
        )
    return provenance, info, project


def _unified(old: dict[str, bytes], new: dict[str, bytes], old_label: str, new_label: str) -> str:
    chunks = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        try:
            before_lines = (before or b"").decode("utf-8").splitlines(keepends=True)
            after_lines = (after or b"").decode("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError:
            chunks.append(f"Binary file {path} differs\n")
            continue
        chunks.extend(
            difflib.unified_diff(
                before_lines,
                after_lines,
                fromfile=f"{old_label}/{path}" if before is not None else "/dev/null",
                tofile=f"{new_label}/{path}" if after is not None else "/dev/null",
            )
        )
    text = "".join(chunks)
    return text if not text or text.endswith("\n") else text + "\n"


def diff_service(*, folder: Path, root: Path, node_channels: list[str]) -> tuple[str, str, str]:
    """Local edits since generation, and what the current template would change.

    Returns (summary, local edits as a unified diff, template changes as a unified diff).
    """
    pristine = service_files(folder / TOOL_DIR / "pristine")
    if not pristine:
        raise TemplateError(f"{folder}: the pristine copy {TOOL_DIR}/pristine is missing")
    local = _unified(pristine, service_files(folder), "generated", "local")
    with tempfile.TemporaryDirectory(prefix="carmen-diff-") as scratch:
        provenance, info, project = _render_current(
            folder=folder, root=root, node_channels=node_channels, scratch=Path(scratch)
        )
        upstream = _unified(pristine, service_files(project), "generated", "template")
    old = provenance["template_version"].removeprefix("sha256:")[:12]
    summary = (
        f"{folder.name}: template {info.name} at {old}; current template {info.short_version}"
        + (" (same)" if info.version == provenance["template_version"] else " (changed)")
    )
    return summary, local, upstream


def _merge_text(ours: bytes, base: bytes, theirs: bytes, path: str) -> tuple[bytes, bool]:
    """Three-way merge of one file with git merge-file; returns (result, clean)."""
    with tempfile.TemporaryDirectory(prefix="carmen-merge-") as scratch:
        files = []
        for name, content in (("local", ours), ("generated", base), ("template", theirs)):
            file = Path(scratch) / name
            file.write_bytes(content)
            files.append(str(file))
        result = subprocess.run(
            [
                "git",
                "merge-file",
                "-p",
                "-L",
                f"local {path}",
                "-L",
                f"generated {path}",
                "-L",
                f"template {path}",
                *files,
            ],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise TemplateError(f"git merge-file failed on {path}: {result.stderr.decode().strip()}")
    return result.stdout, result.returncode == 0


def _is_text(*contents: bytes | None) -> bool:
    for content in contents:
        if content is None:
            continue
        if b"\0" in content:
            return False
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _three_way(
    base: dict[str, bytes], ours: dict[str, bytes], theirs: dict[str, bytes]
) -> tuple[dict[str, bytes | None], list[FileChange]]:
    """Decide every file: what to write (None = delete) and how it fared."""
    writes: dict[str, bytes | None] = {}
    changes: list[FileChange] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if t == b or o == t:
            continue  # the template did not change it, or both made the same change
        if o == b:  # untouched locally: take the template's side
            writes[path] = t
            outcome = "deleted" if t is None else ("added" if b is None else "updated")
            changes.append(FileChange(path, outcome))
            continue
        if o is None or t is None:
            # Deleted on one side and changed on the other: keep what is there, let a person say.
            changes.append(FileChange(path, "conflict"))
            continue
        if not _is_text(o, b, t):
            changes.append(FileChange(path, "conflict"))
            continue
        merged, clean = _merge_text(o, b or b"", t, path)
        writes[path] = merged
        changes.append(FileChange(path, "merged" if clean else "conflict"))
    return writes, changes


def update_service(
    *, folder: Path, root: Path, node_channels: list[str], check: Check | None = None
) -> UpdateReport:
    """Merge the current template into a service: local edits kept, conflicts marked.

    When the merge is clean the pristine copy, the template snapshot and the provenance move to
    the new version. With conflicts the merged files (with markers) are written, the local files
    they replaced are kept in .carmen/pending/local, and the new version waits in
    .carmen/pending until `finish_update` (after the markers are resolved) or `abort_update`.
    """
    if _pending_dir(folder).exists():
        raise TemplateError(
            f"{folder.name} has an unfinished update: resolve the conflict markers and run "
            "`carmen service update --continue`, or `--abort` to go back"
        )
    pristine_dir = folder / TOOL_DIR / "pristine"
    base = service_files(pristine_dir)
    if not base:
        raise TemplateError(f"{folder}: the pristine copy {TOOL_DIR}/pristine is missing")
    with tempfile.TemporaryDirectory(prefix=".update-", dir=folder.parent) as scratch:
        provenance, info, project = _render_current(
            folder=folder, root=root, node_channels=node_channels, scratch=Path(scratch)
        )
        report = UpdateReport(
            service=folder.name,
            old_version=provenance["template_version"],
            new_version=info.version,
        )
        ours = service_files(folder)
        theirs = service_files(project)
        writes, report.changes = _three_way(base, ours, theirs)
        if report.old_version == report.new_version and not writes and theirs == base:
            return report
        if check and not report.conflicts:
            merged = Path(scratch) / "merged"
            shutil.copytree(folder, merged, ignore=shutil.ignore_patterns(TOOL_DIR))
            _apply(merged, writes)
            check(merged)
        stage = Path(scratch) / "stage"
        stage.mkdir()
        shutil.copytree(project, stage / "pristine")
        _copy_template(info.path, stage / "template")
        provenance = {
            **provenance,
            "template_version": info.version,
            "updated_at": _now(),
            "previous_version": report.old_version,
        }
        if report.conflicts:
            # Keep every local file the merge is about to touch, so nothing can be lost.
            local = stage / "local"
            for path in writes:
                if path in ours:
                    (local / path).parent.mkdir(parents=True, exist_ok=True)
                    (local / path).write_bytes(ours[path])
            (stage / "pending.json").write_text(
                json.dumps(
                    {
                        "provenance": provenance,
                        "conflicts": [c.path for c in report.conflicts],
                        "written": sorted(writes),
                        "created": sorted(p for p in writes if p not in ours),
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )
            os.rename(stage, _pending_dir(folder))
        _apply(folder, writes)
        if not report.conflicts:
            _promote(folder, stage / "pristine", stage / "template", provenance)
    return report


def _apply(folder: Path, writes: Mapping[str, bytes | None]) -> None:
    for path, content in writes.items():
        target = folder / path
        if content is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".carmen-new")
        temporary.write_bytes(content)
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)


def _promote(folder: Path, pristine: Path, template: Path, provenance: Mapping[str, Any]) -> None:
    """Make a new render the service's base: pristine copy, template snapshot, provenance."""
    tool = folder / TOOL_DIR
    for name, source in (("pristine", pristine), ("template", template)):
        old = tool / f"{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if (tool / name).exists():
            os.rename(tool / name, old)
        shutil.move(source, tool / name)
        shutil.rmtree(old, ignore_errors=True)
    _write_provenance(folder, provenance)


CONFLICT_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


def finish_update(*, folder: Path, check: Check | None = None) -> list[str]:
    """Accept a conflicted update once its markers are resolved; returns the files it checked."""
    pending = _pending_dir(folder)
    if not pending.exists():
        raise TemplateError(f"{folder.name} has no unfinished update")
    state = json.loads((pending / "pending.json").read_text(encoding="utf-8"))
    unresolved = []
    for path in state["conflicts"]:
        file = folder / path
        if file.is_file() and any(
            line.startswith(marker)
            for line in file.read_bytes().splitlines()
            for marker in CONFLICT_MARKERS
        ):
            unresolved.append(path)
    if unresolved:
        raise TemplateError(
            "conflict markers remain in " + ", ".join(unresolved) + "; resolve them first"
        )
    if check:
        check(folder)
    _promote(folder, pending / "pristine", pending / "template", state["provenance"])
    shutil.rmtree(pending)
    return state["conflicts"]


def abort_update(*, folder: Path) -> list[str]:
    """Undo a conflicted update: the local files come back as they were; returns them."""
    pending = _pending_dir(folder)
    if not pending.exists():
        raise TemplateError(f"{folder.name} has no unfinished update")
    state = json.loads((pending / "pending.json").read_text(encoding="utf-8"))
    local = pending / "local"
    restored = []
    for path in state["written"]:
        if (local / path).is_file():
            _apply(folder, {path: (local / path).read_bytes()})
            restored.append(path)
        elif path in state["created"]:
            (folder / path).unlink(missing_ok=True)
            restored.append(path)
    shutil.rmtree(pending)
    return restored


def offered_channels(configured: Any) -> list[str]:
    """The channels a node offers: its `channels` setting when it has one, else all of them."""
    every = [c.value for c in Channel]
    if not configured:
        return every
    if isinstance(configured, str):
        configured = [c.strip() for c in configured.split(",")]
    unknown = [c for c in configured if c not in every]
    if unknown:
        raise TemplateError(
            f"the node's channels setting names unknown channels {', '.join(unknown)}; "
            f"known: {', '.join(every)}"
        )
    return [c for c in every if c in configured]
