"""DESIGN's import rule and the node's layering, as import-linter contracts (pyproject.toml)."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run import-linter on the project in `cwd` with its pyproject.toml's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_part_imports_only_what_the_rule_allows():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project with every package the contracts name, under the same contracts."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter = config["tool"]["importlinter"]
    names = set(linter["root_packages"])
    for contract in linter["contracts"]:
        for key in ("source_modules", "modules", "layers", "ancestors"):
            for entry in contract.get(key, []):
                names.update(n for n in re.split(r"[|:\s]+", entry) if n)
    for name in names:
        if name.split(".")[0] not in linter["root_packages"]:
            continue  # an outside package (flask, dash...): installed, not ours to make
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            package = tmp_path.joinpath(*parts[:depth])
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(toml[toml.index("[tool.importlinter]") :])
    return tmp_path


def write(project: Path, module: str, source: str) -> None:
    path = project.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(source, encoding="utf-8")


def broken(result: subprocess.CompletedProcess) -> list[str]:
    """The names of the contracts a run found broken."""
    assert result.returncode != 0, result.stdout
    return re.findall(r"^(.+?) BROKEN", result.stdout, flags=re.MULTILINE)


def test_the_empty_project_keeps_every_contract(project):
    result = lint_imports(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contracts_catch_a_node_importing_the_hub(project):
    write(project, "node.bad", "from federation.hub import models\n")
    write(project, "federation.hub.models", "")
    assert "node and hub never import each other" in broken(lint_imports(project))


@pytest.mark.parametrize("module", ["sqlalchemy", "flask.json", "dash"])
def test_the_contracts_keep_evaluation_pure(project, module):
    write(project, "evaluation.kpis", f"import {module}\n")
    assert broken(lint_imports(project)) == [
        "evaluation imports no web, ORM, task queue, runtime, node or hub"
    ]


def test_the_runtime_imports_nothing_of_the_project(project):
    write(project, "runtime.database", "from node import config\n")
    assert "runtime imports nothing of the project; node and hub may import it" in broken(
        lint_imports(project)
    )


@pytest.mark.parametrize(
    ("module", "contract"),
    [
        ("federation.protocol.models", "federation.protocol imports nothing"),
        ("evaluation.kpis", "evaluation imports no web"),
        ("dashboards.app", "dashboards read the hub over HTTP"),
    ],
)
def test_only_node_and_hub_stand_on_the_runtime(project, module, contract):
    write(project, module, "from runtime import database\n")
    assert any(name.startswith(contract) for name in broken(lint_imports(project)))


def test_a_relative_import_from_a_lower_domain_up_is_caught(project):
    write(project, "node.intake.service", "")
    write(project, "node.staff.service", "from ..intake import service\n")
    assert broken(lint_imports(project)) == ["node domains import one way"]


def test_two_behaviours_may_not_import_each_other(project):
    write(project, "node.bookings.service", "")
    write(project, "node.alerts.service", "from node.bookings import service\n")
    assert broken(lint_imports(project)) == ["node domains import one way"]


def test_the_demo_calls_the_operations_not_the_command_line(project):
    write(project, "carmen.demo.federation", "from carmen.cli import hub\n")
    assert broken(lint_imports(project)) == [
        "carmen imports downwards: the commands, then the demo, then the operations"
    ]


def test_no_module_of_carmen_reaches_itself_through_its_imports(project):
    write(project, "carmen.serving", "from carmen import workers\n")
    write(project, "carmen.workers", "from carmen import serving\n")
    assert broken(lint_imports(project)) == ["no circle between the modules of carmen"]
