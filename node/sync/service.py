"""The outbox and the push: which periods changed, what to send, and sending it to the hub.

The building blocks live beside it: `aggregation` (events to counts), `snapshots`
(suppression, noise, identities; the one place the build calls `suppression`) and
`enrollment` (keys and the hub link). Their public names are importable from here too.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol import client as hub_client
from federation.protocol.models import MetricsSnapshot
from node.config import NodeSettings
from node.database import savepoint, utcnow
from node.errors import Conflict, NotFound
from node.sync.aggregation import (
    Aggregates,
    aggregate,
    aggregate_periods,
    period_bounds,
    source_fingerprints,
)
from node.sync.enrollment import (
    default_slug,
    enroll_with_hub,
    get_link,
    load_or_create_key,
    registration,
    save_link,
)
from node.sync.models import FederationLink, SyncLease, SyncPeriod
from node.sync.snapshots import (
    NoiseSettings,
    add_noise,
    audit_release,
    build_releases,
    build_snapshot,
    build_snapshots,
    content_hash,
    encode_release,
    noise_settings,
    published_before,
    service_identities,
    withheld_before,
)

logger = logging.getLogger(__name__)

# The building blocks' public names, so that callers read the whole of sync from here.
__all__ = [
    "Aggregates",
    "NoiseSettings",
    "ReleaseSettings",
    "SyncBusy",
    "add_noise",
    "aggregate",
    "aggregate_periods",
    "all_periods",
    "build_snapshot",
    "build_snapshots",
    "default_slug",
    "enroll_with_hub",
    "ensure_enrolled_slug",
    "get_link",
    "held_periods",
    "httpx_client",
    "load_or_create_key",
    "noise_settings",
    "pending_periods",
    "push_period",
    "record_push",
    "refresh_outbox",
    "registration",
    "release_settings",
    "renew_lease",
    "save_link",
    "service_identities",
    "snapshot_to_send",
    "source_fingerprints",
    "sync_lease",
    "sync_now",
]


# ---------------------------------------------------------------- one sync at a time

LEASE = "sync"
# Longer than any one step of a sync (a build, or a push with its 10 s timeout); renewed at each.
LEASE_TIME = timedelta(minutes=5)


class SyncBusy(Conflict):
    """Another sync of this node holds the lease."""


def _holder() -> str:
    return (
        f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 10**6}:"
        + (uuid.uuid4().hex[:8])
    )


def _take_lease(db_session: Session, holder: str, now: datetime) -> bool:
    """Take the lease if it is free or its holder's time is up; commits either way."""
    taken = db_session.execute(
        sa.update(SyncLease)
        .where(
            SyncLease.name == LEASE,
            sa.or_(SyncLease.holder.is_(None), SyncLease.expires_at < now),
        )
        .values(holder=holder, expires_at=now + LEASE_TIME)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken and db_session.scalar(sa.select(SyncLease.name)) is None:  # the first sync
        try:
            with savepoint(db_session):
                db_session.add(SyncLease(name=LEASE, holder=holder, expires_at=now + LEASE_TIME))
                db_session.flush()
            taken = 1
        except IntegrityError:  # another first sync made the row a moment ago: it holds it
            taken = 0
    db_session.commit()
    return bool(taken)


def renew_lease(*, db_session: Session, holder: str, now: datetime | None = None) -> bool:
    """Extend the lease held by `holder`; False when it was lost (its time ran out and another
    sync took it). Commits."""
    now = now or utcnow()
    kept = db_session.execute(
        sa.update(SyncLease)
        .where(SyncLease.name == LEASE, SyncLease.holder == holder)
        .values(expires_at=now + LEASE_TIME)
        .execution_options(synchronize_session=False)
    ).rowcount
    db_session.commit()
    return bool(kept)


@contextmanager
def sync_lease(*, db_session: Session, wait_seconds: float = 60.0) -> Iterator[str]:
    """Hold the node's sync lease for the block: syncs of one node never overlap.

    Waits up to `wait_seconds` for a running sync to end, then raises SyncBusy. The lease is
    a row taken by a conditional UPDATE, so it works alike on SQLite and PostgreSQL, between
    processes, and across the commits of a sync; a holder killed mid-sync frees it when its
    time (LEASE_TIME) is up. Commits when it takes and when it frees the lease.
    """
    holder = _holder()
    deadline = time.monotonic() + wait_seconds
    while not _take_lease(db_session, holder, utcnow()):
        if time.monotonic() >= deadline:
            raise SyncBusy("another sync of this node is running; try again when it ends")
        time.sleep(0.1)
    try:
        yield holder
    finally:
        db_session.rollback()  # whatever the block left half-done is not ours to commit
        db_session.execute(
            sa.update(SyncLease)
            .where(SyncLease.name == LEASE, SyncLease.holder == holder)
            .values(holder=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
        db_session.commit()


def _freeze_event_log(db_session: Session) -> None:
    """Hold every append to the event log until this transaction ends, so that the months'
    fingerprints and their builds read one and the same state of the log.

    SQLite: the transaction is begun IMMEDIATE (unless a write already began it), taking the
    write lock. PostgreSQL: the events table is locked in SHARE mode, which lets readers be and
    makes inserts wait. Appends wait for the build (a few seconds at most), never fail.
    """
    connection = db_session.connection()
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE events IN SHARE MODE"))


# ---------------------------------------------------------------- outbox


@dataclass(frozen=True)
class ReleaseSettings:
    """When a month may first leave, and how wide every withheld count must stay."""

    grace_days: int = NodeSettings.model_fields["release_grace_days"].default
    # None: the hub's k. 0 protects nothing beyond k, and lets every revision through: only for
    # harnesses that test the transport.
    protection_width: int | None = None


def release_settings(settings: Any) -> ReleaseSettings:
    """The release rules asked for by the node's settings."""
    return ReleaseSettings(settings["RELEASE_GRACE_DAYS"], settings["PROTECTION_WIDTH"])


def release_date(period: str, grace_days: int) -> datetime | None:
    """When a month may first be sent: its end plus the grace (None: at once)."""
    return period_bounds(period)[1] + timedelta(days=grace_days) if grace_days else None


def refresh_outbox(
    *,
    db_session: Session,
    now: datetime | None = None,
    privacy: NoiseSettings | None = None,
    release: ReleaseSettings | None = None,
) -> list[str]:
    """Rebuild the snapshot of every month whose events changed; a changed one gets a revision.

    A month is built only once its grace period is over. A rebuilt month is protected together
    with every earlier revision that may have left (withholding more where a small change
    would show), and enters the outbox only if it passes the interval audit with them;
    otherwise the change is held (`held_reason`) and the outbox keeps what it had, until
    a later build passes. The build reads one state of the event log: appends wait until the
    caller commits (see `_freeze_event_log`), so commit soon. Returns the periods that got a
    new revision.
    """
    _freeze_event_log(db_session)
    link = get_link(db_session=db_session)
    now = now or utcnow()
    release = release or ReleaseSettings()
    # Fresh from the database, not the session's memory: another sync may have moved them.
    stored = {
        p.period: p
        for p in db_session.scalars(sa.select(SyncPeriod).execution_options(populate_existing=True))
    }
    fingerprints = source_fingerprints(db_session=db_session)
    dirty = sorted(
        period
        for period, fingerprint in fingerprints.items()
        if (period not in stored or stored[period].source_fingerprint != fingerprint)
        and (release_date(period, release.grace_days) or now) <= now
    )
    for period in dirty:
        stored.setdefault(
            period,
            SyncPeriod(
                period=period, revision=0, acknowledged_revision=0, attempts=0, epsilon_spent=0.0
            ),
        )
    releases = build_releases(
        db_session=db_session,
        node_slug=link.node_slug,
        periods=dirty,
        k=link.k,
        revisions={period: stored[period].revision + 1 for period in dirty},
        privacy=privacy,
        protection_width=release.protection_width,
        keep={period: withheld_before(stored[period].released) for period in dirty},
        released={period: stored[period].released for period in dirty},
    )
    changed = []
    for period, built in releases.items():
        row = stored[period]
        digest = content_hash(built.snapshot)
        row.source_fingerprint = fingerprints[period]
        row.built_at = now
        db_session.add(row)
        if built.snapshot.differential_privacy is not None:
            row.epsilon_spent += built.snapshot.differential_privacy.epsilon
        if digest == row.content_hash:  # back to what the outbox holds: nothing is held
            row.held_reason = row.held_since = None
            continue
        reason = None
        lost = published_before(row.released) & built.hidden
        if lost:
            # The hub keeps one revision per month: one that withholds what it has would take
            # those counts away. Hold the change until it is large enough to show as it is.
            reason = (
                f"the change since the last release is too small to send without withholding "
                f"{len(lost)} counts the hub already has"
            )
        else:
            report = audit_release(
                release=built,
                released=row.released,
                k=link.k,
                protection_width=release.protection_width,
            )
            if not report.passed:
                what = "the change since the last release" if row.released else "the snapshot"
                reason = f"audit: {what} would expose a count: {report.summary()}"
        if reason is not None:
            row.held_reason = reason[:500]
            row.held_since = row.held_since or now
            logger.warning("%s held back, not sent: %s", period, row.held_reason)
            continue
        row.revision += 1
        row.content_hash = digest
        row.payload = built.snapshot.model_dump(mode="json", exclude_none=True)
        # Whatever is in the outbox may leave at any moment: count it as released from now on.
        row.released = [*(row.released or []), encode_release(row.revision, built)]
        row.held_reason = row.held_since = None
        row.refused = False
        row.last_error = None
        changed.append(period)
    db_session.flush()
    return changed


def held_periods(
    *, db_session: Session, now: datetime | None = None, release: ReleaseSettings | None = None
) -> list[tuple[str, str]]:
    """Months whose latest events are not in the outbox, and why: a grace period that is not
    over, or a change held back by the audit. Oldest first."""
    now = now or utcnow()
    release = release or ReleaseSettings()
    stored = {row.period: row for row in all_periods(db_session=db_session)}
    held = {period: row.held_reason for period, row in stored.items() if row.held_reason}
    for period, fingerprint in source_fingerprints(db_session=db_session).items():
        opens = release_date(period, release.grace_days)
        row = stored.get(period)
        if (
            opens is not None
            and opens > now
            and (row is None or row.source_fingerprint != fingerprint)
        ):
            held[period] = f"in its grace period until {opens:%Y-%m-%d %H:%M} UTC"
    return sorted(held.items())


def pending_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Periods whose latest revision the hub has not acknowledged, oldest first."""
    query = (
        sa.select(SyncPeriod)
        .where(SyncPeriod.revision > SyncPeriod.acknowledged_revision)
        .order_by(SyncPeriod.period)
        .execution_options(populate_existing=True)
    )
    return list(db_session.scalars(query))


def all_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Every period the outbox knows, oldest first."""
    return list(db_session.scalars(sa.select(SyncPeriod).order_by(SyncPeriod.period)))


def snapshot_to_send(*, db_session: Session, period: str) -> MetricsSnapshot:
    """The stored snapshot of a period's latest revision, with the periods still pending."""
    row = db_session.get(SyncPeriod, period, populate_existing=True)
    if row is None or row.payload is None:
        raise NotFound(f"no snapshot built for {period}")
    others = [p.period for p in pending_periods(db_session=db_session) if p.period != period]
    return MetricsSnapshot.model_validate({**row.payload, "pending_periods": others[:120]})


def record_push(
    *,
    db_session: Session,
    period: str,
    revision: int,
    result: hub_client.PushResult,
    sent_hash: str | None = None,
    now: datetime | None = None,
) -> None:
    """Write down how a push of one revision ended; an acknowledgement never goes backwards.

    A month is acknowledged only for what was sent: the revision must be the stored one with
    the content that was sent (`sent_hash`), or older than the stored one (which stays pending).
    The row is read afresh and locked, so two pushes ending at once both count.
    """
    now = now or utcnow()
    row = db_session.get(SyncPeriod, period, populate_existing=True, with_for_update=True)
    row.attempts += 1
    row.last_attempt_at = now
    if result.acknowledged:
        what_was_sent = (
            revision < row.revision or sent_hash is None or sent_hash == row.content_hash
        )
        if revision > row.acknowledged_revision and what_was_sent:
            row.acknowledged_revision = revision
            row.acknowledged_at = now
        row.last_error = None
    else:
        row.last_error = f"{result.status_code or 'network'}: {result.message}"[:500]
        row.refused = result.outcome in (
            hub_client.PushOutcome.CONFLICT,
            hub_client.PushOutcome.CLIENT_ERROR,
        )
    db_session.flush()


def push_period(
    *, db_session: Session, period: str, key: Ed25519PrivateKey, http: Any = None
) -> hub_client.PushResult:
    """Send a period's latest revision once and record the outcome (the caller commits)."""
    link = get_link(db_session=db_session)
    snapshot = snapshot_to_send(db_session=db_session, period=period)
    result = hub_client.push_snapshot(
        hub_url=link.hub_url, snapshot=snapshot, private_key=key, client=http
    )
    record_push(
        db_session=db_session,
        period=period,
        revision=snapshot.revision,
        result=result,
        sent_hash=content_hash(snapshot),
    )
    return result


def sync_now(
    *,
    db_session: Session,
    key: Ed25519PrivateKey,
    privacy: NoiseSettings | None = None,
    release: ReleaseSettings | None = None,
    wait_seconds: float = 60.0,
) -> dict[str, hub_client.PushResult]:
    """Refresh the outbox and push every pending period once, now, holding the sync lease.

    Every outcome is recorded on the period; one the hub did not take stays pending for the
    next sync (the queued push task retries 5xx and network errors with backoff). Commits
    after every push, so an interruption loses nothing already acknowledged. Waits for a sync
    already running (raises SyncBusy after `wait_seconds`).
    """
    results: dict[str, hub_client.PushResult] = {}
    with sync_lease(db_session=db_session, wait_seconds=wait_seconds) as holder:
        refresh_outbox(db_session=db_session, privacy=privacy, release=release)
        db_session.commit()
        with httpx_client() as http:
            for row in pending_periods(db_session=db_session):
                if not renew_lease(db_session=db_session, holder=holder):
                    break  # our time ran out and another sync took over: it sends the rest
                results[row.period] = push_period(
                    db_session=db_session, period=row.period, key=key, http=http
                )
                db_session.commit()
    return results


def ensure_enrolled_slug(*, db_session: Session, node_slug: str) -> None:
    """Refuse to enroll under another slug while periods are still pending for the first."""
    link = db_session.scalar(sa.select(FederationLink))
    if link and link.node_slug != node_slug and pending_periods(db_session=db_session):
        raise Conflict(f"periods are still pending for {link.node_slug}; sync them first")


def httpx_client() -> Any:
    """One HTTP client for a round of pushes (keeps the connection to the hub open)."""
    import httpx

    return httpx.Client(timeout=10.0)
