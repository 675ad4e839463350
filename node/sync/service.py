"""The outbox and the push: which periods changed, what to send, and sending it to the hub.

The building blocks live beside it: `aggregation` (events to counts), `snapshots`
(suppression, noise, identities; the one place the build calls `suppression`) and
`enrollment` (keys and the hub link). Their public names are importable from here too.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from federation.protocol import client as hub_client
from federation.protocol.models import MetricsSnapshot
from node.database import utcnow
from node.errors import Conflict, NotFound
from node.sync.aggregation import Aggregates, aggregate, aggregate_periods, source_fingerprints
from node.sync.enrollment import (
    default_slug,
    enroll_with_hub,
    get_link,
    load_or_create_key,
    registration,
    save_link,
)
from node.sync.models import FederationLink, SyncPeriod
from node.sync.snapshots import (
    NoiseSettings,
    add_noise,
    build_snapshot,
    build_snapshots,
    content_hash,
    noise_settings,
    service_identities,
)

# The building blocks' public names, so that callers read the whole of sync from here.
__all__ = [
    "Aggregates",
    "NoiseSettings",
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
    "httpx_client",
    "load_or_create_key",
    "noise_settings",
    "pending_periods",
    "push_period",
    "record_push",
    "refresh_outbox",
    "registration",
    "save_link",
    "service_identities",
    "snapshot_to_send",
    "source_fingerprints",
    "sync_now",
]


# ---------------------------------------------------------------- outbox


def refresh_outbox(
    *, db_session: Session, now: datetime | None = None, privacy: NoiseSettings | None = None
) -> list[str]:
    """Rebuild the snapshot of every month whose events changed; a changed one gets a revision.

    Returns the periods that got a new revision.
    """
    link = get_link(db_session=db_session)
    now = now or utcnow()
    stored = {p.period: p for p in db_session.scalars(sa.select(SyncPeriod))}
    fingerprints = source_fingerprints(db_session=db_session)
    dirty = sorted(
        period
        for period, fingerprint in fingerprints.items()
        if period not in stored or stored[period].source_fingerprint != fingerprint
    )
    for period in dirty:
        stored.setdefault(
            period,
            SyncPeriod(
                period=period, revision=0, acknowledged_revision=0, attempts=0, epsilon_spent=0.0
            ),
        )
    snapshots = build_snapshots(
        db_session=db_session,
        node_slug=link.node_slug,
        periods=dirty,
        k=link.k,
        revisions={period: stored[period].revision + 1 for period in dirty},
        privacy=privacy,
    )
    changed = []
    for period, snapshot in snapshots.items():
        row = stored[period]
        digest = content_hash(snapshot)
        row.source_fingerprint = fingerprints[period]
        row.built_at = now
        if snapshot.differential_privacy is not None:
            row.epsilon_spent += snapshot.differential_privacy.epsilon
        if digest != row.content_hash:
            row.revision += 1
            row.content_hash = digest
            row.payload = snapshot.model_dump(mode="json", exclude_none=True)
            row.refused = False
            row.last_error = None
            changed.append(period)
        db_session.add(row)
    db_session.flush()
    return changed


def pending_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Periods whose latest revision the hub has not acknowledged, oldest first."""
    query = (
        sa.select(SyncPeriod)
        .where(SyncPeriod.revision > SyncPeriod.acknowledged_revision)
        .order_by(SyncPeriod.period)
    )
    return list(db_session.scalars(query))


def all_periods(*, db_session: Session) -> list[SyncPeriod]:
    """Every period the outbox knows, oldest first."""
    return list(db_session.scalars(sa.select(SyncPeriod).order_by(SyncPeriod.period)))


def snapshot_to_send(*, db_session: Session, period: str) -> MetricsSnapshot:
    """The stored snapshot of a period's latest revision, with the periods still pending."""
    row = db_session.get(SyncPeriod, period)
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
    now: datetime | None = None,
) -> None:
    """Write down how a push of one revision ended; an acknowledgement never goes backwards."""
    now = now or utcnow()
    row = db_session.get(SyncPeriod, period)
    row.attempts += 1
    row.last_attempt_at = now
    if result.acknowledged:
        if revision > row.acknowledged_revision:
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
    record_push(db_session=db_session, period=period, revision=snapshot.revision, result=result)
    return result


def sync_now(
    *, db_session: Session, key: Ed25519PrivateKey, privacy: NoiseSettings | None = None
) -> dict[str, hub_client.PushResult]:
    """Refresh the outbox and push every pending period once, now.

    Every outcome is recorded on the period; one the hub did not take stays pending for the
    next sync (the queued push task retries 5xx and network errors with backoff). Commits
    after every push, so an interruption loses nothing already acknowledged.
    """
    refresh_outbox(db_session=db_session, privacy=privacy)
    db_session.commit()
    results: dict[str, hub_client.PushResult] = {}
    with httpx_client() as http:
        for row in pending_periods(db_session=db_session):
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
