"""The template tooling on its own: versions, answers the hooks refuse, the import rule."""

import ast
import shutil
import sys
from pathlib import Path

import pytest

from service_templates import engine
from service_templates.engine import PACKAGE_TEMPLATES, TemplateError
from tests.service_templates.conftest import TEMPLATES, answers_for


def test_a_template_version_depends_on_content_only(tmp_path):
    first = tmp_path / "here" / "issue-report"
    second = tmp_path / "there" / "issue-report"
    shutil.copytree(PACKAGE_TEMPLATES / "issue-report", first)
    shutil.copytree(PACKAGE_TEMPLATES / "issue-report", second)
    (second / "hooks" / "__pycache__").mkdir(exist_ok=True)
    (second / "hooks" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert engine.template_version(first) == engine.template_version(second)
    readme = second / "{{cookiecutter.service_code}}" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    assert engine.template_version(first) != engine.template_version(second)


def test_the_shipped_templates_are_listed_with_domain_and_version():
    found = {t.name: t for t in engine.list_templates(root=PACKAGE_TEMPLATES)}
    assert sorted(found) == sorted(TEMPLATES)
    assert {t.domain for t in found.values()} == {
        "environment",
        "mobility",
        "personal",
        "democracy",
    }
    for info in found.values():
        assert info.version.startswith("sha256:") and len(info.short_version) == 12
        assert set(info.help) == set(info.variables), info.name  # every variable is explained
        assert set(info.city_variables) <= set(info.variables), info.name


BAD_ANSWERS = {
    "city_slug": ("Bologna Centro", "city_slug: 'Bologna Centro' is not a slug"),
    "service_code": ("Noise_Report", "service_code: 'Noise_Report' is not a slug"),
    "sla_hours": ("0", "sla_hours: must be at least 1 and at most 8760 hours, not 0"),
    "channels": ("web,fax,email", "channels: unknown fax"),
    "sms_keyword": ("FIX", "sms_keyword: an SMS keyword needs sms among the channels"),
    "languages": ("Italian", "languages: 'Italian' is not a two-letter code"),
    "country": ("Italy", "country: a two-letter code such as IT"),
}


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_hook_names_every_bad_answer_at_once_and_nothing_is_generated(tmp_path, template):
    bad = {name: value for name, (value, _) in BAD_ANSWERS.items()}
    with pytest.raises(TemplateError) as refused:
        engine.render(
            template_path=PACKAGE_TEMPLATES / template,
            answers={**answers_for(template, "bologna"), **bad},
            output_dir=tmp_path / "out",
        )
    message = str(refused.value)
    assert message.startswith("The answers for Noise_Report cannot make a service:")
    for _, expected in BAD_ANSWERS.values():
        assert expected in message
    assert list((tmp_path / "out").iterdir()) == []


def test_a_number_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(TemplateError, match="sla_hours: must be a whole number, not 'two days'"):
        engine.render(
            template_path=PACKAGE_TEMPLATES / "issue-report",
            answers={**answers_for("issue-report", "bologna"), "sla_hours": "two days"},
            output_dir=tmp_path,
        )


def test_the_hook_refuses_a_channel_the_node_does_not_offer(tmp_path):
    with pytest.raises(TemplateError, match="this node does not offer sms, phone"):
        engine.render(
            template_path=PACKAGE_TEMPLATES / "issue-report",
            answers={
                **answers_for("issue-report", "bologna"),
                "_node_channels": "web,app,email,counter",
            },
            output_dir=tmp_path,
        )


@pytest.mark.parametrize(
    ("template", "bad", "message"),
    [
        ("issue-report", {"problem_types": "noise"}, "problem_types: give at least two"),
        ("issue-report", {"photo": "maybe"}, "photo: optional, required or none"),
        ("alert-subscription", {"quiet_hours": "25:00-07:00"}, "quiet_hours: HH:MM-HH:MM"),
        ("alert-subscription", {"delivery_channels": "web"}, "alerts go by sms, email or app"),
        ("appointment-booking", {"slot_minutes": "25"}, "25 minutes do not divide the 240"),
        ("appointment-booking", {"opening_hours": "13:00-09:00"}, "with the start first"),
        ("consultation", {"closes_on": "2027-02-28"}, "closes_on: 2027-02-28 must be after"),
        ("consultation", {"opens_on": "2027-02-30"}, "opens_on: '2027-02-30' is not a date"),
        ("consultation", {"options": "only-one"}, "options: give at least two"),
    ],
)
def test_each_template_checks_its_own_settings(tmp_path, template, bad, message):
    with pytest.raises(TemplateError, match=message):
        engine.render(
            template_path=PACKAGE_TEMPLATES / template,
            answers={**answers_for(template, "bologna"), **bad},
            output_dir=tmp_path,
        )


def test_a_consultation_needs_its_dates(tmp_path):
    answers = answers_for("consultation", "bologna")
    del answers["opens_on"], answers["closes_on"]
    with pytest.raises(TemplateError, match="opens_on: give the date as YYYY-MM-DD"):
        engine.render(
            template_path=PACKAGE_TEMPLATES / "consultation", answers=answers, output_dir=tmp_path
        )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["nonsense"], "--set takes key=value"),
        (["=3"], "--set takes key=value"),
        (["_node_channels=web"], "set by the node"),
    ],
)
def test_assignments_must_be_key_value(items, message):
    with pytest.raises(TemplateError, match=message):
        engine.parse_assignments(items)


def test_the_tooling_imports_only_the_standard_library_cookiecutter_and_the_protocol():
    allowed_roots = set(sys.stdlib_module_names) | {"cookiecutter", "federation"}
    allowed_roots.add("service_templates")
    for path in [
        *Path(engine.__file__).parent.glob("*.py"),
        *PACKAGE_TEMPLATES.glob("*/hooks/*.py"),
    ]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for stmt in ast.walk(tree):
            names = []
            if isinstance(stmt, ast.Import):
                names = [alias.name for alias in stmt.names]
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
                names = [stmt.module]
            for name in names:
                assert name.split(".")[0] in allowed_roots, f"{path.name} imports {name}"
                if name.startswith("federation"):
                    assert name.startswith("federation.protocol"), f"{path.name} imports {name}"
    hook_imports = {
        name
        for path in [*PACKAGE_TEMPLATES.glob("*/hooks/*.py"), PACKAGE_TEMPLATES / "checks.py"]
        for stmt in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in (
            [alias.name for alias in stmt.names]
            if isinstance(stmt, ast.Import)
            else [stmt.module]
            if isinstance(stmt, ast.ImportFrom)
            else []
        )
    }
    # Hooks are pure: the standard library, the shared checks and the vocabulary only.
    assert hook_imports <= set(sys.stdlib_module_names) | {
        "service_templates.checks",
        "federation.protocol.vocabulary",
    }
