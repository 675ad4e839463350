"""Attacks on the anonymisation boundary with only what a coordinator and the public can read.

A node syncs small months to a hub over real HTTP. The attacker holds a coordinator's account:
after every sync it reads every cell the hub's read API serves (so it holds every revision the
hub ever stored), and it solves linear programs (scipy's `linprog`) of its own over everything
it knows, for the smallest and largest value of every withheld count and of every change below
k between two revisions. It is granted every structural relation that holds of the exact counts
(cells add up to totals, citizens never exceed submissions, histograms add up to their event,
counts only grow), and what a service's public definition says: its SLA, which ties the
resolutions in time to the time-to-complete histogram. A linear program is never narrower than
the integer hull, so an interval it finds too narrow is a real exposure.

Then canary personal data is planted through every channel, and every byte the hub received,
stores or serves, and every unkeyed Open311 answer, is searched for it.
"""

import io
import json
import math
import random
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from scipy.optimize import linprog

from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role
from federation.hub.database import get_db as hub_db
from federation.hub.database import utcnow as hub_now
from federation.hub.nodes import service as hub_nodes
from federation.protocol.models import satisfaction_score_names
from federation.protocol.vocabulary import (
    DURATION_BUCKET_UPPER_HOURS,
    TIME_TO_ACKNOWLEDGE,
    TIME_TO_COMPLETE,
    duration_bucket_names,
)
from node.cases import service as case_service
from node.cases.models import Case
from node.cases.schemas import Actor
from node.database import get_db as node_db
from node.intake import service as intake
from node.sync import service as sync
from node.sync.enrollment import enroll_with_hub
from tests.factories import make_node_app
from tests.federation.conftest import make_hub, serving_hub

K = 10
PERIOD = "2026-03"
SERVICE = "noise-report"
POTHOLES = "pothole-report"
# The services' published SLAs: the noise service's is a bucket edge of the histograms.
SLA_HOURS = {SERVICE: 72, POTHOLES: 36}
POTHOLE_SPEC = """code = "pothole-report"
name = "Pothole"
domain = "mobility"
description = "Report a pothole."
department = "environment"
channels = ["web", "sms"]
sla_hours = 36
sms_keyword = "HOLE"
"""
TTA = duration_bucket_names(TIME_TO_ACKNOWLEDGE)
TTC = duration_bucket_names(TIME_TO_COMPLETE)
SATISFACTION = satisfaction_score_names()
HISTOGRAMS = {"acknowledged": TTA, "completed": TTC, "feedback": SATISFACTION}
DERIVED = {"satisfaction_sum", "satisfaction_count"}  # the buckets' sum, sent whole
USES = ("submitted", "subscribed", "booked", "participated")


# ---------------------------------------------------------------- the federation


@dataclass
class Federation:
    """A hub served on loopback, one node enrolled with it, and a coordinator's API token."""

    hub: object
    node: object
    url: str
    token: str

    def sync(self) -> None:
        """`carmen node sync --now`: build what changed and push it over HTTP."""
        key = sync.load_or_create_key(Path(self.node.instance_path))
        with node_db(self.node).session() as session:
            release = sync.release_settings(self.node.config)
            for result in sync.sync_now(db_session=session, key=key, release=release).values():
                assert result.acknowledged, result

    def read(self, path: str, **params) -> dict:
        """What the coordinator's account reads from the hub."""
        answer = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def truth(self) -> dict:
        """The node's exact counts of the month, named as the hub names them."""
        with node_db(self.node).session() as session:
            values = sync.aggregate(db_session=session, period=PERIOD).values
        return {(cell, hub_measure(measure)): v for (cell, measure), v in values.items() if v}


def hub_measure(measure: str) -> str:
    """A node's measure key as the hub's read API names it."""
    if measure.startswith("events."):
        return measure.removeprefix("events.")
    for prefix, names in (
        ("time_to_acknowledge.", TTA),
        ("time_to_complete.", TTC),
        ("satisfaction.", SATISFACTION),
    ):
        if measure.startswith(prefix):
            return names[int(measure.removeprefix(prefix))]
    return measure


@contextmanager
def federation(tmp_path, migrated_hub_db, received: list | None = None, **node_config):
    """The federation running; every request body the hub receives is kept in `received`."""
    hub = make_hub(tmp_path / "hub", migrated_hub_db)
    node = make_node_app(tmp_path / "node", **node_config)
    with hub.app_context(), hub_db(hub).session() as session:
        enrollment, _ = hub_nodes.create_enrollment_token(
            db_session=session, city="Bologna", country="IT", now=hub_now(), ttl_hours=1
        )
        accounts.create_user(
            db_session=session, username="cora", role=Role.COORDINATOR, password="cora-password"
        )
        session.commit()
    try:
        with serving_hub(recording(hub, received)) as url:
            with node_db(node).session() as session:
                enroll_with_hub(
                    db_session=session,
                    settings=node.config,
                    instance=Path(node.instance_path),
                    hub_url=url,
                    token=enrollment,
                )
                session.commit()
            login = httpx.post(
                url + "/api/v1/auth/tokens", json={"username": "cora", "password": "cora-password"}
            )
            assert login.status_code in (200, 201), login.text
            yield Federation(hub, node, url, login.json()["token"])
    finally:
        node_db(node).engine.dispose()
        hub_db(hub).engine.dispose()


def recording(app, received: list | None):
    """The hub's WSGI app, keeping a copy of every request's target and body."""
    if received is None:
        return app

    def keep(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        received.append(environ.get("PATH_INFO", "").encode() + b" " + body)
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return keep


# ---------------------------------------------------------------- what the attacker reads


def served_cells(fed: Federation) -> dict:
    """Every cell the read API serves for the month, keyed (cell, measure)."""
    out, offset = {}, 0
    while True:
        page = fed.read("/api/v1/aggregates", node="it-bologna", period=PERIOD, offset=offset)
        for row in page["cells"]:
            if row["channel"] != "all":
                cell = (row["service_code"], "channel", row["channel"])
            elif row["segment"] != "all":
                cell = (row["service_code"], "segment", row["segment"])
            else:
                cell = (row["service_code"], "all", None)
            out[(cell, row["measure"])] = row["value"]
        offset += len(page["cells"])
        if offset >= page["total"] or not page["cells"]:
            return out


def stored_revision(fed: Federation) -> int:
    health = fed.read("/api/v1/nodes/it-bologna/health")
    return next((p["revision"] for p in health["stored_periods"] if p["period"] == PERIOD), 0)


class Attacker:
    """Reads the hub after every sync and keeps each revision it sees, with the truth of it."""

    def __init__(self, fed: Federation):
        self.fed = fed
        self.views: list[dict] = []
        self.truths: list[dict] = []
        self.revisions: list[int] = []

    def look(self) -> None:
        revision = stored_revision(self.fed)
        if revision and revision not in self.revisions:
            self.revisions.append(revision)
            self.views.append(served_cells(self.fed))
            self.truths.append(self.fed.truth())

    def exposed(self, width: int = K) -> list[str]:
        return solve(self.views, self.truths, width)


def structure(truth: dict) -> list[tuple[dict, str]]:
    """Every relation among a revision's counts the attacker is granted, as (coefficients,
    sense), kept where it holds of the exact counts."""
    rows = []

    def grant(coefficients: dict, sense: str) -> bool:
        total = sum(c * truth.get(key, 0) for key, c in coefficients.items())
        if (total == 0) if sense == "==" else (total <= 0):
            rows.append((coefficients, sense))
            return True
        return False

    cells = {cell for cell, _ in truth}
    measures = {m for _, m in truth}
    for service in {cell[0] for cell in cells}:
        total = (service, "all", None)
        channels = [c for c in cells if c[0] == service and c[1] == "channel"]
        segments = [c for c in cells if c[0] == service and c[1] == "segment"]
        for measure in measures:
            grant({(total, measure): 1} | {(c, measure): -1 for c in segments}, "==")
            if measure == "citizens":
                for c in channels:
                    grant({(c, measure): 1, (total, measure): -1}, "<=")
                grant({(total, measure): 1} | {(c, measure): -1 for c in channels}, "<=")
            else:
                sums = {(total, measure): 1} | {(c, measure): -1 for c in channels}
                grant(sums, "==") or grant({k: -c for k, c in sums.items()}, "<=")
    for cell in cells:
        grant({(cell, "citizens"): 1, (cell, "submitted"): -1}, "<=") or grant(
            {(cell, "citizens"): 1} | {(cell, m): -1 for m in USES}, "<="
        )
        grant({(cell, "completed_within_sla"): 1, (cell, "completed"): -1}, "<=")
        for event, names in HISTOGRAMS.items():
            grant({(cell, event): -1} | {(cell, n): 1 for n in names}, "==")
        # The SLA is public: a resolution is in time exactly when it took at most the SLA's
        # hours, so the resolutions in time lie between the buckets below it and the buckets
        # up to its own (equal to a run of buckets when the SLA is a bucket's edge).
        sla = SLA_HOURS[cell[0]]
        below = [
            n for n, upper in zip(TTC, DURATION_BUCKET_UPPER_HOURS, strict=False) if upper <= sla
        ]
        up_to = TTC[: len([u for u in DURATION_BUCKET_UPPER_HOURS if u < sla]) + 1]
        within = (cell, "completed_within_sla")
        grant({within: -1} | {(cell, n): 1 for n in below}, "<=")
        grant({within: 1} | {(cell, n): -1 for n in up_to}, "<=")
    return rows


def solve(views: list[dict], truths: list[dict], width: int) -> list[str]:
    """What the attacker pins down to better than `width`, one readable line each."""
    unknown = [(r, key) for r, truth in enumerate(truths) for key in truth if key not in views[r]]
    column = {v: i for i, v in enumerate(unknown)}
    found = []
    for view, truth in zip(views, truths, strict=True):
        # What the hub serves is the truth: nothing published is wrong or made up.
        wrong = {
            key: v for key, v in view.items() if key[1] not in DERIVED and truth.get(key, 0) != v
        }
        assert wrong == {}
    a_eq, b_eq, a_ub, b_ub = [], [], [], []

    def add(coefficients: dict, sense: str) -> None:
        row, constant = np.zeros(len(unknown)), 0.0
        for (r, key), c in coefficients.items():
            if (r, key) in column:
                row[column[(r, key)]] += c
            else:
                constant += c * views[r].get(key, 0)
        if row.any():
            (a_eq if sense == "==" else a_ub).append(row)
            (b_eq if sense == "==" else b_ub).append(-constant)

    for r, truth in enumerate(truths):
        for coefficients, sense in structure(truth):
            add({(r, key): c for key, c in coefficients.items()}, sense)
        if r:  # the event log only grows
            for key in set(truth) | set(truths[r - 1]):
                add({(r - 1, key): 1, (r, key): -1}, "<=")
    targets = [({v: 1}, f"revision {v[0] + 1}: {v[1]} = {truths[v[0]][v[1]]}") for v in unknown]
    for r in range(1, len(truths)):
        for key in set(truths[r]) | set(truths[r - 1]):
            change = truths[r].get(key, 0) - truths[r - 1].get(key, 0)
            if 0 < abs(change) < K:
                targets.append(({(r, key): 1, (r - 1, key): -1}, f"the change {change} in {key}"))
    if not unknown:
        return found
    exact = np.array([truths[r][key] for r, key in unknown], dtype=float)
    equations = dict(A_eq=np.array(a_eq), b_eq=b_eq) if a_eq else {}
    inequalities = dict(A_ub=np.array(a_ub), b_ub=b_ub) if a_ub else {}
    for objective, name in targets:
        c, constant = np.zeros(len(unknown)), 0.0
        for (r, key), coefficient in objective.items():
            if (r, key) in column:
                c[column[(r, key)]] += coefficient
            else:
                constant += coefficient * views[r].get(key, 0)
        if not c.any():
            found.append(f"{name} is published")
            continue
        ends = []
        for sign in (1, -1):
            result = linprog(
                sign * c, bounds=(0, None), method="highs", **equations, **inequalities
            )
            if result.status == 3:  # unbounded
                ends.append(math.inf * -sign)
                continue
            assert result.success, result.message
            ends.append(sign * result.fun + constant)
        if math.inf in ends:  # no upper bound: as wide as can be
            continue
        low, high = math.ceil(ends[0] - 1e-6), math.floor(ends[1] + 1e-6)
        assert low <= c @ exact + constant <= high  # the truth is one of the attacker's worlds
        if high - low < width:
            found.append(f"{name} is within [{low}, {high}]")
    return found


# ---------------------------------------------------------------- small months


def request(
    session,
    channel: str,
    created: datetime,
    *,
    acknowledge=None,
    resolve=None,
    score=None,
    service: str = SERVICE,
):
    """One anonymous request, acknowledged and resolved after so many hours, maybe rated."""
    case = intake.submit(
        db_session=session,
        service_code=service,
        channel=channel,
        description="Loud music after midnight" if service == SERVICE else "A deep pothole",
        attributes={"source": "venue"} if service == SERVICE else {},
        now=created,
    )
    at = created
    if acknowledge is not None:
        at = created + timedelta(hours=acknowledge)
        case_service.move(
            db_session=session, case=case, action="acknowledge", actor=Actor.system(), now=at
        )
    if resolve is not None:
        at = created + timedelta(hours=resolve)
        case_service.move(
            db_session=session, case=case, action="resolve", actor=Actor.system(), now=at
        )
        if score is not None:
            case_service.record_feedback(
                db_session=session, case=case, score=score, channel=channel, now=at
            )
    return case


def random_month(
    session, rng: random.Random, counts: dict[str, int], days=(1, 20), service: str = SERVICE
) -> None:
    """Anonymous requests through the channels given, worked and rated at random."""
    for channel, n in counts.items():
        for _ in range(n):
            created = datetime(2026, 3, rng.randint(*days), rng.randrange(24), tzinfo=UTC)
            worked = rng.choice([None, "ack", "done", "done"])
            request(
                session,
                channel,
                created,
                acknowledge=rng.uniform(0.2, 30) if worked else None,
                resolve=rng.uniform(31, 200) if worked == "done" else None,
                score=rng.choice([None, 2, 4, 5]) if worked == "done" else None,
                service=service,
            )
    session.commit()


def sla_month(session) -> None:
    """Web: twenty fixed within four hours, three within a day, eleven after three days, so
    the resolutions in time (23) and the four-hour bucket (20) are sent; SMS larger."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for channel, spread in (
        ("web", ((2, 20), (12, 3), (100, 11))),
        ("sms", ((2, 25), (30, 14), (200, 16))),
    ):
        for hours, n in spread:
            for i in range(n):
                request(
                    session, channel, start + timedelta(hours=i), acknowledge=0.5, resolve=hours
                )
    session.commit()


def test_resolutions_in_time_and_the_histogram_give_away_no_bucket(tmp_path, migrated_hub_db):
    with federation(tmp_path, migrated_hub_db) as fed:
        with node_db(fed.node).session() as session:
            sla_month(session)
        attacker = Attacker(fed)
        fed.sync()
        attacker.look()
        assert attacker.revisions == [1]
        found = attacker.exposed()
        assert found == [], "\n".join(found)


def test_the_attacker_with_the_sla_would_read_the_bucket_off_without_its_relation(
    tmp_path, migrated_hub_db, monkeypatch
):
    # The same month, protected by a node that does not know the SLA ties the resolutions in
    # time to the histogram: the three web requests fixed within a day are read off exactly.
    from node.sync import aggregation, snapshots

    def without_sla(values):
        return [
            r
            for r in aggregation.relations(values)
            if not (
                any(key[1] == "completed_within_sla" for key in r.keys)
                and any(key[1].startswith("time_to_complete.") for key in r.keys)
            )
        ]

    monkeypatch.setattr(snapshots, "relations", without_sla)
    with federation(tmp_path, migrated_hub_db) as fed:
        with node_db(fed.node).session() as session:
            sla_month(session)
        attacker = Attacker(fed)
        fed.sync()
        attacker.look()
        found = attacker.exposed()
    web_day = (("noise-report", "channel", "web"), "time_to_complete_h_le_24")
    assert f"revision 1: {web_day} = 3 is within [3, 3]" in found, found


@pytest.mark.parametrize("seed", range(3))
def test_no_small_generated_month_is_narrowed_from_what_the_hub_serves_across_revisions(
    tmp_path, migrated_hub_db, seed
):
    # A node offering only web and SMS, anonymous requests (citizens equal submissions), cells
    # of 1 to 9, then a single late request after the first sync, then a late batch.
    rng = random.Random(seed)
    first = {"web": rng.randint(1, 9), "sms": rng.randint(1, 9)}
    first[rng.choice(["web", "sms"])] += rng.randint(10, 30)
    with federation(tmp_path, migrated_hub_db) as fed:
        attacker = Attacker(fed)
        for counts in (first, {rng.choice(["web", "sms"]): 1}, {"web": 12, "sms": 11}):
            with node_db(fed.node).session() as session:
                random_month(session, rng, counts)
            fed.sync()
            attacker.look()
        assert attacker.revisions[0] == 1
        found = attacker.exposed()
    assert found == [], "\n".join(found)


# ---------------------------------------------------------------- canaries


def test_no_canary_planted_through_any_channel_reaches_the_hub_or_unkeyed_open311(
    tmp_path, migrated_hub_db, monkeypatch
):
    from federation.hub.aggregates.service import write_export
    from node.profiles.models import Citizen
    from tests.factories import seed_month
    from tests.node.test_public_data import MAIL_TOKEN, PEOPLE, SMS_TOKEN, _leaks, _plant
    from tests.node.web import cheap_password_hashing

    cheap_password_hashing(monkeypatch)
    received: list[bytes] = []
    config = {
        "WTF_CSRF_ENABLED": False,
        "SMS_AUTH_TOKEN": SMS_TOKEN,
        "EMAIL_WEBHOOK_TOKEN": MAIL_TOKEN,
        "RELEASE_GRACE_DAYS": 0,  # the planted month is sent while it is open
    }
    with federation(tmp_path, migrated_hub_db, received, **config) as fed:
        # Portal, Open311, SMS, e-mail with a signature block and the call centre, answered
        # by name; and a month of people with names, contacts and addresses, large enough
        # that counts are sent.
        codes, _key = _plant(fed.node)
        with node_db(fed.node).session() as session:
            seed_month(session, year=2026, month=10, cases=60, rng=random.Random(13), prefix="CN")
            session.commit()
            canaries = [
                value.casefold()
                for citizen in session.scalars(sa.select(Citizen))
                for value in (citizen.name, citizen.email, citizen.phone)
                if value
            ]
            canaries += [
                value.casefold()
                for case in session.scalars(sa.select(Case))
                for value in (case.tracking_code, case.description, case.address)
                if value
            ]
        fed.sync()
        served = [
            fed.read(path)
            for path in (
                "/api/v1/nodes",
                "/api/v1/nodes/it-bologna",
                "/api/v1/nodes/it-bologna/health",
                "/api/v1/services",
                "/api/v1/nodes/it-bologna/services",
            )
        ]
        served.append(fed.read("/api/v1/aggregates", limit=10_000))
        assert served[-1]["total"] > 0, "counts reached the hub"
        with fed.hub.app_context(), hub_db(fed.hub).session() as session:
            write_export(db_session=session, out_dir=tmp_path / "hub" / "export")
        stranger = fed.node.test_client()  # no session, no key
        public = []
        for fmt in ("json", "xml"):
            public += [stranger.get(f"/open311/v2/{p}.{fmt}") for p in ("discovery", "services")]
            public.append(stranger.get(f"/open311/v2/services/{SERVICE}.{fmt}"))
            public.append(stranger.get(f"/open311/v2/requests.{fmt}"))
            for code in codes:
                public.append(stranger.get(f"/open311/v2/requests/{code}.{fmt}"))
                public.append(stranger.get(f"/open311/v2/tokens/{code}.{fmt}"))
        hub_files = sorted(p for p in (tmp_path / "hub").rglob("*") if p.is_file())
        dump = "\n".join(sqlite3.connect(tmp_path / "hub" / "hub.db").iterdump())
    assert all(r.status_code == 200 for r in public), [r.status_code for r in public]
    assert any(b"/api/v1/snapshots" in body for body in received)
    assert {p.name for p in hub_files} >= {"hub.db", "cities.csv", "observations.csv"}
    everything = {
        "received by the hub": b"\n".join(received).decode("utf-8", "replace"),
        "stored at the hub": dump + "".join(p.read_bytes().decode("latin-1") for p in hub_files),
        "served by the hub": json.dumps(served, ensure_ascii=False),
        "unkeyed Open311": "\n".join(r.get_data(as_text=True) for r in public),
    }
    found = {where: _leaks(text) for where, text in everything.items()}
    assert {where: leaks for where, leaks in found.items() if leaks} == {}
    for where, text in everything.items():
        folded = text.casefold()
        if where != "unkeyed Open311":  # it publishes tracking codes and streets by design
            assert [c for c in canaries if c in folded] == [], where
            assert "canary" not in folded and "segreta" not in folded, where
    # The same search finds every planted person in what the node itself keeps.
    node_dump = "\n".join(sqlite3.connect(tmp_path / "node" / "node.db").iterdump())
    assert {leak.split()[0] for leak in _leaks(node_dump)} == set(PEOPLE)


@pytest.mark.parametrize("seed", range(2))
def test_two_services_with_late_requests_give_away_no_count_of_either(
    tmp_path, migrated_hub_db, seed
):
    # Noise reports (SLA 72 hours, a bucket's edge) and potholes (36 hours, inside a bucket)
    # on a node offering web and SMS; every month of either has small cells and late requests.
    from tests.factories import add_service

    rng = random.Random(100 + seed)
    with federation(tmp_path, migrated_hub_db) as fed:
        add_service(fed.node, POTHOLE_SPEC)
        attacker = Attacker(fed)
        rounds = [
            {SERVICE: {"web": rng.randint(1, 9), "sms": rng.randint(15, 40)},
             POTHOLES: {"web": rng.randint(10, 30), "sms": rng.randint(1, 9)}},
            {rng.choice([SERVICE, POTHOLES]): {rng.choice(["web", "sms"]): 1}},
            {SERVICE: {"web": 11, "sms": 13}, POTHOLES: {"web": 12, "sms": 10}},
        ]  # fmt: skip
        for batch in rounds:
            with node_db(fed.node).session() as session:
                for service, counts in batch.items():
                    random_month(session, rng, counts, service=service)
            fed.sync()
            attacker.look()
        assert attacker.revisions[0] == 1
        assert {cell[0] for cell, _ in attacker.truths[0]} == {SERVICE, POTHOLES}
        found = attacker.exposed()
    assert found == [], "\n".join(found)


def test_an_erasure_between_two_revisions_shows_in_no_count_the_hub_serves(
    tmp_path, migrated_hub_db
):
    # People with profiles (aged 25-54) write by web, others anonymously by SMS; the month is
    # sent, one person is erased, late requests make a second revision: neither the segment
    # nor the channel of the erased person loses a count.
    from node.profiles import service as profiles
    from tests.factories import make_citizen

    rng = random.Random(7)
    with federation(tmp_path, migrated_hub_db) as fed:
        attacker = Attacker(fed)
        with node_db(fed.node).session() as session:
            people = [make_citizen(session) for _ in range(14)]
            for n, person in enumerate(people):
                created = datetime(2026, 3, 3 + n, 10, tzinfo=UTC)
                intake.submit(
                    db_session=session,
                    service_code=SERVICE,
                    channel="web",
                    citizen=person,
                    description="Loud music after midnight",
                    attributes={"source": "venue"},
                    now=created,
                )
            session.commit()
            random_month(session, rng, {"sms": 25})
            erased = people[0].id
        fed.sync()
        attacker.look()
        with node_db(fed.node).session() as session:
            profiles.erase_citizen(db_session=session, citizen_id=erased, actor=Actor.system())
            session.commit()
            # Late requests, not yet worked: every count they change grows by k or more.
            for channel, n in (("web", 12), ("sms", 11)):
                for i in range(n):
                    request(session, channel, datetime(2026, 3, 25, i, tzinfo=UTC))
            session.commit()
        fed.sync()
        attacker.look()
        assert attacker.revisions == [1, 2]
        first, second = attacker.views
        shrunk = {key: (first[key], second[key]) for key in first.keys() & second.keys()}
        assert {key: v for key, v in shrunk.items() if v[1] < v[0]} == {}
        band = ((SERVICE, "segment", "25-54"), "citizens")
        assert attacker.truths[1][band] == attacker.truths[0][band] == 14
        found = attacker.exposed()
    assert found == [], "\n".join(found)


# ---------------------------------------------------------------- the hub and Open311 together


def open311_facts(fed: Federation) -> dict:
    """What a stranger reads off the public Open311 list of the month's noise reports: how many
    were made, how many are closed, and from the request, update and expected times of the
    closed ones, how long each took and whether in time. They are the service's total cell."""
    listed = (
        fed.node.test_client()
        .get(
            "/open311/v2/requests.json",
            query_string={
                "service_code": SERVICE,
                "start_date": "2026-03-01T00:00:00Z",
                "end_date": "2026-03-31T23:59:59Z",
            },
        )
        .json
    )
    total = (SERVICE, "all", None)
    buckets, within = [0] * len(TTC), 0
    closed = [r for r in listed if r["status"] == "closed"]
    for row in closed:
        requested, updated, expected = (
            datetime.fromisoformat(row[f"{name}_datetime"])
            for name in ("requested", "updated", "expected")
        )
        hours = (updated - requested).total_seconds() / 3600
        edges = [upper for upper in DURATION_BUCKET_UPPER_HOURS if upper < hours]
        buckets[len(edges)] += 1
        within += updated <= expected
    facts = {(total, "submitted"): len(listed)}
    facts |= {(total, "completed"): len(closed), (total, "completed_within_sla"): within}
    return facts | {(total, name): n for name, n in zip(TTC, buckets, strict=True) if n}


@pytest.mark.parametrize(
    "spreads",
    [
        # Web: three requests fixed within a day. SMS: thirty within four hours, twenty after
        # four days. Each bucket has one channel: the public list pins every channel's part.
        {"web": ((12, 3),), "sms": ((2, 30), (100, 20))},
        # The same, with SMS and app requests fixed within a day too: the small web part of
        # that bucket is not pinned by the public list, and must not be by the hub with it.
        {"web": ((12, 3),), "sms": ((2, 30), (12, 12), (100, 20)), "app": ((12, 2), (2, 11))},
    ],
)
def test_what_open311_publishes_and_the_hub_serves_together_give_away_no_channel_cell(
    tmp_path, migrated_hub_db, spreads
):
    # The hub withholds the small buckets; Open311 shows every request's times. What the
    # public list gives away by itself (with which cells are empty) is not the hub's doing.
    with federation(tmp_path, migrated_hub_db) as fed:
        with node_db(fed.node).session() as session:
            start = datetime(2026, 3, 2, 9, tzinfo=UTC)
            for channel, spread in spreads.items():
                for hours, n in spread:
                    for i in range(n):
                        created = start + timedelta(hours=5 * i)
                        request(session, channel, created, acknowledge=0.5, resolve=hours)
            session.commit()
        attacker = Attacker(fed)
        fed.sync()
        attacker.look()
        facts = open311_facts(fed)
        assert {key: attacker.truths[-1].get(key, 0) for key in facts} == facts
        assert attacker.exposed() == []  # the hub alone gives nothing away
        served = attacker.views[-1]
        attacker.views[-1] = facts
        inherent = set(attacker.exposed())
        attacker.views[-1] = served | facts
        found = [line for line in attacker.exposed() if line not in inherent]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("seed", range(3))
def test_people_of_every_age_writing_more_than_once_give_away_no_segment_cell(
    tmp_path, migrated_hub_db, seed
):
    # Citizens with profiles in every age band, some writing twice (fewer citizens than
    # submissions), by web, app and SMS, small cells everywhere, then late requests.
    from tests.factories import make_citizen

    rng = random.Random(200 + seed)
    with federation(tmp_path, migrated_hub_db) as fed:
        attacker = Attacker(fed)
        for late in (False, True, True):
            with node_db(fed.node).session() as session:
                for _ in range(rng.randint(1, 3) if late else rng.randint(25, 45)):
                    person = make_citizen(
                        session, birth_year=rng.choice([1945, 1960, 1980, 1990, 2005])
                    )
                    for _ in range(rng.choice([1, 1, 2])):
                        created = datetime(
                            2026, 3, rng.randint(1, 20), rng.randrange(24), tzinfo=UTC
                        )
                        case = intake.submit(
                            db_session=session,
                            service_code=SERVICE,
                            channel=rng.choice(["web", "web", "app", "sms"]),
                            citizen=person,
                            description="Loud music after midnight",
                            attributes={"source": "venue"},
                            now=created,
                        )
                        hours = rng.uniform(1, 150)
                        steps = (("acknowledge", hours / 2), ("resolve", hours))
                        for action, after in steps[: rng.choice([0, 1, 2, 2])]:
                            case_service.move(
                                db_session=session,
                                case=case,
                                action=action,
                                actor=Actor.system(),
                                now=created + timedelta(hours=after),
                            )
                session.commit()
            fed.sync()
            attacker.look()
        assert attacker.revisions[0] == 1
        assert len({cell for cell, _ in attacker.truths[0] if cell[1] == "segment"}) >= 3
        found = attacker.exposed()
    assert found == [], "\n".join(found)
