"""Which behaviour a service gets from its service.toml, and what becomes of an unknown one."""

import shutil

from node.behaviours import BEHAVIOURS, REGISTERED
from node.services import service as catalogue
from node.services.service import read_spec
from runtime.celery_app import get_celery
from tests.factories import EXAMPLE_SERVICES


def spec_text(instance, template: str | None, behaviour: str | None) -> str:
    services = instance / "services"
    shutil.rmtree(services, ignore_errors=True)
    shutil.copytree(EXAMPLE_SERVICES, services)
    path = services / "noise-report" / "service.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith(("template =", "behaviour ="))]
    extra = [f'template = "{template}"'] if template else []
    extra += [f'behaviour = "{behaviour}"'] if behaviour else []
    path.write_text("\n".join(extra + lines) + "\n", encoding="utf-8")
    return path


def test_a_plain_service_takes_cases(instance):
    assert read_spec(spec_text(instance, None, None)).behaviour == "cases"


def test_a_folder_made_before_services_named_their_behaviour_gets_it_from_its_template(instance):
    assert read_spec(spec_text(instance, "alert-subscription", None)).behaviour == "alerts"
    assert read_spec(spec_text(instance, "consultation", None)).behaviour == "consultations"
    assert read_spec(spec_text(instance, "appointment-booking", None)).behaviour == "bookings"


def test_a_named_behaviour_wins_over_the_template(instance):
    assert read_spec(spec_text(instance, "alert-subscription", "cases")).behaviour == "cases"


def test_a_behaviour_the_node_does_not_have_is_reported_and_not_loaded(instance):
    spec_text(instance, None, "parking-permits")
    report = catalogue.load_specs(instance / "services", behaviours=list(BEHAVIOURS))
    assert report.specs == []
    assert "unknown behaviour 'parking-permits'" in report.errors["noise-report"]


def test_the_worker_runs_every_behaviours_tasks_on_their_beat(app):
    celery = get_celery(app)
    for behaviour in REGISTERED:
        for name, entry in behaviour.beat.items():
            assert celery.conf.beat_schedule[name] == entry
            assert entry["task"] in celery.tasks
    assert "sync-with-hub" in celery.conf.beat_schedule  # the node's own stay beside them
