"""Reading request bodies: JSON parsing and pydantic validation with errors that name the field."""

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from federation.hub.errors import MalformedRequest, SchemaViolation

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
    return data


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
