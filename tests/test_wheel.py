"""The wheel does the main job: installed outside the checkout, it makes a node and its services."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from service_templates.engine import PACKAGE_TEMPLATES, list_templates

pytestmark = [pytest.mark.heavy, pytest.mark.slow]

CHECKOUT = Path(__file__).resolve().parents[1]
# What a checkout holds that is not source: a wheel built from it must not depend on any of it.
NOT_SOURCE = (".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", "*.py[co]")
PACKAGES = (
    "runtime",
    "node",
    "federation",
    "evaluation",
    "dashboards",
    "service_templates",
    "carmen",
)
VERSIONS = (
    "import json; from service_templates.engine import list_templates, templates_root;"
    "print(json.dumps({t.name: t.version for t in list_templates(root=templates_root())}))"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv outside the checkout with only the wheel installed in it.

    The dependencies come from this test run's own environment (a path file makes its
    site-packages visible after the virtualenv's own), so nothing is downloaded; the checkout's
    editable install is not on that path, since path files there are not read.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
            *("--wheel-dir", str(work / "dist"), str(source)),
        ],
        check=True,
        capture_output=True,
        cwd=work,
    )
    [wheel] = (work / "dist").glob("carmen_federation-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "checkout-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(source)  # the installed commands must not need the source
    return venv


def test_the_wheel_carries_every_file_of_the_packages(installed):
    [wheel] = (installed.parent / "dist").glob("carmen_federation-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        path.relative_to(CHECKOUT).as_posix()
        for package in PACKAGES
        for path in (CHECKOUT / package).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pyo")
        and path.relative_to(CHECKOUT).as_posix() not in shipped
    ]
    assert missing == []  # templates' bodies and hooks, pages, translations, migrations, schemas


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one of the virtualenv's programs away from the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CARMEN_SERVICE"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    where = run(installed, "python", "-c", "import carmen; print(carmen.__file__)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed)


def test_the_wheel_lists_every_template_at_the_version_of_the_source(installed, tmp_path):
    source = {t.name: t for t in list_templates(root=PACKAGE_TEMPLATES)}
    listed = run(installed, "carmen", "service", "templates", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for name, info in source.items():
        assert name in listed.stdout and info.short_version in listed.stdout, listed.stdout
    versions = run(installed, "python", "-c", VERSIONS, cwd=tmp_path)
    assert versions.returncode == 0, versions.stderr
    assert json.loads(versions.stdout) == {name: info.version for name, info in source.items()}


def test_a_node_made_from_the_wheel_generates_an_issue_report_service(installed, tmp_path):
    node = tmp_path / "bologna"
    made = run(
        installed,
        "carmen",
        *("node", "init", "--city", "Bologna", "--country", "IT", "--population", "390000"),
        *("--instance", str(node), "--language", "it", "--language", "en"),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    new = run(
        installed,
        "carmen",
        *("service", "new", "issue-report", "--instance", str(node)),
        *("--set", "sla_hours=48"),
        cwd=tmp_path,
    )
    assert new.returncode == 0, new.stdout + new.stderr
    service = node / "services" / "issue-report"
    assert "sla_hours = 48" in (service / "service.toml").read_text(encoding="utf-8")
    assert (service / "tests" / "test_service.py").is_file()
    provenance = json.loads((service / "provenance.json").read_text(encoding="utf-8"))
    source = {t.name: t.version for t in list_templates(root=PACKAGE_TEMPLATES)}
    assert provenance["template_version"] == source["issue-report"]
    refused = run(
        installed,
        "carmen",
        *("service", "new", "issue-report", "--instance", str(node), "--set", "sla_hours=0"),
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert "sla_hours: must be at least 1" in refused.stdout + refused.stderr  # the hook ran


def test_the_installed_evaluation_command_explains_itself(installed, tmp_path):
    helped = run(installed, "carmen", "evaluate", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "Usage: carmen evaluate" in helped.stdout
