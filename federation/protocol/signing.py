"""Ed25519 request signing between a node and the hub.

The node signs, with its private key, one canonical string built from the request:

    carmen-signature-v1
    <node slug>
    <METHOD>
    <path, with ?query when there is one>
    <timestamp: Unix seconds>
    <nonce>
    <SHA-256 of the body, lower-case hex>

joined by "\\n", encoded as UTF-8. The signature travels base64-encoded in the headers below,
with the node, timestamp and nonce. The hub holds only public keys; it refuses a timestamp more
than five minutes away from its clock and a nonce it has seen before (it stores nonces).

A node calls::

    headers = sign_request(private_key=key, node="bologna", method="POST",
                           path="/api/v1/snapshots", body=body_bytes)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEME = "carmen-signature-v1"
HEADER_NODE = "X-Carmen-Node"
HEADER_TIMESTAMP = "X-Carmen-Timestamp"
HEADER_NONCE = "X-Carmen-Nonce"
HEADER_SIGNATURE = "X-Carmen-Signature"
SIGNATURE_HEADERS = (HEADER_NODE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
MAX_SKEW_SECONDS = 300

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")


class SignatureError(Exception):
    """A request whose signature cannot be accepted; the message says why."""


class UnsignedRequest(SignatureError):
    """The request lacks one of the signature headers, or one is malformed."""


class InvalidSignature(SignatureError):
    """The signature does not match the request and the node's public key."""


class TimestampOutOfWindow(SignatureError):
    """The signed timestamp is too far from the verifier's clock."""


@dataclass(frozen=True)
class SignatureHeaders:
    """The signature headers of a request, read but not yet verified."""

    node: str
    timestamp: int
    nonce: str
    signature: bytes


def generate_private_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM (keep the file mode 0600)."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    """Load a private key written by private_key_to_pem."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64: the form NodeRegistration carries."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Load a public key from its raw base64 form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key is not base64") from None
    return Ed25519PublicKey.from_public_bytes(raw)


def body_digest(body: bytes) -> str:
    """SHA-256 of the body, lower-case hex."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    *, node: str, method: str, path: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """The exact bytes that are signed."""
    lines = (SCHEME, node, method.upper(), path, str(timestamp), nonce, body_digest(body))
    return "\n".join(lines).encode("utf-8")


def sign_request(
    *,
    private_key: Ed25519PrivateKey,
    node: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that sign one request; send the body bytes exactly as given here."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = secrets.token_hex(16) if nonce is None else nonce
    message = canonical_request(
        node=node, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    signature = base64.b64encode(private_key.sign(message)).decode("ascii")
    return {
        HEADER_NODE: node,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature,
    }


def read_signature_headers(headers: Mapping[str, str]) -> SignatureHeaders:
    """Read the signature headers (the verifier then looks up the node's key)."""
    values = {name: headers.get(name) for name in SIGNATURE_HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise UnsignedRequest(f"the request is not signed: missing {', '.join(missing)}")
    if not _TIMESTAMP.match(values[HEADER_TIMESTAMP] or ""):
        raise UnsignedRequest(f"{HEADER_TIMESTAMP} must be Unix seconds")
    if not _NONCE.match(values[HEADER_NONCE] or ""):
        raise UnsignedRequest(f"{HEADER_NONCE} must be 16 to 128 characters of [A-Za-z0-9_-]")
    try:
        signature = base64.b64decode(values[HEADER_SIGNATURE] or "", validate=True)
    except (binascii.Error, ValueError):
        raise UnsignedRequest(f"{HEADER_SIGNATURE} is not base64") from None
    return SignatureHeaders(
        node=values[HEADER_NODE] or "",
        timestamp=int(values[HEADER_TIMESTAMP] or 0),
        nonce=values[HEADER_NONCE] or "",
        signature=signature,
    )


def verify_request(
    *,
    public_key: Ed25519PublicKey,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
    max_skew_seconds: int = MAX_SKEW_SECONDS,
) -> SignatureHeaders:
    """Check a request's signature and timestamp; raise a SignatureError saying what is wrong.

    The nonce is returned for the caller to check against the nonces it has already seen.
    """
    signed = read_signature_headers(headers)
    message = canonical_request(
        node=signed.node,
        method=method,
        path=path,
        timestamp=signed.timestamp,
        nonce=signed.nonce,
        body=body,
    )
    try:
        public_key.verify(signed.signature, message)
    except _CryptoInvalidSignature:
        raise InvalidSignature(
            f"the signature does not match this request and the key of node {signed.node!r}"
        ) from None
    now = time.time() if now is None else now
    skew = signed.timestamp - now
    if abs(skew) > max_skew_seconds:
        raise TimestampOutOfWindow(
            f"the request timestamp is {abs(skew):.0f} s "
            f"{'ahead of' if skew > 0 else 'behind'} the hub's clock "
            f"(at most {max_skew_seconds} s allowed)"
        )
    return signed
