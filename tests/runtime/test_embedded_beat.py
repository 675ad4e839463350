"""A node without a broker runs its beat schedule itself, on a thread of the serving process."""

import threading
from datetime import timedelta

from celery import shared_task
from click.testing import CliRunner
from flask import Flask

from runtime.celery_app import EmbeddedBeat, celery_init_app

RAN = []
DONE = threading.Event()


@shared_task(name="tests.embedded_beat.tick", ignore_result=True)
def tick() -> None:
    RAN.append("tick")
    if len(RAN) >= 2:
        DONE.set()


@shared_task(name="tests.embedded_beat.broken", ignore_result=True)
def broken() -> None:
    raise RuntimeError("a scheduled task that fails")


def test_the_schedule_runs_on_the_thread_and_a_failing_entry_does_not_stop_it():
    app = Flask(__name__)
    celery_init_app(
        app,
        name="beat-test",
        broker_url=None,
        queue="beat-test",
        task_modules=[],
        beat_schedule={
            "tick": {"task": "tests.embedded_beat.tick", "schedule": timedelta(seconds=0.1)},
            "broken": {"task": "tests.embedded_beat.broken", "schedule": timedelta(seconds=0.1)},
        },
    )
    beat = EmbeddedBeat(app, tick=0.02)
    beat.start()
    try:
        assert DONE.wait(timeout=30), "the schedule never ran twice"
    finally:
        beat.stop()
        beat.join(timeout=5)
    assert not beat.is_alive() and RAN[:2] == ["tick", "tick"]


def test_node_serve_without_a_broker_starts_the_scheduled_work(tmp_path, monkeypatch):
    import importlib

    from carmen.cli import main
    from node.instance import initialise

    node_cli = importlib.import_module("carmen.cli.node")

    initialise(
        path=tmp_path / "node",
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.example",
    )
    seen = {}

    def serve(app, *, host, port):
        seen["threads"] = [t.name for t in threading.enumerate()]
        seen["background"] = "carmen.celery.sender" in app.extensions

    monkeypatch.setattr(node_cli, "serve_wsgi", serve)
    result = CliRunner().invoke(main, ["node", "serve", "--instance", str(tmp_path / "node")])
    assert result.exit_code == 0, result.output
    assert "scheduled tasks and retries run in this process" in result.output
    assert "carmen-beat" in seen["threads"]
    assert seen["background"]  # and a click never waits for a mail server
