"""Reading request bodies: JSON parsing and pydantic validation with errors that name the field."""

import json
import math
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from federation.hub.errors import HubError, MalformedRequest, PayloadTooLarge, SchemaViolation

M = TypeVar("M", bound=BaseModel)


# Bounds on what the JSON parser builds: the wire models nest six levels deep and their largest
# integer has 19 digits. Deeper or longer input is refused before it can cost the parser (or
# Python's 4,300-digit integer limit and recursion limit) anything.
MAX_JSON_DEPTH = 32
MAX_INTEGER_DIGITS = 32


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise MalformedRequest(
            f"the body holds an integer of more than {MAX_INTEGER_DIGITS} digits"
        )
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedRequest("the body holds a number too large to be finite")
    return value


def _constant(name: str) -> None:
    raise MalformedRequest(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_number, parse_constant=_constant)


def parse_json(body: bytes) -> dict[str, Any]:
    """Decode a JSON object from bytes, or raise MalformedRequest saying where it broke."""
    try:
        text = body.decode("utf-8-sig")  # a leading BOM is tolerated, as json.loads does
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8 text") from None
    try:
        data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedRequest(DEPTH_MESSAGE) from None
    _check_tree(data)
    if not isinstance(data, dict):
        raise MalformedRequest(f"the body must be a JSON object, not {type(data).__name__}")
    return data


# PostgreSQL text cannot hold U+0000, and no field of the API needs it: refused at the door
# rather than failing the database statement that would store or compare it.
NUL_MESSAGE = "the request holds a NUL character (U+0000), which the hub does not accept"
DEPTH_MESSAGE = f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep"


def _check_tree(data: Any) -> None:
    """Refuse a decoded body nested too deeply or holding a NUL, walking it without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise MalformedRequest(NUL_MESSAGE)
            continue
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise MalformedRequest(DEPTH_MESSAGE)
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


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


def too_large() -> PayloadTooLarge:
    """The error of a body over the hub's limit."""
    limit = current_app.config["MAX_BODY_BYTES"]
    return PayloadTooLarge(f"the body is larger than the hub's limit of {limit} bytes")


def read_body() -> bytes:
    """The current request's body, or PayloadTooLarge once it passes MAX_BODY_BYTES.

    The app's MAX_CONTENT_LENGTH is one byte more than the limit: Werkzeug refuses a longer
    Content-Length before reading, and stops a chunked body after that many bytes (where it
    would otherwise hand over the first bytes silently), which tells a body over the limit.
    """
    body = request.get_data(cache=True)
    if len(body) > current_app.config["MAX_BODY_BYTES"]:
        raise too_large()
    return body


def parse_json_body(model: type[M]) -> M:
    """The current request's JSON body, validated against a model."""
    return validate(model, parse_json(read_body()))
