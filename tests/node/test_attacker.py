"""An attacker with every revision the hub was sent, and a solver, learns no small count.

The attacker here is written apart from the node's audit: it reads the snapshots as they would
be sent, knows which cells are not empty, and is granted every structural fact that holds of
the exact counts (cells add up to their totals, citizens never exceed submissions, a channel's
citizens are at most the service's, a histogram adds up to its event, counts only grow from one
revision to the next). It solves integer programs over that system for the smallest and the
largest value of every withheld count, and of every change smaller than k between revisions.
"""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from node.cases import service as case_service
from node.cases.schemas import Actor
from node.intake import service as intake
from node.sync import service as sync
from node.sync import snapshots
from node.sync.models import SyncPeriod
from node.sync.suppression import suppress

K = 10
PERIOD = "2026-03"
AFTER_GRACE = datetime(2026, 4, 10, tzinfo=UTC)
HISTOGRAM_EVENTS = {
    "time_to_acknowledge": "acknowledged",
    "time_to_complete": "completed",
    "satisfaction": "feedback",
}
CAP = 10**6  # no count is near this: an interval reaching it is as good as unbounded


# ---------------------------------------------------------------- what the attacker reads


def published(payload: dict) -> dict:
    """Every count a snapshot's JSON publishes, keyed (service, dim, value), measure."""
    out = {}
    for cell in payload["cells"]:
        if cell.get("channel"):
            where = (cell["service"], "channel", cell["channel"])
        elif cell.get("segment"):
            where = (cell["service"], "segment", cell["segment"])
        else:
            where = (cell["service"], "all", None)
        measures = cell["measures"]
        if measures.get("citizens") is not None:
            out[(where, "citizens")] = measures["citizens"]
        for event, value in measures.get("events", {}).items():
            if value is not None:
                out[(where, event)] = value
        if measures.get("completed_within_sla") is not None:
            out[(where, "completed_within_sla")] = measures["completed_within_sla"]
        for histogram in HISTOGRAM_EVENTS:
            for i, value in enumerate(measures.get(histogram) or []):
                if value is not None:
                    out[(where, f"{histogram}.{i}")] = value
    return out


def truth_of(db_session) -> dict:
    """The exact counts, named as the attacker names them."""
    values = sync.aggregate(db_session=db_session, period=PERIOD).values
    return {(cell, measure.removeprefix("events.")): v for (cell, measure), v in values.items()}


def structure(truth: dict) -> list[tuple[dict, str]]:
    """The structural relations that hold of the exact counts, as (coefficients, sense)."""
    rows = []

    def relation(coefficients: dict, sense: str) -> None:
        total = sum(c * truth.get(key, 0) for key, c in coefficients.items())
        if (total == 0) if sense == "==" else (total <= 0):
            rows.append((coefficients, sense))

    cells = {cell for cell, _ in truth}
    for service in {cell[0] for cell in cells}:
        total = (service, "all", None)
        channels = [c for c in cells if c[0] == service and c[1] == "channel"]
        segments = [c for c in cells if c[0] == service and c[1] == "segment"]
        for measure in {m for cell, m in truth if cell[0] == service}:
            relation({(total, measure): 1} | {(c, measure): -1 for c in segments}, "==")
            if measure == "citizens":
                for c in channels:
                    relation({(c, measure): 1, (total, measure): -1}, "<=")
                relation({(total, measure): 1} | {(c, measure): -1 for c in channels}, "<=")
            else:
                relation({(total, measure): 1} | {(c, measure): -1 for c in channels}, "==")
    for cell in cells:
        relation({(cell, "citizens"): 1, (cell, "submitted"): -1}, "<=")
        relation({(cell, "completed_within_sla"): 1, (cell, "completed"): -1}, "<=")
        for histogram, event in HISTOGRAM_EVENTS.items():
            buckets = [(c, m) for c, m in truth if c == cell and m.startswith(histogram + ".")]
            if buckets:
                relation({(cell, event): -1} | dict.fromkeys(buckets, 1), "==")
    return rows


def attack(sent: list[dict], truths: list[dict], width: int) -> list[str]:
    """What the attacker pins down to better than `width`: each as a readable line."""
    views = [published(payload) for payload in sent]
    unknown = [(r, key) for r, truth in enumerate(truths) for key in truth if key not in views[r]]
    column = {v: i for i, v in enumerate(unknown)}

    def term(r: int, key) -> tuple[int | None, int]:
        """(column, 0) for an unknown, (None, value) for a published or empty cell."""
        if (r, key) in column:
            return column[(r, key)], 0
        return None, views[r].get(key, 0)

    a, low, high = [], [], []

    def add(coefficients: dict, sense: str) -> None:
        row, constant = np.zeros(len(unknown)), 0
        for (r, key), c in coefficients.items():
            j, known = term(r, key)
            if j is None:
                constant += c * known
            else:
                row[j] += c
        if row.any():
            a.append(row)
            low.append(-constant if sense == "==" else -np.inf)
            high.append(-constant)

    for r, truth in enumerate(truths):
        for coefficients, sense in structure(truth):
            add({(r, key): c for key, c in coefficients.items()}, sense)
        if r:
            for key in set(truth) | set(truths[r - 1]):
                if truth.get(key, 0) >= truths[r - 1].get(key, 0):
                    add({(r - 1, key): 1, (r, key): -1}, "<=")
    targets = [({v: 1}, 0, f"revision {v[0] + 1}: {v[1]}") for v in unknown]
    found = []
    for r in range(1, len(truths)):
        for key in set(truths[r]) | set(truths[r - 1]):
            change = truths[r].get(key, 0) - truths[r - 1].get(key, 0)
            if not 0 < abs(change) < K:
                continue
            objective, constant = {}, 0
            for rev, sign in ((r, 1), (r - 1, -1)):
                j, known = term(rev, key)
                if j is None:
                    constant += sign * known
                else:
                    objective[unknown[j]] = sign
            if not objective:
                found.append(f"the change in {key} is published: {change}")
            else:
                targets.append((objective, constant, f"the change in {key}"))
    if not unknown:
        return found
    constraints = LinearConstraint(np.array(a), low, high) if a else ()
    exact = np.array([truths[r][key] for r, key in unknown], dtype=float)
    points = [exact]
    for objective, constant, name in targets:
        c = np.zeros(len(unknown))
        for v, coefficient in objective.items():
            c[column[v]] = coefficient
        seen = [c @ p + constant for p in points]
        if max(seen) - min(seen) >= width:
            continue
        ends = []
        for sign in (1, -1):
            result = milp(
                sign * c,
                constraints=constraints,
                integrality=np.ones(len(unknown)),
                bounds=Bounds(0, CAP),
            )
            assert result.success, result.message
            points.append(result.x)
            ends.append(sign * result.fun + constant)
        if ends[1] - ends[0] < width:
            found.append(f"{name} is within [{ends[0]:g}, {ends[1]:g}]")
    return found


# ---------------------------------------------------------------- small generated months


def requests(
    db_session, rng: random.Random, counts: dict[str, int], days=(1, 27), worked: bool = True
) -> None:
    """Anonymous requests (one request, one person) through the channels given; when
    `worked`, some acknowledged, resolved and rated."""
    for channel, n in counts.items():
        for _ in range(n):
            day = datetime(2026, 3, rng.randint(*days), rng.randrange(24), tzinfo=UTC)
            case = intake.submit(
                db_session=db_session,
                service_code="noise-report",
                channel=channel,
                description="Loud music after midnight",
                attributes={"source": "venue"},
                now=day,
            )
            at = day
            for action in ("acknowledge", "start", "resolve")[: rng.choice([0, 1, 3]) * worked]:
                at += timedelta(hours=rng.uniform(0.5, 60))
                at = min(at, datetime(2026, 3, 31, 23, tzinfo=UTC))
                case_service.move(
                    db_session=db_session, case=case, action=action, actor=Actor.system(), now=at
                )
            if case.is_closed and rng.random() < 0.5:
                case_service.record_feedback(
                    db_session=db_session,
                    case=case,
                    score=rng.choice([2, 4, 5]),
                    channel=channel,
                    now=at,
                )
    db_session.commit()


def enrolled(db_session) -> None:
    sync.save_link(
        db_session=db_session, hub_url="http://hub.invalid", node_slug="it-bologna", node_id=1, k=K
    )
    db_session.commit()


def refresh(db_session, now=AFTER_GRACE, **kwargs) -> list[str]:
    changed = sync.refresh_outbox(db_session=db_session, now=now, **kwargs)
    db_session.commit()
    return changed


def two_revisions(
    db_session, first: dict[str, int], late: dict[str, int], seed: int, worked: bool = True
):
    """Send a month, then let late requests arrive: what the hub would hold, and the truth."""
    rng = random.Random(seed)
    enrolled(db_session)
    requests(db_session, rng, first)
    sent, truths = [], []
    assert refresh(db_session) == [PERIOD]
    sent.append(db_session.get(SyncPeriod, PERIOD).payload)
    truths.append(truth_of(db_session))
    requests(db_session, rng, late, days=(20, 27), worked=worked)
    if refresh(db_session, now=AFTER_GRACE + timedelta(days=10)) == [PERIOD]:
        sent.append(db_session.get(SyncPeriod, PERIOD).payload)
        truths.append(truth_of(db_session))
    return sent, truths


def test_a_node_with_only_web_and_sms_gives_away_none_of_its_three_web_requests(db_session):
    sent, truths = two_revisions(db_session, {"web": 3, "sms": 50}, {"web": 1}, seed=1)
    assert attack(sent, truths, width=K) == []
    assert published(sent[-1]).get(((("noise-report", "channel", "web")), "submitted")) is None


@pytest.mark.parametrize("seed", range(4))
def test_no_small_generated_month_is_narrowed_down_across_two_revisions(db_session, seed):
    rng = random.Random(seed)
    first = {"web": rng.randint(1, 9), "sms": rng.randint(1, 9)}
    if seed % 2:
        first[rng.choice(["web", "sms"])] += rng.randint(10, 30)
    late = {rng.choice(["web", "sms"]): 1} if seed < 2 else {"web": 12, "sms": 11}
    sent, truths = two_revisions(db_session, first, late, seed=seed)
    assert attack(sent, truths, width=K) == []


def test_a_large_late_batch_is_sent_as_a_second_revision_the_attacker_cannot_split(db_session):
    # Requests imported late, not yet worked: every count they change grows by k or more.
    late = {"web": 15, "sms": 12}
    sent, truths = two_revisions(db_session, {"web": 30, "sms": 25}, late, seed=9, worked=False)
    assert len(sent) == 2
    assert attack(sent, truths, width=K) == []


def test_the_attacker_recovers_what_one_dimensional_suppression_leaves(db_session, monkeypatch):
    def one_dimensional(values, relations, *, k, **_):
        from node.sync.suppression import Group

        groups = [
            Group(r.terms[0][0], tuple(key for key, _ in r.terms[1:])) for r in relations if r.equal
        ]
        return suppress(dict(values), groups, k)

    monkeypatch.setattr(snapshots, "protect", one_dimensional)
    monkeypatch.setattr(sync, "audit_release", lambda **kwargs: _passing())
    sent, truths = two_revisions(db_session, {"web": 3, "sms": 50}, {"web": 1}, seed=1)
    found = attack(sent, truths, width=K)
    assert any("'web'), 'submitted')" in line and "[3, 3]" in line for line in found), found


def _passing():
    from node.sync.audit import AuditReport

    return AuditReport(exposures=[], checked=0, programs=0, safe_components=set())


# ---------------------------------------------------------------- what holds a month back


def test_a_single_late_request_to_a_sent_month_is_held_back_and_nothing_is_lost(db_session):
    enrolled(db_session)
    requests(db_session, random.Random(3), {"web": 14, "sms": 40})
    refresh(db_session)
    sent = db_session.get(SyncPeriod, PERIOD).payload
    requests(db_session, random.Random(4), {"web": 1})
    assert refresh(db_session, now=AFTER_GRACE + timedelta(days=1)) == []
    row = db_session.get(SyncPeriod, PERIOD)
    assert row.payload == sent and row.revision == 1
    assert sync.pending_periods(db_session=db_session) == [row]  # revision 1 is still to send
    (held,) = sync.held_periods(db_session=db_session, now=AFTER_GRACE)
    assert held[0] == PERIOD and "the change since the last release" in held[1]
    # Enough further requests make the change safe to send: the held one goes with them.
    requests(db_session, random.Random(5), {"web": 12, "sms": 12}, days=(20, 27), worked=False)
    assert refresh(db_session, now=AFTER_GRACE + timedelta(days=2)) == [PERIOD]
    assert db_session.get(SyncPeriod, PERIOD).held_reason is None
    total = (("noise-report", "all", None), "submitted")
    assert published(db_session.get(SyncPeriod, PERIOD).payload)[total] == 14 + 40 + 1 + 24


def test_a_snapshot_that_fails_the_audit_is_not_put_in_the_outbox(db_session, monkeypatch):
    # A protection that only withholds what is below k: the audit finds the rest and refuses.
    monkeypatch.setattr(
        snapshots,
        "protect",
        lambda values, relations, *, k, **_: {key for key, v in values.items() if v < k},
    )
    enrolled(db_session)
    requests(db_session, random.Random(6), {"web": 3, "sms": 50})
    assert refresh(db_session) == []
    row = db_session.get(SyncPeriod, PERIOD)
    assert row.revision == 0 and row.payload is None
    assert sync.pending_periods(db_session=db_session) == []
    (held,) = sync.held_periods(db_session=db_session, now=AFTER_GRACE)
    assert held[0] == PERIOD and "audit: the snapshot would expose" in held[1]


def test_a_month_is_not_sent_before_its_grace_period_is_over(db_session):
    enrolled(db_session)
    requests(db_session, random.Random(7), {"web": 20, "sms": 20})
    early = datetime(2026, 4, 3, tzinfo=UTC)
    assert refresh(db_session, now=early) == []
    assert sync.pending_periods(db_session=db_session) == []
    assert sync.held_periods(db_session=db_session, now=early) == [
        (PERIOD, "in its grace period until 2026-04-06 00:00 UTC")
    ]
    assert refresh(db_session, now=datetime(2026, 4, 6, 0, 1, tzinfo=UTC)) == [PERIOD]
    assert (
        sync.held_periods(db_session=db_session, now=datetime(2026, 4, 6, 0, 1, tzinfo=UTC)) == []
    )


def test_without_a_grace_period_the_open_month_is_sent_as_it_goes(db_session):
    enrolled(db_session)
    requests(db_session, random.Random(8), {"web": 20, "sms": 20}, days=(1, 10))
    open_month = datetime(2026, 3, 12, tzinfo=UTC)
    no_grace = sync.ReleaseSettings(grace_days=0)
    assert refresh(db_session, now=open_month, release=no_grace) == [PERIOD]
    assert sync.held_periods(db_session=db_session, now=open_month, release=no_grace) == []
