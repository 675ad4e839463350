"""JSON Schema of the wire models, generated into this folder.

Regenerate after changing a wire model with::

    python -m federation.protocol.schema

A test fails when the files here differ from what the models generate.
"""

import json
from pathlib import Path

from pydantic import BaseModel

from federation.protocol.models import (
    SCHEMA_VERSION,
    SNAPSHOT_SCHEMA_VERSION,
    EnrollmentRequest,
    EnrollmentResponse,
    IngestReceipt,
    MetricsSnapshot,
    NodeRegistration,
)

SCHEMA_DIR = Path(__file__).parent
WIRE_MODELS: dict[str, type[BaseModel]] = {
    "node_registration": NodeRegistration,
    "metrics_snapshot": MetricsSnapshot,
    "enrollment_request": EnrollmentRequest,
    "enrollment_response": EnrollmentResponse,
    "ingest_receipt": IngestReceipt,
}


# The latest version of each model; the snapshot's schema also takes its earlier versions.
VERSIONS: dict[str, int] = {"metrics_snapshot": SNAPSHOT_SCHEMA_VERSION}


def schema_file_name(name: str) -> str:
    """File name of one model's schema, versioned."""
    return f"{name}.v{VERSIONS.get(name, SCHEMA_VERSION)}.json"


def render_schemas() -> dict[str, str]:
    """The JSON Schema text of every wire model, keyed by file name."""
    rendered = {}
    for name, model in WIRE_MODELS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://carmen.example/federation/{schema_file_name(name)}"
        rendered[schema_file_name(name)] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into folder and return their paths."""
    written = []
    for file_name, text in render_schemas().items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
