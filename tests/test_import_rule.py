"""DESIGN.md's import rule: each part imports only what it is allowed to."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BANNED = {
    "runtime": ["node", "federation", "evaluation", "dashboards", "service_templates", "carmen"],
    "federation/protocol": [
        "node",
        "federation.hub",
        "evaluation",
        "dashboards",
        "carmen",
        "runtime",
        "flask",
        "sqlalchemy",
        "celery",
    ],
    "node": ["federation.hub", "dashboards", "carmen", "evaluation.__main__"],
    "federation/hub": ["node", "dashboards", "carmen"],
    "evaluation": [
        "flask",
        "sqlalchemy",
        "celery",
        "dash",
        "runtime",
        "node",
        "federation.hub",
        "dashboards",
        "carmen",
    ],
    "dashboards": ["node", "federation.hub", "carmen"],
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Return (line, module) for each absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            found += [(stmt.lineno, alias.name) for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            found.append((stmt.lineno, stmt.module))
    return found


def violations(root: Path) -> list[str]:
    """List every import under root that breaks the rule."""
    broken = []
    for folder, banned in BANNED.items():
        for path in sorted((root / folder).rglob("*.py")):
            if "{{" in str(path):  # template sources are not importable code
                continue
            for line, module in imported_modules(path):
                if any(module == b or module.startswith(b + ".") for b in banned):
                    broken.append(f"{path.relative_to(root)}:{line} imports {module}")
    return broken


def test_every_part_imports_only_what_design_allows():
    assert violations(ROOT) == []


def test_rule_catches_a_node_importing_the_hub(tmp_path):
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "bad.py").write_text("from federation.hub import models\n")
    assert violations(tmp_path) == ["node/bad.py:1 imports federation.hub"]


@pytest.mark.parametrize("module", ["sqlalchemy", "flask.json", "dash"])
def test_rule_keeps_evaluation_pure(tmp_path, module):
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "evaluation" / "kpis.py").write_text(f"import {module}\n")
    assert violations(tmp_path) == [f"evaluation/kpis.py:1 imports {module}"]
