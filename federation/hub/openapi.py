"""The hub API's OpenAPI 3.1 document, built from the same pydantic models the views use."""

from typing import Any

from pydantic.json_schema import models_json_schema

from federation.hub.accounts.schemas import (
    AccountOut,
    LoginRequest,
    PasswordChanged,
    PasswordRequest,
    TokenInfo,
    TokenOut,
    UserOut,
)
from federation.hub.aggregates.schemas import CellPage, ServiceOut
from federation.hub.evaluations.schemas import EvaluationRunOut
from federation.hub.nodes.schemas import NodeHealth, NodeOut
from federation.protocol.models import (
    EnrollmentRequest,
    EnrollmentResponse,
    IngestReceipt,
    MetricsSnapshot,
)

REF = "#/components/schemas/{model}"
MODELS = [
    (MetricsSnapshot, "validation"),
    (IngestReceipt, "serialization"),
    (EnrollmentRequest, "validation"),
    (EnrollmentResponse, "serialization"),
    (LoginRequest, "validation"),
    (TokenOut, "serialization"),
    (UserOut, "serialization"),
    (AccountOut, "serialization"),
    (TokenInfo, "serialization"),
    (PasswordRequest, "validation"),
    (PasswordChanged, "serialization"),
    (NodeOut, "serialization"),
    (NodeHealth, "serialization"),
    (ServiceOut, "serialization"),
    (CellPage, "serialization"),
    (EvaluationRunOut, "serialization"),
]
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "Short code, e.g. schema_violation."},
        "message": {"type": "string", "description": "What is wrong, naming the field."},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}
SIGNED = [{"nodeSignature": []}]
TOKEN = [{"bearerToken": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Malformed JSON, or a bad query parameter",
        401: "Unsigned, wrongly signed, skewed or replayed request; or missing/bad API token",
        403: "Unknown or suspended node, a node speaking for another, a used token or one "
        "issued for another city or name, a role that may not",
        404: "Not found",
        409: "Same revision with other content, a name taken, or the only admin disabled",
        413: "Body over the size limit",
        422: "Schema violation (details name each field), or implausible figures (details "
        "name each broken rule and its field)",
        503: "Busy; retry later",
    }
    return {str(code): _json("Error", texts[code]) for code in statuses}


def _list_of(name: str, key: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {key: {"type": "array", "items": _ref(name)}},
                }
            }
        },
    }


def _query(name: str, description: str, schema_type: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": schema_type},
    }


def _slug() -> dict[str, Any]:
    return {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}


def _path(name: str, schema_type: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": schema_type}}


def _admin_action(summary: str, parameter: dict[str, Any], out: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": TOKEN,
            "parameters": [parameter],
            "responses": {"200": _json(out, "Done"), **_errors(401, 403, 404, 409)},
        }
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document served at /api/v1/openapi.json."""
    _, defs = models_json_schema(MODELS, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths = {
        "/api/v1/enroll": {
            "post": {
                "summary": "Enroll a node with a one-time token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("EnrollmentRequest")}},
                },
                "responses": {
                    "201": _json("EnrollmentResponse", "Enrolled"),
                    **_errors(400, 403, 409, 413, 422),
                },
            }
        },
        "/api/v1/snapshots": {
            "post": {
                "summary": "Push one signed MetricsSnapshot (highest revision per node and period)",
                "security": SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MetricsSnapshot")}},
                },
                "responses": {
                    "200": _json(
                        "IngestReceipt",
                        "Acknowledged: stored, unchanged, or ignored (lower revision)",
                    ),
                    **_errors(400, 401, 403, 409, 413, 422, 503),
                },
            }
        },
        "/api/v1/auth/tokens": {
            "post": {
                "summary": "Exchange a username and password for a read-API token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("LoginRequest")}},
                },
                "responses": {
                    "201": _json("TokenOut", "Token issued"),
                    **_errors(400, 401, 413, 422),
                },
            },
            "get": {
                "summary": "Every API token, without its value (admin)",
                "security": TOKEN,
                "parameters": [_query("username", "Only this user's tokens")],
                "responses": {
                    "200": _list_of("TokenInfo", "tokens", "Tokens"),
                    **_errors(401, 403),
                },
            },
        },
        "/api/v1/auth/tokens/{token_id}/revoke": _admin_action(
            "Revoke an API token (admins any, others their own); it stops working at once",
            _path("token_id", "integer"),
            "TokenInfo",
        ),
        "/api/v1/users": {
            "get": {
                "summary": "Every hub account (admin)",
                "security": TOKEN,
                "responses": {
                    "200": _list_of("AccountOut", "users", "Accounts"),
                    **_errors(401, 403),
                },
            }
        },
        "/api/v1/users/{username}/password": {
            "post": {
                "summary": "Set an account's password, generated when none is given, and revoke "
                "its tokens (admin)",
                "security": TOKEN,
                "parameters": [_path("username")],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PasswordRequest")}},
                },
                "responses": {
                    "200": _json("PasswordChanged", "Changed"),
                    **_errors(400, 401, 403, 404, 413, 422),
                },
            }
        },
        "/api/v1/users/{username}/disable": _admin_action(
            "Disable an account and revoke its tokens (admin)", _path("username"), "AccountOut"
        ),
        "/api/v1/users/{username}/enable": _admin_action(
            "Enable a disabled account again (admin)", _path("username"), "AccountOut"
        ),
        "/api/v1/nodes/{slug}/suspend": _admin_action(
            "Suspend a node: its pushes are refused (403) and counted, evaluations leave it out "
            "(admin)",
            _slug(),
            "NodeOut",
        ),
        "/api/v1/nodes/{slug}/resume": _admin_action(
            "Resume a suspended node (admin)", _slug(), "NodeOut"
        ),
        "/api/v1/auth/me": {
            "get": {
                "summary": "Who this token belongs to",
                "security": TOKEN,
                "responses": {"200": _json("UserOut", "The user"), **_errors(401)},
            }
        },
        "/api/v1/nodes": {
            "get": {
                "summary": "Every enrolled node",
                "security": TOKEN,
                "responses": {"200": _list_of("NodeOut", "nodes", "Nodes"), **_errors(401)},
            }
        },
        "/api/v1/nodes/{slug}": {
            "get": {
                "summary": "One node",
                "security": TOKEN,
                "parameters": [_slug()],
                "responses": {"200": _json("NodeOut", "The node"), **_errors(401, 404)},
            }
        },
        "/api/v1/nodes/{slug}/health": {
            "get": {
                "summary": "Sync health: last contact, periods held, pending periods",
                "security": TOKEN,
                "parameters": [_slug()],
                "responses": {"200": _json("NodeHealth", "Health"), **_errors(401, 404)},
            }
        },
        "/api/v1/nodes/{slug}/services": {
            "get": {
                "summary": "Services of one node with provenance",
                "security": TOKEN,
                "parameters": [_slug()],
                "responses": {
                    "200": _list_of("ServiceOut", "services", "Services"),
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/services": {
            "get": {
                "summary": "Services of every node with provenance",
                "security": TOKEN,
                "parameters": [_query("node", "Only this node")],
                "responses": {
                    "200": _list_of("ServiceOut", "services", "Services"),
                    **_errors(401),
                },
            }
        },
        "/api/v1/aggregates": {
            "get": {
                "summary": "Stored cells, one row per measure",
                "security": TOKEN,
                "parameters": [
                    _query("service", "Federation-wide service (template name)"),
                    _query("node", "Node slug"),
                    _query("period", "YYYY-MM"),
                    _query("segment", "Age band or all"),
                    _query("channel", "Channel or all"),
                    _query("measure", "Measure name"),
                    _query("limit", "Page size, 1 to 10000 (default 1000)", "integer"),
                    _query("offset", "Rows to skip", "integer"),
                ],
                "responses": {"200": _json("CellPage", "A page of cells"), **_errors(400, 401)},
            }
        },
        "/api/v1/evaluations/latest": {
            "get": {
                "summary": "The latest successful evaluation run, with the nodes it left out and "
                "any newer run that failed",
                "security": TOKEN,
                "responses": {"200": _json("EvaluationRunOut", "The run"), **_errors(401, 404)},
            }
        },
        "/api/v1/evaluations/latest/{table}": {
            "get": {
                "summary": "One result table of the latest successful run (kpis, viability, ...)",
                "security": TOKEN,
                "parameters": [
                    {"name": "table", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "run_id, finished_at, table, warnings and its rows as "
                        "records",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/evaluations": {
            "post": {
                "summary": "Ask for an evaluation now (admin)",
                "security": TOKEN,
                "responses": {"202": _json("EvaluationRunOut", "Pending"), **_errors(401, 403)},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CARMEN federation hub",
            "version": "1",
            "description": "Nodes push signed, anonymised snapshots; coordinators read aggregates.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "nodeSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Carmen-Signature",
                    "description": "Ed25519 over node, method, path, timestamp, nonce and "
                    "body SHA-256, with X-Carmen-Node, X-Carmen-Timestamp, X-Carmen-Nonce.",
                },
            },
        },
    }
