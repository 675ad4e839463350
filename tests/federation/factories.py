"""Builders for registrations, snapshots and signed pushes used across the federation tests."""

import json
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.protocol.models import (
    DURATION_BUCKETS,
    MetricsSnapshot,
    NodeRegistration,
)
from federation.protocol.signing import generate_private_key, public_key_b64, sign_request
from federation.protocol.vocabulary import AgeBand, Channel

SNAPSHOTS_PATH = "/api/v1/snapshots"


@dataclass
class NodeIdentity:
    """A node as a test drives it: its slug, city and private key."""

    slug: str
    city: str
    country: str
    key: Ed25519PrivateKey


def make_identity(slug: str, city: str | None = None, country: str = "IT") -> NodeIdentity:
    """A node identity with a fresh key."""
    return NodeIdentity(slug, city or slug.capitalize(), country, generate_private_key())


def make_registration(identity: NodeIdentity, **overrides) -> NodeRegistration:
    """A valid registration for the identity."""
    values = {
        "node": identity.slug,
        "city": identity.city,
        "country": identity.country,
        "population": 390_000,
        "languages": ["it", "en"],
        "channels": ["web", "app", "sms", "phone"],
        "context": {"internet_use_pct": 83.5, "egov_index_2018": 0.82},
        "population_shares": {"16-24": 0.09, "25-54": 0.42, "55-74": 0.27, "75+": 0.13},
        "public_key": public_key_b64(identity.key),
    }
    values.update(overrides)
    return NodeRegistration.model_validate(values)


def _split(rng: random.Random, count: int, parts: int) -> list[int]:
    """count split at random into parts that add up to it."""
    cuts = sorted(rng.randint(0, count) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, count], strict=True)]


def true_measures(rng: random.Random) -> dict:
    """A service's exact measures for a month, keeping every relation a node's counts keep:
    each histogram splits its count, resolutions in time are some of the resolutions, citizens
    are at most the requests they made."""
    submitted = rng.randint(30, 600)
    acknowledged = rng.randint(submitted // 2, submitted)
    completed = rng.randint(acknowledged // 2, acknowledged)
    feedback = rng.randint(0, completed)
    return {
        "citizens": rng.randint(submitted // 2, submitted),
        "events": {
            "submitted": submitted,
            "acknowledged": acknowledged,
            "completed": completed,
            "rejected": rng.randint(0, submitted - completed),
            "feedback": feedback,
        },
        "completed_within_sla": rng.randint(completed // 2, completed),
        "time_to_acknowledge": _split(rng, acknowledged, DURATION_BUCKETS),
        "time_to_complete": _split(rng, completed, DURATION_BUCKETS),
        "satisfaction": _split(rng, feedback, 5),
    }


def share_of(measures: dict, fraction: float) -> dict:
    """The part of a cell's measures that one channel or segment holds: every count scaled
    down (rounded down, so that the parts never add up to more than the whole)."""

    def scale(value):
        if isinstance(value, dict):
            return {name: scale(item) for name, item in value.items()}
        if isinstance(value, list):
            return [scale(item) for item in value]
        return int(value * fraction)

    return scale(measures)


def suppressed(measures: dict, rng: random.Random, k: int, rate: float) -> dict:
    """Measures as a node sends them: a value below k withheld, and a few more (secondary)."""

    def hide(value):
        if isinstance(value, dict):
            return {name: hide(item) for name, item in value.items()}
        if isinstance(value, list):
            return [hide(item) for item in value]
        return None if value < k or rng.random() < rate else value

    return hide(measures)


def _fractions(rng: random.Random, count: int) -> list[float]:
    """Shares of a whole for count members; with a remainder, they need not cover all of it."""
    weights = [rng.uniform(0.2, 1.0) for _ in range(count + 1)]
    return [weight / sum(weights) for weight in weights[:count]]


def make_snapshot(
    node: str,
    period: str = "2025-03",
    revision: int = 1,
    *,
    rng: random.Random | None = None,
    services: list[dict] | None = None,
    channels: tuple[Channel, ...] = (Channel.WEB, Channel.SMS),
    segments: tuple[AgeBand, ...] = (AgeBand.A25_54, AgeBand.A75_PLUS),
    suppress: float = 0.1,
    **overrides,
) -> MetricsSnapshot:
    """A plausible snapshot: for each service a total cell, channel cells and segment cells
    split from exact counts, values below k withheld and a few more withheld at random."""
    rng = rng or random.Random(f"{node}/{period}/{revision}")
    k = overrides.get("k", 10)
    services = services or [
        {"code": "noise", "template": "noise_report", "template_version": "1.2.0"},
        {
            "code": "bins",
            "template": "bulky_waste",
            "template_version": "0.3.0",
            "cloned_from": {"node": "tallinn", "service": "bulky"},
        },
    ]
    cells = []
    for service in services:
        total = true_measures(rng)
        cells.append({"service": service["code"], "measures": suppressed(total, rng, k, suppress)})
        for dimension, members in (("channel", channels), ("segment", segments)):
            for member, fraction in zip(members, _fractions(rng, len(members)), strict=True):
                cells.append(
                    {
                        "service": service["code"],
                        dimension: member.value,
                        "measures": suppressed(share_of(total, fraction), rng, k, suppress),
                    }
                )
    values = {
        "node": node,
        "period": period,
        "revision": revision,
        "k": k,
        "services": services,
        "cells": cells,
    }
    values.update(overrides)
    return MetricsSnapshot.model_validate(values)


def body_of(snapshot: MetricsSnapshot | dict) -> bytes:
    """The JSON bytes of a snapshot (or of any dict, for malformed ones)."""
    if isinstance(snapshot, MetricsSnapshot):
        return snapshot.model_dump_json(exclude_none=True).encode()
    return json.dumps(snapshot).encode()


def signed_headers(identity: NodeIdentity, body: bytes, **kwargs) -> dict[str, str]:
    """Signature headers for a push of body by identity."""
    headers = sign_request(
        private_key=identity.key,
        node=identity.slug,
        method="POST",
        path=SNAPSHOTS_PATH,
        body=body,
        **kwargs,
    )
    headers["Content-Type"] = "application/json"
    return headers
