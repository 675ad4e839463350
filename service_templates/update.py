"""Bring template changes into a service: show the difference, merge three ways, finish or abort.

The merge's base is the service's pristine render (`.carmen/pristine`); "ours" is the service as
the city edited it, "theirs" the current template rendered with the same answers. Text files that
both sides changed go through `git merge-file`, so `git` must be on PATH for such an update.
"""

import difflib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service_templates.catalogue import TOOL_DIR, TemplateError, TemplateInfo, get_template
from service_templates.rendering import render
from service_templates.services import (
    Check,
    copy_template,
    now,
    read_provenance,
    service_files,
    write_provenance,
)


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
    git = shutil.which("git")
    if git is None:
        raise TemplateError(
            f"{path} changed both here and in the template, and merging it needs git, which is "
            "not installed or not on PATH: install git (e.g. apt-get install git) and run the "
            "update again; nothing was changed"
        )
    with tempfile.TemporaryDirectory(prefix="carmen-merge-") as scratch:
        files = []
        for name, content in (("local", ours), ("generated", base), ("template", theirs)):
            file = Path(scratch) / name
            file.write_bytes(content)
            files.append(str(file))
        labels = [f"{side} {path}" for side in ("local", "generated", "template")]
        result = subprocess.run(
            [git, "merge-file", "-p", *(arg for label in labels for arg in ("-L", label)), *files],
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
        copy_template(info.path, stage / "template")
        provenance = {
            **provenance,
            "template_version": info.version,
            "updated_at": now(),
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
    write_provenance(folder, provenance)


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
