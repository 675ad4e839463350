"""Errors the hub answers with; service functions raise them, the app turns them into JSON."""

from typing import Any


class HubError(Exception):
    """An error with an HTTP status, a short code and a message meant for the client."""

    status = 400
    code = "bad_request"

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


class MalformedRequest(HubError):
    """The body is not JSON, or not the JSON object expected."""

    status = 400
    code = "malformed_json"


class SchemaViolation(HubError):
    """The JSON does not match the wire schema; details name each field."""

    status = 422
    code = "schema_violation"


class Implausible(HubError):
    """Valid JSON that no correct node sends; details name each broken rule and its field."""

    status = 422
    code = "implausible"


class Unauthenticated(HubError):
    """Unsigned, wrongly signed, skewed or replayed request, or a missing or bad token."""

    status = 401
    code = "unauthenticated"


class Forbidden(HubError):
    """An unknown node, a node speaking for another, a used token, or a role that may not."""

    status = 403
    code = "forbidden"


class NotFound(HubError):
    """No such resource."""

    status = 404
    code = "not_found"


class Conflict(HubError):
    """The request contradicts what the hub holds (same revision, other content)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(HubError):
    """The body is over the hub's size limit."""

    status = 413
    code = "payload_too_large"


class HubBusy(HubError):
    """The database is busy with another writer; the client should retry."""

    status = 503
    code = "busy"
