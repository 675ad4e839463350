"""Generate services from cookiecutter templates, clone them between cities, merge template updates.

This is the tooling's public face: the `carmen service` commands and the node's tests import from
here, while the work is done in `catalogue` (templates and their versions), `answers`,
`rendering`, `services` (generate, clone, provenance) and `update` (diff and three-way merge).
The tooling knows nothing of the node: the caller passes the node's city answers and offered
channels. It imports only the standard library, cookiecutter and the federation's vocabulary.
"""

from service_templates.answers import (
    city_answers,
    default_channels,
    offered_channels,
    parse_assignments,
)
from service_templates.catalogue import (
    DEFAULT_CITY_VARIABLES,
    PACKAGE_TEMPLATES,
    TEMPLATE_META,
    TEMPLATES_ENV,
    TOOL_DIR,
    TemplateError,
    TemplateInfo,
    get_template,
    list_templates,
    read_template,
    template_version,
    templates_root,
)
from service_templates.rendering import render
from service_templates.services import (
    PROVENANCE_FILE,
    PROVENANCE_FORMAT,
    Check,
    clone_service,
    list_services,
    new_service,
    read_provenance,
    service_files,
)
from service_templates.update import (
    CONFLICT_MARKERS,
    FileChange,
    UpdateReport,
    abort_update,
    diff_service,
    finish_update,
    update_service,
)

__all__ = [
    "CONFLICT_MARKERS",
    "DEFAULT_CITY_VARIABLES",
    "PACKAGE_TEMPLATES",
    "PROVENANCE_FILE",
    "PROVENANCE_FORMAT",
    "TEMPLATES_ENV",
    "TEMPLATE_META",
    "TOOL_DIR",
    "Check",
    "FileChange",
    "TemplateError",
    "TemplateInfo",
    "UpdateReport",
    "abort_update",
    "city_answers",
    "clone_service",
    "default_channels",
    "diff_service",
    "finish_update",
    "get_template",
    "list_services",
    "list_templates",
    "new_service",
    "offered_channels",
    "parse_assignments",
    "read_provenance",
    "read_template",
    "render",
    "service_files",
    "template_version",
    "templates_root",
    "update_service",
]
