"""Consultations on a real PostgreSQL server: citizens taking part at the same moment are each
counted once, and a citizen racing themselves is counted once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier

import pytest
import sqlalchemy as sa

from node.cases.schemas import Actor
from node.consultations import service as consultations
from node.consultations.models import Consultation, Participation, TallyCount
from node.database import get_db
from node.errors import Conflict
from node.profiles.models import Citizen
from service_templates.engine import PACKAGE_TEMPLATES, new_service
from tests.factories import make_citizen, make_node_app

pytestmark = pytest.mark.postgres

DURING = datetime(2027, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def pg_app(postgres_url, instance):
    app = make_node_app(instance, DATABASE_URL=postgres_url, TIMEZONE="Europe/Rome")
    new_service(
        root=PACKAGE_TEMPLATES,
        template="consultation",
        services_dir=instance / "services",
        city={"city_name": "Bologna", "country": "IT", "languages": "en"},
        node_channels=["web", "sms"],
        assignments={"opens_on": "2027-03-01", "closes_on": "2027-03-31", "channels": "web,sms"},
    )
    from node.instance import load_services

    assert not load_services(app).errors
    yield app
    get_db(app).engine.dispose()


def test_simultaneous_participations_are_each_counted_once(pg_app, instance):
    db = get_db(pg_app)
    with db.session() as session:
        consultation = consultations.open_consultation(
            db_session=session,
            service_code="consultation",
            services_dir=instance / "services",
            timezone="Europe/Rome",
            actor=Actor.system(),
            now=DURING,
        )
        people = []
        for n in range(6):  # 12 sessions at once stay within the engine's pool of 15
            person = make_citizen(session, birth_year=1980, phone=f"+3933355500{n:02d}")
            person.password_hash = "an account"  # SMS from its phone verifies an account
            people.append(person)
        session.flush()
        people = [person.id for person in people]
        session.commit()
        consultation_id = consultation.id
    # Every citizen twice, all at once: 12 attempts, 6 counted.
    attempts = [(person, option) for person in people for option in ("new-park", "cycle-lanes")]
    barrier = Barrier(len(attempts), timeout=60)

    def take_part(attempt):
        person, option = attempt
        with db.session() as session:
            citizen = session.get(Citizen, person)
            poll = session.get(Consultation, consultation_id)
            barrier.wait()
            try:
                consultations.participate(
                    db_session=session,
                    consultation=poll,
                    citizen=citizen,
                    option=option,
                    channel="sms",
                    now=DURING,
                )
                session.commit()
                return "counted"
            except Conflict:
                session.rollback()
                return "refused"

    with ThreadPoolExecutor(len(attempts)) as pool:
        outcomes = list(pool.map(take_part, attempts))
    assert outcomes.count("counted") == len(people)
    with db.session() as session:
        counted = session.scalar(sa.select(sa.func.sum(TallyCount.count)))
        registered = session.scalar(sa.select(sa.func.count(Participation.id)))
    assert counted == registered == len(people)
