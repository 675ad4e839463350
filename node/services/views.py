"""The node's service catalogue with each service's provenance: JSON at /api/v1/services, and a
back-office page at /office/services.

The federation reads the JSON to tell which services of different cities are the same service:
the template and its version, the answers the city gave, and the city a service was cloned from.
"""

from typing import Any

from flask import Blueprint, render_template
from flask_babel import get_locale

from node.auth import staff_required
from node.database import db_session
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import ServiceSpec

bp = Blueprint("services_api", __name__, template_folder="templates")


def service_document(service: Service) -> dict[str, Any]:
    """One catalogue entry as the API shows it."""
    spec = catalogue.spec_of(service)
    return {
        "code": service.code,
        "name": service.name,
        "domain": service.domain,
        "identity": spec.identity,
        "template": spec.template,
        "channels": service.channels,
        "sla_hours": service.sla_hours,
        "sms_keyword": service.sms_keyword,
        "events": {kind: event.value for kind, event in spec.event_map.items()},
        "provenance": service.provenance,
    }


@bp.app_template_global()
def service_texts(service: Service) -> ServiceSpec:
    """A service's name, description, questions and choices in the page's language."""
    return catalogue.spec_of(service, language=str(get_locale()))


@bp.get("/api/v1/services")
def list_services() -> dict[str, Any]:
    """Every active service of the node, with its provenance (null when hand-written)."""
    services = catalogue.list_active(db_session=db_session())
    return {"services": [service_document(s) for s in services]}


@bp.get("/api/v1/services/<code>")
def show_service(code: str) -> tuple[dict[str, Any], int] | dict[str, Any]:
    """One active service, or a JSON 404."""
    service = db_session().get(Service, code)
    if service is None or not service.active:
        return {"error": "Not Found", "message": f"no service with code {code!r}"}, 404
    return service_document(service)


@bp.get("/office/services")
@staff_required()
def office_services() -> str:
    """The back office's list of services: what each is, and where it came from."""
    services = catalogue.list_active(db_session=db_session())
    return render_template("services/office_list.html", services=services)
