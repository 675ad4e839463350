"""Ed25519 request signing: what is signed, and what the verifier refuses."""

import pytest

from federation.protocol.signing import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    InvalidSignature,
    TimestampOutOfWindow,
    UnsignedRequest,
    generate_private_key,
    private_key_from_pem,
    private_key_to_pem,
    public_key_b64,
    public_key_from_b64,
    sign_request,
    verify_request,
)

BODY = b'{"node":"bologna"}'
NOW = 1_750_000_000


def signed(key, **kwargs):
    values = {
        "node": "bologna",
        "method": "POST",
        "path": "/api/v1/snapshots",
        "body": BODY,
        "timestamp": NOW,
    }
    values.update(kwargs)
    return sign_request(private_key=key, **values)


def verify(key, headers, **kwargs):
    values = {"method": "POST", "path": "/api/v1/snapshots", "body": BODY, "now": NOW}
    values.update(kwargs)
    return verify_request(public_key=key.public_key(), headers=headers, **values)


def test_a_signed_request_verifies_with_the_nodes_public_key():
    key = generate_private_key()
    result = verify(key, signed(key))
    assert result.node == "bologna"
    assert result.timestamp == NOW


def test_keys_survive_serialisation():
    key = generate_private_key()
    again = private_key_from_pem(private_key_to_pem(key))
    public = public_key_from_b64(public_key_b64(key))
    headers = signed(again)
    verify_request(
        public_key=public,
        headers=headers,
        method="POST",
        path="/api/v1/snapshots",
        body=BODY,
        now=NOW,
    )


@pytest.mark.parametrize(
    "tamper",
    [
        {"body": b'{"node":"tallinn"}'},
        {"path": "/api/v1/other"},
        {"method": "PUT"},
    ],
)
def test_any_change_to_the_signed_parts_breaks_the_signature(tamper):
    key = generate_private_key()
    with pytest.raises(InvalidSignature):
        verify(key, signed(key), **tamper)


def test_a_changed_nonce_or_timestamp_header_breaks_the_signature():
    key = generate_private_key()
    for header, value in ((HEADER_NONCE, "f" * 32), (HEADER_TIMESTAMP, str(NOW + 1))):
        headers = signed(key)
        headers[header] = value
        with pytest.raises(InvalidSignature):
            verify(key, headers)


def test_another_key_does_not_verify():
    with pytest.raises(InvalidSignature):
        verify(generate_private_key(), signed(generate_private_key()))


def test_timestamps_more_than_five_minutes_off_are_refused_either_way():
    key = generate_private_key()
    verify(key, signed(key), now=NOW + 299)
    with pytest.raises(TimestampOutOfWindow, match="behind"):
        verify(key, signed(key), now=NOW + 360)
    with pytest.raises(TimestampOutOfWindow, match="ahead"):
        verify(key, signed(key), now=NOW - 360)


def test_missing_or_garbled_headers_read_as_unsigned():
    key = generate_private_key()
    headers = signed(key)
    del headers[HEADER_SIGNATURE]
    with pytest.raises(UnsignedRequest, match=HEADER_SIGNATURE):
        verify(key, headers)
    headers = signed(key)
    headers[HEADER_NONCE] = "short"
    with pytest.raises(UnsignedRequest, match=HEADER_NONCE):
        verify(key, headers)


def test_every_request_gets_a_fresh_nonce():
    key = generate_private_key()
    assert signed(key, nonce=None)[HEADER_NONCE] != signed(key, nonce=None)[HEADER_NONCE]
