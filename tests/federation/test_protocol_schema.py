"""The JSON Schema files in the repository are what the wire models generate."""

from federation.protocol.schema import SCHEMA_DIR, render_schemas


def test_committed_json_schema_matches_the_models():
    rendered = render_schemas()
    for file_name, text in rendered.items():
        path = SCHEMA_DIR / file_name
        assert path.exists(), f"{file_name} missing: run python -m federation.protocol.schema"
        assert path.read_text(encoding="utf-8") == text, (
            f"{file_name} drifted from the models: run python -m federation.protocol.schema"
        )
    on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")}
    assert on_disk == set(rendered), "stale schema files: remove them and regenerate"


def test_snapshot_schema_forbids_additional_properties_everywhere():
    import json

    schema = json.loads(render_schemas()["metrics_snapshot.v2.json"])
    objects = [schema, *schema["$defs"].values()]
    for definition in objects:
        if definition.get("type") == "object":
            assert definition.get("additionalProperties") is False, definition.get("title")
