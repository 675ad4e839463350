"""A small HTTP client for nodes: enroll, push one signed snapshot, classify the answer.

There is no retry loop here on purpose: the node's Celery task owns retries (with backoff), and
decides from the outcome whether to retry (`PushOutcome.RETRY`) or to stop and report a bug
(`CONFLICT`, `CLIENT_ERROR`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from federation.protocol.models import (
    EnrollmentRequest,
    EnrollmentResponse,
    IngestReceipt,
    IngestStatus,
    MetricsSnapshot,
    NodeRegistration,
)
from federation.protocol.signing import sign_request

SNAPSHOTS_PATH = "/api/v1/snapshots"
ENROLL_PATH = "/api/v1/enroll"


class PushOutcome(StrEnum):
    """How a push ended, from the node's point of view."""

    ACKNOWLEDGED = "acknowledged"  # stored, or the same revision was already there
    IGNORED_LOWER_REVISION = "ignored_lower_revision"  # acknowledged; the hub holds a newer one
    CONFLICT = "conflict"  # 409: same revision, other content; a node bug, do not retry
    CLIENT_ERROR = "client_error"  # other 4xx: the request is wrong, do not retry
    RETRY = "retry"  # 5xx, network error, timeout: send again later


@dataclass(frozen=True)
class PushResult:
    """The outcome of one push, with the hub's receipt when it acknowledged."""

    outcome: PushOutcome
    status_code: int | None
    message: str
    receipt: IngestReceipt | None = None

    @property
    def acknowledged(self) -> bool:
        """True when the node may drop this revision from its outbox."""
        return self.outcome in (PushOutcome.ACKNOWLEDGED, PushOutcome.IGNORED_LOWER_REVISION)


class EnrollmentError(Exception):
    """The hub refused an enrollment; the message is the hub's."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def snapshot_body(snapshot: MetricsSnapshot) -> bytes:
    """The bytes sent for a snapshot (suppressed values left out)."""
    return snapshot.model_dump_json(exclude_none=True).encode("utf-8")


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return response.text[:500]


def classify_response(response: httpx.Response) -> PushResult:
    """Turn the hub's HTTP answer to a push into a PushResult."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            receipt = IngestReceipt.model_validate_json(response.content)
        except ValidationError as exc:
            # The hub said yes but sent something unreadable: a hub bug; try again later.
            return PushResult(PushOutcome.RETRY, status, f"unreadable receipt: {exc}")
        outcome = (
            PushOutcome.IGNORED_LOWER_REVISION
            if receipt.status is IngestStatus.IGNORED_LOWER_REVISION
            else PushOutcome.ACKNOWLEDGED
        )
        return PushResult(outcome, status, receipt.status.value, receipt)
    message = _error_message(response)
    if status == 409:
        return PushResult(PushOutcome.CONFLICT, status, message)
    if status in (408, 425, 429) or status >= 500:
        return PushResult(PushOutcome.RETRY, status, message)
    if 400 <= status < 500:
        return PushResult(PushOutcome.CLIENT_ERROR, status, message)
    return PushResult(PushOutcome.RETRY, status, f"unexpected status {status}: {message}")


def push_snapshot(
    *,
    hub_url: str,
    snapshot: MetricsSnapshot,
    private_key: Ed25519PrivateKey,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> PushResult:
    """Sign and send one snapshot to the hub; never raises for HTTP or network trouble."""
    body = snapshot_body(snapshot)
    headers = sign_request(
        private_key=private_key, node=snapshot.node, method="POST", path=SNAPSHOTS_PATH, body=body
    )
    headers["Content-Type"] = "application/json"
    url = hub_url.rstrip("/") + SNAPSHOTS_PATH
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(url, content=body, headers=headers)
        else:
            response = client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return PushResult(PushOutcome.RETRY, None, f"{type(exc).__name__}: {exc}")
    return classify_response(response)


def enroll(
    *, hub_url: str, token: str, registration: NodeRegistration, timeout: float = 10.0
) -> EnrollmentResponse:
    """Register this node with the hub using a one-time enrollment token."""
    request = EnrollmentRequest(token=token, registration=registration)
    url = hub_url.rstrip("/") + ENROLL_PATH
    try:
        response = httpx.post(
            url,
            content=request.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise EnrollmentError(f"cannot reach the hub at {hub_url}: {exc}") from exc
    if response.status_code != 201:
        raise EnrollmentError(_error_message(response), response.status_code)
    return EnrollmentResponse.model_validate_json(response.content)
