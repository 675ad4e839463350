"""Webhook signatures as SMS gateways compute them (Twilio's scheme).

The gateway takes the full URL it posted to (scheme, host, path and query string), appends every
POST parameter's name and value, sorted by name (a repeated name: its distinct values, sorted),
computes an HMAC-SHA1 of that text keyed with the account's auth token, and sends it
base64-encoded in the `X-Twilio-Signature` header. Only someone holding the token can produce it,
and it changes with any change of URL or parameter.
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

HEADER = "X-Twilio-Signature"


def signed_text(url: str, params: Mapping[str, Sequence[str] | str]) -> str:
    """The text that is signed: the URL, then each name and value in order."""
    parts = [url]
    for name in sorted(params):
        values = params[name]
        for value in sorted({values} if isinstance(values, str) else set(values)):
            parts.append(f"{name}{value}")
    return "".join(parts)


def compute(url: str, params: Mapping[str, Sequence[str] | str], token: str) -> str:
    """The signature a gateway holding `token` sends for this request."""
    digest = hmac.new(
        token.encode("utf-8"), signed_text(url, params).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid(
    url: str, params: Mapping[str, Sequence[str] | str], token: str, signature: str | None
) -> bool:
    """Whether the signature is the one the token gives, compared in constant time."""
    if not signature or not token:
        return False
    return hmac.compare_digest(compute(url, params, token), signature.strip())
