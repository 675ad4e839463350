"""Domain errors raised by service functions; views translate them for their clients."""


class NodeError(Exception):
    """Base of the node's domain errors; the message is meant for the person who caused it."""


class NotFound(NodeError):
    """The thing does not exist, or the caller may not know that it exists."""


class Forbidden(NodeError):
    """The caller may know the thing exists but may not do this."""


class Conflict(NodeError):
    """The request contradicts the current state, e.g. an illegal status move."""


class InvalidInput(NodeError):
    """One or more fields are wrong; `fields` maps each field name to its message."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}
