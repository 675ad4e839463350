"""The templates on offer: where they live, what each asks, and the hash that versions them."""

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_TEMPLATES = Path(__file__).resolve().parent
TEMPLATES_ENV = "CARMEN_SERVICE_TEMPLATES"
TEMPLATE_META = "template.toml"
TOOL_DIR = ".carmen"
# The variables that say which city a service serves; a clone takes them from the target city.
DEFAULT_CITY_VARIABLES = ("city_name", "city_slug", "country", "languages", "channels")
# Files that tools leave in a template or service folder (caches, compiled code, the merge's
# leftovers, our own .carmen folder): they are neither template content nor local edits, and an
# installed copy may have them where a checkout has not, so they never count.
IGNORED_PARTS = {"__pycache__", ".pytest_cache", TOOL_DIR, ".ruff_cache"}
IGNORED_SUFFIXES = (".pyc", ".pyo", "~", ".orig", ".rej")


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


def content_files(folder: Path) -> dict[str, Path]:
    """Every file of a folder that is content (not a tool's leftover), by POSIX relative path."""
    found = {}
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        if file.is_dir() or any(part in IGNORED_PARTS for part in relative.parts):
            continue
        if file.name.endswith(IGNORED_SUFFIXES):
            continue
        found[relative.as_posix()] = file
    return dict(sorted(found.items()))


def templates_root(override: Path | None = None) -> Path:
    """The folder holding the templates: the override, else $CARMEN_SERVICE_TEMPLATES, else ours."""
    raw = override or os.environ.get(TEMPLATES_ENV) or PACKAGE_TEMPLATES
    return Path(raw).resolve()


def template_version(path: Path) -> str:
    """A content hash of a template folder: the same files give the same version on any machine.

    The hash reads each content file's POSIX path relative to the template and its bytes, in path
    order, so a source checkout, an installed wheel and a service's snapshot agree whatever the
    folder is called, where it is installed and whether Python compiled the hooks there.
    """
    digest = hashlib.sha256()
    for relative, file in content_files(path).items():
        name = relative.encode()
        content = file.read_bytes()
        # Lengths keep "ab"+"c" and "a"+"bc" from hashing alike.
        digest.update(f"{len(name)}:".encode() + name)
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
