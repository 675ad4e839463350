"""Enrollment tokens, node registration, and the nodes' health as the hub sees it."""

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.hub.errors import Conflict, Forbidden, HubError, NotFound
from federation.hub.nodes.models import EnrollmentToken, Node, StoredSnapshot
from federation.hub.nodes.schemas import NodeHealth, NodeOut, StoredPeriod
from federation.hub.plausibility import check_registration
from federation.protocol.models import (
    COUNTRY_PATTERN,
    NODE_SLUG_PATTERN,
    PERIOD_PATTERN,
    NodeRegistration,
    default_node_slug,
)

USED = "this enrollment token has been used already"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_enrollment_token(
    *,
    db_session: Session,
    city: str,
    country: str,
    now: datetime,
    ttl_hours: int,
    slug: str | None = None,
    pilot_start: str | None = None,
) -> tuple[str, EnrollmentToken]:
    """Issue a one-time token for one city's node under one name; the plain token is returned
    once. The name defaults to the node's own default (country-city, e.g. it-bologna)."""
    city = city.strip()
    country = country.strip().upper()
    if not city:
        raise HubError("a city name is needed")
    if not re.match(COUNTRY_PATTERN, country):
        raise HubError(f"{country!r} is not a 2-letter Eurostat country code")
    slug = (slug or default_node_slug(city=city, country=country)).strip()
    if not re.match(NODE_SLUG_PATTERN, slug):
        raise HubError(f"{slug!r} is not a node name (lower-case letters, digits and dashes)")
    if pilot_start is not None and not re.match(PERIOD_PATTERN, pilot_start):
        raise HubError(f"the pilot start {pilot_start!r} is not a month YYYY-MM")
    plain = secrets.token_urlsafe(24)
    record = EnrollmentToken(
        token_hash=_digest(plain),
        city=city,
        country=country,
        node_slug=slug,
        pilot_start=pilot_start,
        created_at=now,
        expires_at=now + timedelta(hours=ttl_hours),
    )
    db_session.add(record)
    db_session.flush()
    return plain, record


def enroll_node(
    *, db_session: Session, token: str, registration: NodeRegistration, now: datetime
) -> Node:
    """Register a node with a one-time token bound to its city, country and name.

    The token is spent by one conditional UPDATE, so however many requests carry it at once,
    one enrolls and every other is refused.
    """
    record = db_session.scalar(
        sa.select(EnrollmentToken).where(EnrollmentToken.token_hash == _digest(token))
    )
    if record is None:
        raise Forbidden("unknown enrollment token")
    if record.used_at is not None:
        raise Forbidden(USED)
    if record.expires_at <= now:
        raise Forbidden("this enrollment token has expired; ask the hub for a new one")
    if (
        record.city.casefold() != registration.city.casefold()
        or record.country != registration.country
    ):
        raise Forbidden(
            f"this enrollment token is for {record.city} ({record.country}), "
            f"not {registration.city} ({registration.country})"
        )
    if record.node_slug is not None and record.node_slug != registration.node:
        raise Forbidden(
            f"this enrollment token is for the node {record.node_slug!r}, "
            f"not {registration.node!r}: enroll under that name or ask for another token"
        )
    check_registration(registration)
    spent = db_session.execute(
        sa.update(EnrollmentToken)
        .where(EnrollmentToken.id == record.id, EnrollmentToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise Forbidden(USED)
    if db_session.scalar(sa.select(Node.id).where(Node.slug == registration.node)) is not None:
        raise Conflict(f"a node named {registration.node!r} is enrolled already")
    if (
        db_session.scalar(sa.select(Node.id).where(Node.public_key == registration.public_key))
        is not None
    ):
        raise Conflict("this public key belongs to another node; generate a key for this node")
    node = Node(
        slug=registration.node,
        city=registration.city,
        country=registration.country,
        population=registration.population,
        languages=list(registration.languages),
        channels=[channel.value for channel in registration.channels],
        context={name.value: float(value) for name, value in registration.context.items()},
        population_shares=(
            {band: float(share) for band, share in registration.population_shares.items()}
            if registration.population_shares is not None
            else None
        ),
        public_key=registration.public_key,
        schema_version=registration.schema_version,
        pilot_start=record.pilot_start,
        enrolled_at=now,
        pending_periods=[],
    )
    db_session.add(node)
    db_session.flush()
    db_session.execute(
        sa.update(EnrollmentToken).where(EnrollmentToken.id == record.id).values(node_id=node.id)
    )
    return node


def get_node(*, db_session: Session, slug: str) -> Node:
    """The node with this slug."""
    node = db_session.scalar(sa.select(Node).where(Node.slug == slug))
    if node is None:
        raise NotFound(f"no node {slug!r}")
    return node


def list_nodes(*, db_session: Session) -> list[Node]:
    """Every node, by slug."""
    return list(db_session.scalars(sa.select(Node).order_by(Node.slug)))


# Readers of the warning each node carries, connected by the domains above nodes when the app is
# built (the evaluations tell which nodes their last run left out), so nodes need not import them.
_warning_readers: list[Callable[..., dict[str, str]]] = []


def read_warnings_from(reader: Callable[..., dict[str, str]]) -> None:
    """Take node warnings from `reader(db_session=...)` too, a slug -> message mapping."""
    if reader not in _warning_readers:
        _warning_readers.append(reader)


def node_warnings(*, db_session: Session) -> dict[str, str]:
    """Per node slug, the warning shown with it (nodes without one have no entry)."""
    warnings: dict[str, str] = {}
    for reader in _warning_readers:
        warnings.update(reader(db_session=db_session))
    return warnings


def node_out(node: Node, *, earliest_period: str, warning: str | None = None) -> NodeOut:
    """A node as the read API shows it, with why the evaluation served left it out, if it did."""
    return NodeOut(
        node=node.slug,
        node_id=node.id,
        city=node.city,
        country=node.country,
        population=node.population,
        languages=node.languages,
        channels=node.channels,
        context=node.context,
        population_shares=node.population_shares,
        enrolled_at=node.enrolled_at,
        pilot_start=node.pilot_start or earliest_period,
        active=node.active,
        suspended_pushes=node.suspended_pushes,
        last_sync_at=node.last_sync_at,
        pending_periods=node.pending_periods,
        evaluation_warning=warning,
    )


def node_health(*, db_session: Session, node: Node) -> NodeHealth:
    """Last contact, the periods held with their revisions, and the periods reported pending."""
    stored = db_session.execute(
        sa.select(StoredSnapshot.period, StoredSnapshot.revision, StoredSnapshot.updated_at)
        .where(StoredSnapshot.node_id == node.id)
        .order_by(StoredSnapshot.period)
    ).all()
    return NodeHealth(
        node=node.slug,
        active=node.active,
        suspended_pushes=node.suspended_pushes,
        last_sync_at=node.last_sync_at,
        last_stored_at=node.last_stored_at,
        pending_periods=node.pending_periods,
        latest_period=stored[-1].period if stored else None,
        stored_periods=[
            StoredPeriod(period=row.period, revision=row.revision, updated_at=row.updated_at)
            for row in stored
        ],
    )


def set_active(*, db_session: Session, slug: str, active: bool) -> Node:
    """Suspend or resume a node: a suspended node's pushes are refused with 403 and counted, and
    evaluations leave its data out until it is resumed."""
    node = get_node(db_session=db_session, slug=slug)
    node.active = active
    return node
