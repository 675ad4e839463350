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


def random_measures(rng: random.Random, *, suppress: float = 0.1) -> dict:
    """Random cell measures with some values suppressed (None)."""

    def count() -> int | None:
        return None if rng.random() < suppress else rng.randint(10, 500)

    return {
        "citizens": count(),
        "events": {
            "submitted": count(),
            "acknowledged": count(),
            "completed": count(),
            "rejected": count(),
            "feedback": count(),
        },
        "completed_within_sla": count(),
        "time_to_acknowledge": [count() for _ in range(DURATION_BUCKETS)],
        "time_to_complete": [count() for _ in range(DURATION_BUCKETS)],
        "satisfaction": [count() for _ in range(5)],
    }


def make_snapshot(
    node: str,
    period: str = "2025-03",
    revision: int = 1,
    *,
    rng: random.Random | None = None,
    services: list[dict] | None = None,
    channels: tuple[Channel, ...] = (Channel.WEB, Channel.SMS),
    segments: tuple[AgeBand, ...] = (AgeBand.A25_54, AgeBand.A75_PLUS),
    **overrides,
) -> MetricsSnapshot:
    """A valid snapshot: for each service a total cell, channel cells and segment cells."""
    rng = rng or random.Random(f"{node}/{period}/{revision}")
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
        cells.append({"service": service["code"], "measures": random_measures(rng)})
        for channel in channels:
            cells.append(
                {
                    "service": service["code"],
                    "channel": channel.value,
                    "measures": random_measures(rng),
                }
            )
        for segment in segments:
            cells.append(
                {
                    "service": service["code"],
                    "segment": segment.value,
                    "measures": random_measures(rng),
                }
            )
    values = {
        "node": node,
        "period": period,
        "revision": revision,
        "k": 10,
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
