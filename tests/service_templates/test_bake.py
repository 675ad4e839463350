"""Every template bakes for three different cities into a service the node accepts."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from node.services.service import read_spec
from service_templates.engine import PACKAGE_TEMPLATES
from tests.service_templates.conftest import CITY_ANSWERS, TEMPLATES, answers_for

pytestmark = pytest.mark.heavy

LEAKS = ("{{ cookiecutter.", "{{cookiecutter.", "{%", "cookiecutter.")


def leaked_placeholders(project: Path) -> list[str]:
    """Every file of a baked project that still holds template syntax."""
    found = []
    for file in sorted(project.rglob("*")):
        if file.is_file():
            text = file.read_text(encoding="utf-8")
            found += [f"{file.relative_to(project)}: {leak}" for leak in LEAKS if leak in text]
    return found


@pytest.fixture(scope="module")
def baked(cookies_session) -> dict[tuple[str, str], Path]:
    """Every template baked for every city, once for this module."""
    projects = {}
    for template in TEMPLATES:
        for city in CITY_ANSWERS:
            result = cookies_session.bake(
                extra_context=answers_for(template, city),
                template=str(PACKAGE_TEMPLATES / template),
            )
            assert result.exit_code == 0, f"{template} for {city}: {result.exception}"
            projects[template, city] = Path(result.project_path)
    return projects


@pytest.mark.parametrize("template", TEMPLATES)
def test_no_template_placeholder_leaks_into_any_baked_file(baked, template):
    for city in CITY_ANSWERS:
        project = baked[template, city]
        assert (project / "service.toml").is_file() and (project / "tests").is_dir()
        assert leaked_placeholders(project) == [], city


def test_every_baked_service_passes_its_own_tests(baked):
    # One interpreter runs the twelve services' own tests, so this stays quick.
    folders = [str(project / "tests") for project in baked.values()]
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:dash"),
            *("--import-mode=importlib", *folders),
        ],
        cwd=next(iter(baked.values())).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "skipped" not in run.stdout
    passed = int(run.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1])
    assert passed >= 4 * len(folders)


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_city_gets_its_own_name_language_channels_and_keyword(baked, template):
    specs = {city: read_spec(baked[template, city] / "service.toml") for city in CITY_ANSWERS}
    assert len({spec.name for spec in specs.values()}) >= 2  # Italian, Estonian, English
    assert [c.value for c in specs["tallinn"].channels] == ["web", "app", "sms"]
    assert specs["bologna"].sms_keyword and specs["tallinn"].sms_keyword
    assert specs["bologna"].sms_keyword != specs["tallinn"].sms_keyword
    assert specs["reggio"].sms_keyword is None  # no sms channel, so no keyword
    assert all(spec.template == template for spec in specs.values())


def test_a_language_without_shipped_texts_gets_english_marked_for_translation(baked):
    messages = tomllib.loads((baked["issue-report", "reggio"] / "messages.toml").read_text())
    assert messages["default_language"] == "ro"
    assert messages["ro"]["needs_translation"] is True
    assert messages["ro"]["portal"]["title"] == "Report an environmental problem"


def test_texts_stay_readable_and_quotes_survive(baked):
    spec = read_spec(baked["appointment-booking", "reggio"] / "service.toml")
    office = next(a for a in spec.attributes if a.code == "office")
    assert [v.name for v in office.values] == ["Municipio", 'Anagrafe "Via Toschi"']
    text = (baked["appointment-booking", "bologna"] / "service.toml").read_text(encoding="utf-8")
    assert "Carta d'identità" in text  # written as such, not as \u escapes


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_baked_service_says_what_open311_publishes_of_its_requests(baked, template):
    spec = read_spec(baked[template, "bologna"] / "service.toml")
    text = (baked[template, "bologna"] / "service.toml").read_text(encoding="utf-8")
    assert "[publish]" in text, "the knob is written where a city edits its service"
    if template == "issue-report":
        assert spec.publish.requests and spec.publish.location.value == "street"
        assert not spec.publish.description and not spec.publish.media
    else:  # appointments, participations and subscriptions are personal matters
        assert spec.publish.requests is False
