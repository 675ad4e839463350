"""Words and formats every web page shows, in the reader's language (the cases' own words are
in node/cases/display.py)."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, flash, request
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l

CHANNEL_LABELS = {
    "web": _l("web portal"),
    "app": _l("mobile app"),
    "sms": _l("SMS"),
    "email": _l("e-mail"),
    "phone": _l("phone"),
    "counter": _l("counter"),
    "staff": _l("city staff"),
}

# Short field messages the domain layer uses, so that the portal can show them translated.
FIELD_MESSAGES = {
    "required": _l("This field is required."),
    "already used": _l("Another profile already uses this."),
    "unknown code": _l("No case has this tracking code."),
    "same case": _l("A case cannot duplicate itself."),
    "circular": _l("That case is itself a duplicate of this one."),
    "too long": _l("This is too long."),
    "wrong password": _l("The password is wrong."),
    "at least 10 characters": _l("Choose at least 10 characters."),
    "unknown attribute": _l("This question is not part of the service."),
}


def field_message(message: str) -> str:
    """The reader's-language form of a domain field message, or the message itself."""
    label = FIELD_MESSAGES.get(message)
    return str(label) if label is not None else message


def place_errors(form: Any, exc: Any, *, field_of: Callable[[str], str] | None = None) -> None:
    """Show each field error of a domain refusal (an InvalidInput's `fields`) next to the form
    field `field_of` names for it; one no field shows is flashed with the whole message."""
    for name, message in exc.fields.items():
        field = getattr(form, field_of(name) if field_of else name, None)
        if field is not None:
            field.errors = [*field.errors, field_message(message)]
        else:
            flash(str(exc), "error")


def label(table: dict[Any, Any], value: Any) -> str:
    """A code in words from a table of labels, else the code with spaces."""
    found = table.get(value)
    return str(found) if found is not None else str(value).replace("_", " ")


def language_url(code: str) -> str:
    """This page in another language, keeping its other query parameters."""
    args = request.args.to_dict()
    args["lang"] = code
    # The script root is the city's prefix in ASP mode; request.path is within the app.
    return f"{request.script_root}{request.path}?{urlencode(args)}"


def map_settings() -> dict[str, Any]:
    """What a map needs to know of the node's settings, for its data- attributes."""
    config = current_app.config
    return {
        "tiles": config["MAP_TILE_URL"],
        "attribution": config["MAP_TILE_ATTRIBUTION"],
        "center": list(config["MAP_CENTER"]) if config["MAP_CENTER"] else None,
        "zoom": config["MAP_ZOOM"],
    }


def init_app(app: Flask) -> None:
    """Make the labels and formats available to every template."""
    app.jinja_env.filters["channel_label"] = lambda v: label(CHANNEL_LABELS, v) if v else ""
    app.jinja_env.filters["when"] = lambda v: format_datetime(v, "d MMM yyyy, HH:mm") if v else ""
    app.jinja_env.globals["language_url"] = language_url
    app.jinja_env.globals["get_locale"] = get_locale
