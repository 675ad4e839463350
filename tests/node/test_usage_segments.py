"""Usage segments learned at the node: citizens who agreed are clustered, staff target alerts by
segment, and the back office describes each segment with its figures."""

import random

import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.database import get_db
from node.instance import initialise, open_app
from node.profiles.models import CitizenSegment, SegmentKind
from node.usage import service as usage
from node.usage.models import UsageCluster
from tests.factories import (
    install_example_services,
    load_services,
    make_case,
    make_citizen,
    make_staff,
)
from tests.node.web import cheap_password_hashing, sign_in_staff, text


def citizens_who_use_the_city(session, *, consenting: int, refusing: int):
    rng = random.Random(3)
    for n in range(consenting + refusing):
        citizen = make_citizen(session, consent_profiling=n < consenting)
        heavy = n % 3 == 0  # a third report often by app, the rest once by phone
        for _ in range(rng.randint(6, 9) if heavy else 1):
            make_case(session, citizen=citizen, channel="app" if heavy else "phone")
    session.flush()


def test_consenting_citizens_get_a_usage_segment_described_in_the_back_office(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    with get_db(app).session() as session:
        citizens_who_use_the_city(session, consenting=30, refusing=5)
        found = usage.fit_segments(db_session=session, n_clusters=2)
        staff = make_staff(session, "supervisor").email
        session.commit()
        segments = session.scalars(
            sa.select(CitizenSegment).where(CitizenSegment.kind == SegmentKind.USAGE)
        ).all()
    assert [c.value for c in found] == ["u1", "u2"] and sum(c.size for c in found) == 30
    assert len(segments) == 30  # those who refused profiling are in no usage segment
    heavy = next(c for c in found if c.figures["requests_app"] > 1)
    assert heavy.figures["requests_phone"] == 0
    client = app.test_client()
    sign_in_staff(client, staff)
    page = text(client.get("/office/usage"))
    assert 'id="usage-clusters"' in page and "requests app" in page and heavy.value in page


def test_the_command_fits_the_segments_and_says_when_there_are_too_few(tmp_path):
    initialise(
        path=tmp_path / "node",
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.example",
    )
    install_example_services(tmp_path / "node")
    runner = CliRunner()
    args = ["node", "usage-segments", "--instance", str(tmp_path / "node")]
    few = runner.invoke(main, args)
    assert few.exit_code == 0 and "fewer than 20 citizens" in few.output
    app = open_app(tmp_path / "node")
    with get_db(app).session() as session:
        load_services(session, tmp_path / "node")
        citizens_who_use_the_city(session, consenting=24, refusing=0)
        session.commit()
    fitted = runner.invoke(main, [*args, "--clusters", "2"])
    assert fitted.exit_code == 0, fitted.output
    assert "u1\t" in fitted.output and "u2\t" in fitted.output
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(UsageCluster)) == 2


def test_the_daily_beat_task_refits_the_segments_of_the_node(app):
    from node.celery_app import get_celery
    from node.usage.tasks import FIT, fit_usage_segments

    schedule = get_celery(app).conf.beat_schedule
    assert [entry["task"] for entry in schedule.values()].count(FIT) == 1
    with get_db(app).session() as session:
        citizens_who_use_the_city(session, consenting=24, refusing=3)
        session.commit()
    with app.app_context():
        assert fit_usage_segments.apply().get() >= 2
    with get_db(app).session() as session:
        stored = session.scalar(
            sa.select(sa.func.count())
            .select_from(CitizenSegment)
            .where(CitizenSegment.kind == SegmentKind.USAGE)
        )
        assert stored == 24
        assert session.scalar(sa.select(sa.func.count()).select_from(UsageCluster)) >= 2
