"""Reading request bodies: JSON parsing and pydantic validation with errors that name the field."""

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from federation.hub.errors import HubError, MalformedRequest, SchemaViolation

M = TypeVar("M", bound=BaseModel)


def parse_json(body: bytes) -> dict[str, Any]:
    """Decode a JSON object from bytes, or raise MalformedRequest saying where it broke."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise MalformedRequest(f"the body must be a JSON object, not {type(data).__name__}")
    if _holds_nul(data):
        raise MalformedRequest(NUL_MESSAGE)
    return data


# PostgreSQL text cannot hold U+0000, and no field of the API needs it: refused at the door
# rather than failing the database statement that would store or compare it.
NUL_MESSAGE = "the request holds a NUL character (U+0000), which the hub does not accept"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def refuse_nul_in_url() -> None:
    """Refuse a path or query string holding a NUL character, before any view reads it."""
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        raise HubError(NUL_MESSAGE)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate data against a model, or raise SchemaViolation naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "(body)",
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise SchemaViolation(
            f"{model.__name__} schema violation at {first['field']}: {first['message']}{more}",
            details=details,
        ) from None


def parse_json_body(model: type[M]) -> M:
    """The current request's JSON body, validated against a model."""
    return validate(model, parse_json(request.get_data(cache=True)))
