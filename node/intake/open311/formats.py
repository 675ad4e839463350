"""Open311 documents as the specification writes them, in JSON and in XML."""

import json
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from xml.etree import ElementTree

from flask import Response

from node.cases.models import CLOSED_STATUSES
from node.intake.free_text import redact
from node.intake.open311.service import RequestView
from node.intake.publication import known_about, location, media_url
from node.services.models import Service
from node.services.schemas import ServiceSpec

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML writes a list as repeated elements named after one item of it.
LIST_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "services": "service",
    "service_requests": "request",
    "errors": "error",
}
# Characters XML 1.0 cannot carry at all, even escaped: dropped rather than sent broken.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _fill(element: ElementTree.Element, value: Any, name: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item, key)
    elif isinstance(value, list):
        item_name = LIST_ITEMS[name]
        for item in value:
            _fill(ElementTree.SubElement(element, item_name), item, item_name)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))


def render(payload: Any, *, fmt: str, root: str, status: int = 200) -> Response:
    """A response holding `payload`; in XML, lists go in `root` as items named by LIST_ITEMS."""
    if fmt == "xml":
        element = ElementTree.Element(root)
        _fill(element, payload, root)
        body = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
    else:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(body, status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(errors: list[tuple[int, str]], *, fmt: str, status: int) -> Response:
    """The specification's error document: a list of code and description."""
    rows = [{"code": code, "description": description} for code, description in errors]
    return render(rows, fmt=fmt if fmt in FORMATS else "json", root="errors", status=status)


def timestamp(value: datetime | None, zone: tzinfo) -> str | None:
    """ISO 8601 with the offset of the node's time zone, to the second."""
    return value.astimezone(zone).isoformat(timespec="seconds") if value else None


def service_row(service: Service, spec: ServiceSpec) -> dict[str, Any]:
    """One entry of GET services."""
    keywords = [spec.domain.value] + ([spec.sms_keyword.lower()] if spec.sms_keyword else [])
    return {
        "service_code": service.code,
        "service_name": spec.name,
        "description": spec.description,
        "metadata": bool(spec.attributes),
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": spec.domain.value,
    }


def service_definition(spec: ServiceSpec) -> dict[str, Any]:
    """GET services/{code}: the service's attributes, in their stated order."""
    ranked = sorted(
        enumerate(spec.attributes, start=1),
        key=lambda pair: (pair[1].order if pair[1].order is not None else pair[0], pair[0]),
    )
    return {
        "service_code": spec.code,
        "attributes": [
            {
                "variable": attribute.variable,
                "code": attribute.code,
                "datatype": attribute.datatype.value,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description,
                "order": attribute.order if attribute.order is not None else position,
                "description": attribute.description,
                "values": [{"key": v.key, "name": v.name} for v in attribute.values],
            }
            for position, attribute in ranked
        ],
    }


def request_row(
    view: RequestView,
    zone: tzinfo,
    region: str | None,
    photo_link: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """One entry of GET requests, from a case, as much of it as the reader may see.

    A field the reader may not see is empty, never missing, so that clients find every field.
    `region` reads national phone numbers in the texts that are redacted; `photo_link` makes
    the public thumbnail's address from its token.
    """
    case, shown = view.case, view.shown
    known = known_about(case) if shown.redacted else []

    def text(value: str | None) -> str | None:
        return (redact(value, known=known, region=region) or None) if shown.redacted else value

    address, lat, long = location(case, shown)
    return {
        "service_request_id": case.tracking_code,
        "status": "closed" if case.status in CLOSED_STATUSES else "open",
        "status_notes": text(view.status_notes),
        "service_name": view.service_name,
        "service_code": case.service_code,
        "description": text(case.description) if shown.description else None,
        "agency_responsible": case.department.name,
        "service_notice": None,
        "requested_datetime": timestamp(case.created_at, zone),
        "updated_datetime": timestamp(case.updated_at, zone),
        "expected_datetime": timestamp(case.due_at, zone),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": long,
        "media_url": media_url(
            case,
            shown,
            photo_url=photo_link(view.photo_token) if photo_link and view.photo_token else None,
        ),
    }
