"""Ingest: authenticate a signed request, then keep per (node, period) the highest revision."""

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.hub.aggregates import service as aggregates
from federation.hub.errors import Conflict, Forbidden, SchemaViolation, Unauthenticated
from federation.hub.ingest.models import SeenNonce
from federation.hub.nodes.models import Node, StoredSnapshot
from federation.hub.plausibility import check_snapshot
from federation.protocol.models import (
    IngestReceipt,
    IngestStatus,
    MetricsSnapshot,
    canonical_exclude,
)
from federation.protocol.signing import (
    SignatureError,
    public_key_from_b64,
    read_signature_headers,
    verify_request,
)


def authenticate_request(
    *,
    db_session: Session,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    max_skew_seconds: int,
) -> Node:
    """The node that signed this request; refuses unsigned, forged, skewed and replayed ones."""
    try:
        signed = read_signature_headers(headers)
    except SignatureError as exc:
        raise Unauthenticated(str(exc)) from None
    node = db_session.scalar(sa.select(Node).where(Node.slug == signed.node))
    if node is None:
        raise Forbidden(f"unknown node {signed.node!r}: enroll it first")
    try:
        verify_request(
            public_key=public_key_from_b64(node.public_key),
            headers=headers,
            method=method,
            path=path,
            body=body,
            now=now.timestamp(),
            max_skew_seconds=max_skew_seconds,
        )
    except SignatureError as exc:
        raise Unauthenticated(str(exc)) from None
    # Checked once the signature holds, so that only the node itself moves its refused count.
    if not node.active:
        raise NodeSuspended(node)
    seen = db_session.scalar(
        sa.select(SeenNonce.id).where(SeenNonce.node_id == node.id, SeenNonce.nonce == signed.nonce)
    )
    if seen is not None:
        raise Unauthenticated("replayed request: this nonce has been used already")
    # The unique constraint catches the race of two copies arriving at once (IntegrityError).
    db_session.add(SeenNonce(node_id=node.id, nonce=signed.nonce, seen_at=now))
    return node


class NodeSuspended(Forbidden):
    """A correctly signed push of a suspended node: refused, and counted."""

    def __init__(self, node: Node) -> None:
        super().__init__(
            f"node {node.slug!r} is suspended: its pushes are refused until the hub resumes it"
        )
        self.node_id = node.id


def count_suspended_push(*, db_session: Session, node_id: int) -> None:
    """Count one refused push of a suspended node (in its own transaction: nothing else of the
    refused request is kept)."""
    db_session.execute(
        sa.update(Node).where(Node.id == node_id).values(suspended_pushes=Node.suspended_pushes + 1)
    )


def content_digest(snapshot: MetricsSnapshot) -> str:
    """SHA-256 of the snapshot's content, independent of key order and of pending_periods."""
    # The models hold no dicts, so pydantic's JSON follows field order: a canonical form.
    text = snapshot.model_dump_json(exclude=canonical_exclude(snapshot, "pending_periods"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ingest_snapshot(
    *,
    db_session: Session,
    node: Node,
    snapshot: MetricsSnapshot,
    now: datetime,
    min_k: int,
    earliest_period: str,
    max_skew_seconds: int,
) -> IngestReceipt:
    """Check a snapshot, then keep the highest revision per (node, period): store, no-op,
    ignore, or refuse (409 for other content under a held revision, 422 when implausible)."""
    if snapshot.node != node.slug:
        raise Forbidden(f"node {node.slug!r} cannot send a snapshot for node {snapshot.node!r}")
    if snapshot.k < min_k:
        raise SchemaViolation(
            f"k={snapshot.k} is below the federation's threshold k={min_k}: "
            "suppress with the k the hub gave at enrollment",
            details=[{"field": "k", "message": f"must be at least {min_k}", "type": "policy"}],
        )
    check_snapshot(
        snapshot,
        pilot_start=node.pilot_start or earliest_period,
        now=now,
        max_skew_seconds=max_skew_seconds,
    )
    # Serialise ingests of one node on PostgreSQL (SQLite serialises writers by itself). NO KEY
    # UPDATE, not UPDATE: the nonce and cell rows' foreign keys hold KEY SHARE locks on this
    # row, and FOR UPDATE would deadlock two pushes that each inserted their nonce first.
    if db_session.get_bind().dialect.name != "sqlite":
        db_session.execute(
            sa.select(Node.id).where(Node.id == node.id).with_for_update(key_share=True)
        )
    digest = content_digest(snapshot)
    stored = db_session.scalar(
        sa.select(StoredSnapshot).where(
            StoredSnapshot.node_id == node.id, StoredSnapshot.period == snapshot.period
        )
    )
    if stored is not None and snapshot.revision == stored.revision:
        if stored.content_digest != digest:
            raise Conflict(
                f"revision {snapshot.revision} of {snapshot.period} was received before with "
                "other content; a changed snapshot needs a higher revision",
                details=[{"field": "revision", "stored_revision": stored.revision}],
            )
        status = IngestStatus.UNCHANGED
    elif stored is not None and snapshot.revision < stored.revision:
        status = IngestStatus.IGNORED_LOWER_REVISION
    else:
        stored = _store(
            db_session=db_session,
            node=node,
            stored=stored,
            snapshot=snapshot,
            digest=digest,
            now=now,
        )
        node.last_stored_at = now
        status = IngestStatus.STORED
    node.last_sync_at = now
    node.pending_periods = list(snapshot.pending_periods)
    return IngestReceipt(
        status=status,
        node=node.slug,
        period=snapshot.period,
        revision=snapshot.revision,
        stored_revision=stored.revision,
    )


def _store(
    *,
    db_session: Session,
    node: Node,
    stored: StoredSnapshot | None,
    snapshot: MetricsSnapshot,
    digest: str,
    now: datetime,
) -> StoredSnapshot:
    dp = snapshot.differential_privacy
    values = {
        "revision": snapshot.revision,
        "content_digest": digest,
        "k": snapshot.k,
        "dp_epsilon": float(dp.epsilon) if dp is not None else None,
        "updated_at": now,
    }
    if stored is None:
        stored = StoredSnapshot(node_id=node.id, period=snapshot.period, received_at=now, **values)
        db_session.add(stored)
        db_session.flush()
    else:
        for name, value in values.items():
            setattr(stored, name, value)
    aggregates.replace_cells(db_session=db_session, stored=stored, snapshot=snapshot)
    aggregates.record_services(db_session=db_session, node=node, snapshot=snapshot, now=now)
    return stored


def prune_nonces(*, db_session: Session, now: datetime, older_than_seconds: int) -> int:
    """Forget nonces older than the window: their requests are refused by timestamp anyway."""
    cutoff = now - timedelta(seconds=older_than_seconds)
    result = db_session.execute(sa.delete(SeenNonce).where(SeenNonce.seen_at < cutoff))
    return result.rowcount or 0
