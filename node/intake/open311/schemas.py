"""Parse Open311 form fields and query strings into typed values, naming each wrong field."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from node.errors import InvalidInput

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# GeoReport v2: "first 1000 requests" by default; a client may ask for fewer, never for more.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000  # keeps the row offset within what a database integer holds
MAX_IDS = 100


@dataclass
class Contact:
    """The optional citizen fields of a POST; e-mail or phone tie the request to a profile."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    device_id: str | None = None
    account_id: str | None = None

    @property
    def name(self) -> str | None:
        """First and last name together, or None when neither was given."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass
class Submission:
    """A POST requests body, parsed but not yet checked against the service.

    `errors` names every field that could not be read; they are reported together with what the
    service finds wrong, in one answer.
    """

    service_code: str
    description: str = ""
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    media_url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    contact: Contact = field(default_factory=Contact)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class RequestQuery:
    """The filters of GET requests; ids, when given, override every other filter."""

    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    closed: bool | None = None  # None: open and closed alike
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def _one(values: Mapping[str, Sequence[str]], name: str) -> str | None:
    found = values.get(name) or []
    text = found[-1].strip() if found else ""
    return text or None


def _float(values: Mapping[str, Sequence[str]], name: str, errors: dict[str, str]) -> float | None:
    raw = _one(values, name)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        errors[name] = f"{raw!r} is not a number"
        return None
    if number != number or number in (float("inf"), float("-inf")):
        errors[name] = f"{raw!r} is not a finite number"
        return None
    return number


def _list(values: Mapping[str, Sequence[str]], name: str) -> list[str]:
    return [p.strip() for raw in values.get(name) or [] for p in raw.split(",") if p.strip()]


def _raise(errors: dict[str, str]) -> None:
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(f"{name}: {message}", errors)


def parse_submission(values: Mapping[str, Sequence[str]]) -> Submission:
    """Read a form-encoded POST requests body (every key mapped to all its values)."""
    errors: dict[str, str] = {}
    service_code = _one(values, "service_code")
    if service_code is None:
        errors["service_code"] = "required: the code of the service the request is for"
    media_url = _one(values, "media_url")
    if media_url is not None and (
        not re.match(r"^https?://[^\s/]+", media_url) or len(media_url) > 1000
    ):
        errors["media_url"] = "must be an http or https address of at most 1,000 characters"
    attributes: dict[str, Any] = {}
    for key, given in values.items():
        match = _ATTRIBUTE.match(key)
        if match is None:
            continue
        code, as_list = match.group(1), match.group(2) is not None
        cleaned = [v.strip() for v in given if v.strip()]
        previous = attributes.get(code)
        if isinstance(previous, list):  # attribute[x] and attribute[x][] both given
            cleaned = previous + cleaned
            as_list = True
        attributes[code] = cleaned if as_list or len(cleaned) > 1 else (cleaned or [""])[0]
    submission = Submission(
        service_code=service_code or "",
        description=(values.get("description") or [""])[-1],
        lat=_float(values, "lat", errors),
        long=_float(values, "long", errors),
        address=_one(values, "address_string"),
        media_url=media_url,
        attributes=attributes,
        contact=Contact(
            email=_one(values, "email"),
            phone=_one(values, "phone"),
            first_name=_one(values, "first_name"),
            last_name=_one(values, "last_name"),
            device_id=_one(values, "device_id"),
            account_id=_one(values, "account_id"),
        ),
    )
    if submission.address and len(submission.address) > 300:
        errors["address_string"] = "longer than 300 characters"
    submission.errors = errors
    return submission


def parse_datetime(raw: str, name: str) -> datetime:
    """A W3C / ISO 8601 date and time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            f"{name}: {raw!r} is not an ISO 8601 date and time, e.g. 2026-01-31T09:00:00Z",
            {name: "not an ISO 8601 date and time"},
        ) from None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    try:
        # Stored times are UTC: a time at the edge of the calendar may have no UTC equivalent.
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"{name}: {raw!r} is out of range", {name: "out of the range of dates"}
        ) from None
    return value


def _positive(values: Mapping[str, Sequence[str]], name: str, default: int, errors) -> int:
    raw = _one(values, name)
    if raw is None:
        return default
    # isdigit() also accepts digits such as '²' that int() refuses: only ASCII digits here.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        errors[name] = f"{raw!r} is not a positive whole number"
        return default
    return int(raw)


def parse_query(values: Mapping[str, Sequence[str]]) -> RequestQuery:
    """Read the query string of GET requests."""
    errors: dict[str, str] = {}
    query = RequestQuery(
        ids=[i.upper() for i in _list(values, "service_request_id")],
        service_codes=_list(values, "service_code"),
        page=_positive(values, "page", 1, errors),
        page_size=_positive(values, "page_size", DEFAULT_PAGE_SIZE, errors),
    )
    if len(query.ids) > MAX_IDS:
        errors["service_request_id"] = f"at most {MAX_IDS} ids at once"
    if query.page_size > MAX_PAGE_SIZE:
        errors["page_size"] = f"at most {MAX_PAGE_SIZE}"
    if query.page > MAX_PAGE:
        errors["page"] = f"at most {MAX_PAGE:,}"
    for name in ("start_date", "end_date"):
        raw = _one(values, name)
        if raw is not None:
            try:
                setattr(query, name.removesuffix("_date"), parse_datetime(raw, name))
            except InvalidInput as exc:
                errors.update(exc.fields)
    if query.start and query.end and query.start > query.end:
        errors["start_date"] = "after end_date"
    statuses = {s.lower() for s in _list(values, "status")}
    unknown = statuses - {"open", "closed"}
    if unknown:
        errors["status"] = f"{', '.join(sorted(unknown))}: the status is open or closed"
    elif len(statuses) == 1:
        query.closed = statuses == {"closed"}
    _raise(errors)
    return query
