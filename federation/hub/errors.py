"""Errors the hub answers with; service functions raise them, the app turns them into JSON."""

from typing import Any


class HubError(Exception):
    """An error with an HTTP status, a short code and a message meant for the client."""

    status = 400
    code = "bad_request"

    def __init_subclass__(
        cls, *, status: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        # Each kind of error names its HTTP status and code in its class line; a subclass of a
        # kind keeps that kind's.
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.code = code or cls.code

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class MalformedRequest(HubError, status=400, code="malformed_json"):
    """The body is not JSON, or not the JSON object expected."""


class SchemaViolation(HubError, status=422, code="schema_violation"):
    """The JSON does not match the wire schema; details name each field."""


class Implausible(HubError, status=422, code="implausible"):
    """Valid JSON that no correct node sends; details name each broken rule and its field."""


class Unauthenticated(HubError, status=401, code="unauthenticated"):
    """Unsigned, wrongly signed, skewed or replayed request, or a missing or bad token."""


class Forbidden(HubError, status=403, code="forbidden"):
    """An unknown node, a node speaking for another, a used token, or a role that may not."""


class NotFound(HubError, status=404, code="not_found"):
    """No such resource."""


class Conflict(HubError, status=409, code="conflict"):
    """The request contradicts what the hub holds (same revision, other content)."""


class PayloadTooLarge(HubError, status=413, code="payload_too_large"):
    """The body is over the hub's size limit."""


class HubBusy(HubError, status=503, code="busy"):
    """The database is busy with another writer; the client should retry."""
