"""`carmen service update` and `diff`: template changes merged into a service that was edited."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from carmen.cli import main
from tests.service_templates.conftest import make_node

SOURCE = Path("issue-report") / "{{cookiecutter.service_code}}"


def run(*args: str):
    return CliRunner().invoke(main, ["service", *args])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def service(tmp_path, templates_copy) -> Path:
    """An issue-report service generated in Bologna from a private copy of the templates."""
    node = make_node(tmp_path / "bologna", city="Bologna", country="IT", languages=["it", "en"])
    made = run(
        "new", "issue-report", "--instance", str(node), "--templates-dir", str(templates_copy)
    )
    assert made.exit_code == 0, made.output
    return node / "services" / "issue-report"


def update(service: Path, templates: Path, *extra: str):
    instance = service.parent.parent
    return run(
        "update",
        service.name,
        "--instance",
        str(instance),
        "--templates-dir",
        str(templates),
        *extra,
    )


def version(service: Path) -> str:
    return json.loads((service / "provenance.json").read_text())["template_version"]


def test_a_local_edit_and_a_template_change_both_survive_the_update(service, templates_copy):
    # The city edits its service...
    edit(service / "service.toml", "sla_hours = 72", "sla_hours = 96")
    edit(service / "README.md", "## Files", "Ask Marta in room 12 about this service.\n\n## Files")
    before = version(service)
    # ...and the template moves on: a new setting, a reworded text, a file added.
    edit(
        templates_copy / SOURCE / "settings.toml",
        "location_required = true",
        "location_required = true\n# At most this many photos per report.\nmax_photos = 3",
    )
    edit(
        templates_copy / SOURCE / "service.toml",
        "# Open311 attributes; location",
        "# Open311 attributes (GeoReport v2); location",
    )
    (templates_copy / SOURCE / "CHANGELOG.md").write_text("Photos are capped at three.\n")

    result = update(service, templates_copy)
    assert result.exit_code == 0, result.output
    spec_text = (service / "service.toml").read_text()
    assert "sla_hours = 96" in spec_text  # the local edit
    assert "# Open311 attributes (GeoReport v2); location" in spec_text  # the template change
    assert "Ask Marta in room 12" in (service / "README.md").read_text()
    assert "max_photos = 3" in (service / "settings.toml").read_text()
    assert (service / "CHANGELOG.md").read_text() == "Photos are capped at three.\n"
    assert "<<<<<<<" not in spec_text
    assert version(service) != before
    assert json.loads((service / "provenance.json").read_text())["previous_version"] == before

    # The new version is now the base: diff shows only the local edits, update has nothing to do.
    diff = run(
        "diff",
        "issue-report",
        "--instance",
        str(service.parent.parent),
        "--templates-dir",
        str(templates_copy),
    )
    assert diff.exit_code == 0, diff.output
    local, _, upstream = diff.output.partition("Changes the current template brings:")
    assert "+sla_hours = 96" in local and "-sla_hours = 72" in local
    assert upstream.strip() == "(none)"
    again = update(service, templates_copy)
    assert again.exit_code == 0 and "up to date" in again.output


def test_a_conflicting_edit_gets_markers_a_non_zero_exit_and_loses_nothing(service, templates_copy):
    edit(service / "settings.toml", 'photo = "optional"', 'photo = "required"')
    with (service / "README.md").open("a") as readme:
        readme.write("\nLocal note.\n")
    local_settings = (service / "settings.toml").read_text()
    before = version(service)
    edit(
        templates_copy / SOURCE / "settings.toml",
        "photo = {{ s(cookiecutter.photo) }}",
        "photo = {{ s(cookiecutter.photo) }}\nphoto_max_megabytes = 10",
    )
    edit(templates_copy / SOURCE / "settings.toml", "# optional | required", "# optional, required")
    edit(templates_copy / SOURCE / "settings.toml", "photo = {{", "photo_rule = {{")
    edit(templates_copy / SOURCE / "README.md", "## Files", "## Files of the service")

    result = update(service, templates_copy)
    assert result.exit_code == 1
    assert "conflict  settings.toml" in result.output
    assert "1 conflict(s)" in result.output and "--continue" in result.output
    merged = (service / "settings.toml").read_text()
    assert "<<<<<<< local settings.toml" in merged and ">>>>>>> template settings.toml" in merged
    assert 'photo = "required"' in merged and 'photo_rule = "optional"' in merged
    # The README merged cleanly alongside: local note and template heading together.
    readme = (service / "README.md").read_text()
    assert "Local note." in readme and "## Files of the service" in readme
    # Nothing is lost: the local file is kept, and the service stays at its old version.
    kept = service / ".carmen" / "pending" / "local" / "settings.toml"
    assert kept.read_text() == local_settings
    assert version(service) == before

    # Accepting is refused while markers remain; another update waits for this one.
    refused = update(service, templates_copy, "--continue")
    assert refused.exit_code == 1 and "conflict markers remain in settings.toml" in refused.output
    assert update(service, templates_copy).exit_code == 1

    # Resolved by hand, the update is accepted and the service moves to the new version.
    resolved = (
        merged.split("<<<<<<<")[0]
        + ('photo_rule = "required"\nphoto_max_megabytes = 10\n')
        + merged.split(">>>>>>> template settings.toml\n")[1]
    )
    (service / "settings.toml").write_text(resolved)
    accepted = update(service, templates_copy, "--continue")
    assert accepted.exit_code == 0, accepted.output
    assert version(service) != before
    assert not (service / ".carmen" / "pending").exists()
    assert "up to date" in update(service, templates_copy).output


def test_abort_puts_every_local_file_back(service, templates_copy):
    edit(service / "settings.toml", 'photo = "optional"', 'photo = "none"')
    edit(service / "README.md", "## Files", "Local note.\n\n## Files")
    before = {p: (service / p).read_bytes() for p in ("settings.toml", "README.md")}
    edit(templates_copy / SOURCE / "settings.toml", "photo = {{", "photo_rule = {{")
    edit(templates_copy / SOURCE / "README.md", "## Files", "## Files of the service")
    (templates_copy / SOURCE / "NEW.md").write_text("new\n")
    assert update(service, templates_copy).exit_code == 1

    aborted = update(service, templates_copy, "--abort")
    assert aborted.exit_code == 0, aborted.output
    assert {p: (service / p).read_bytes() for p in before} == before
    assert not (service / "NEW.md").exists()
    assert not (service / ".carmen" / "pending").exists()


def test_a_file_the_template_drops_goes_only_if_it_was_not_edited(service, templates_copy):
    (templates_copy / SOURCE / "settings.toml").unlink()
    (templates_copy / SOURCE / "README.md").unlink()
    edit(service / "README.md", "## Files", "Local note.\n\n## Files")
    result = update(service, templates_copy)
    assert result.exit_code == 1  # deleted by the template, edited here: a person decides
    assert "conflict  README.md" in result.output and "deleted   settings.toml" in result.output
    assert not (service / "settings.toml").exists()
    assert "Local note." in (service / "README.md").read_text()


def test_an_update_the_node_would_not_load_is_refused_and_changes_nothing(service, templates_copy):
    before = (service / "service.toml").read_text()
    edit(templates_copy / SOURCE / "service.toml", 'domain = "environment"', 'domain = "weather"')
    result = update(service, templates_copy)
    assert result.exit_code == 1
    assert "the node would not load the service" in result.output and "domain" in result.output
    assert (service / "service.toml").read_text() == before


def test_diff_and_update_of_an_unknown_service_say_so(service, templates_copy):
    instance = str(service.parent.parent)
    for command in ("diff", "update"):
        result = run(
            command, "ghost", "--instance", instance, "--templates-dir", str(templates_copy)
        )
        assert result.exit_code == 1 and "no service 'ghost'" in result.output


def test_a_merge_without_git_is_refused_with_a_clear_message_and_changes_nothing(
    service, templates_copy, monkeypatch, tmp_path
):
    edit(service / "settings.toml", "location_required = true", "location_required = false")
    edit(templates_copy / SOURCE / "settings.toml", "location_required = true", "photos = 3")
    before = {path: path.read_bytes() for path in service.rglob("*") if path.is_file()}
    (tmp_path / "bin-without-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin-without-git"))

    result = update(service, templates_copy)

    assert result.exit_code == 1
    assert "needs git, which is not installed or not on PATH" in result.output
    assert "settings.toml" in result.output and "Traceback" not in result.output
    assert {path: path.read_bytes() for path in service.rglob("*") if path.is_file()} == before
