"""The app's OpenAPI document against the contract documents, schema by schema, field by field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.seed import SeedDocument, load

GENERATION_MODELS = load("generation_models_seed.txt")
PROMPTS = load("prompts_seed.txt")


def _normalise(schema: Any) -> Any:
    """Drop `"default": null` (absent and null defaults mean the same) and nothing else."""
    if isinstance(schema, dict):
        return {k: _normalise(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_normalise(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def components(app: Any) -> dict[str, Any]:
    return dict(app.openapi()["components"]["schemas"])


@pytest.mark.parametrize("name", sorted(GENERATION_MODELS.schemas))
def test_json_schema_matches_contract(components: dict[str, Any], name: str) -> None:
    expected = _normalise(GENERATION_MODELS.schemas[name])
    actual = _normalise(components[name])
    assert set(actual.get("properties", {})) == set(expected.get("properties", {}))
    for field, spec in expected.get("properties", {}).items():
        assert actual["properties"][field] == spec, f"{name}.{field}"
    assert sorted(actual.get("required", [])) == sorted(expected.get("required", []))
    assert actual.get("title") == expected.get("title")
    assert actual.get("description") == expected.get("description")
    assert actual == expected


def _table_cases(doc: SeedDocument) -> list[tuple[str, str]]:
    return [
        (schema, field) for schema, fields in sorted(doc.tables.items()) for field in sorted(fields)
    ]


@pytest.mark.parametrize("schema", sorted(GENERATION_MODELS.tables))
def test_schema_table_fields_match(components: dict[str, Any], schema: str) -> None:
    """Every schema of the contract's table exists with exactly its fields."""
    assert schema in components, f"{schema} missing from the OpenAPI document"
    fields = GENERATION_MODELS.tables[schema]
    if not fields:  # an enum
        assert "enum" in components[schema]
        return
    assert set(components[schema]["properties"]) == set(fields)


@pytest.mark.parametrize(("schema", "field"), _table_cases(GENERATION_MODELS))
def test_schema_table_types_and_descriptions(
    components: dict[str, Any], schema: str, field: str
) -> None:
    type_name, description = GENERATION_MODELS.tables[schema][field]
    spec = components[schema]["properties"][field]
    assert spec.get("description", "") == description
    if type_name in ("string", "integer", "number", "boolean"):
        assert spec.get("type") == type_name
    elif type_name == "string(uuid)":
        assert (spec.get("type"), spec.get("format")) == ("string", "uuid")
    elif type_name.startswith("Array<") and type_name != "Array<>":
        item = type_name[len("Array<") : -1]
        assert spec.get("type") == "array"
        assert spec["items"].get("$ref", spec["items"].get("type", "")).endswith(item)
    elif type_name and not type_name.startswith("Array"):
        assert spec.get("$ref", "").endswith(f"/{type_name}")
    elif not type_name:
        # The contract leaves the type blank for unions, nullable fields, objects and literals.
        scalar = spec.get("type") in ("string", "integer", "number", "boolean")
        assert not scalar or "const" in spec or "enum" in spec


@pytest.mark.parametrize(("method", "path", "summary"), GENERATION_MODELS.operations)
def test_operation_summaries(app: Any, method: str, path: str, summary: str) -> None:
    operation = app.openapi()["paths"][path][method.lower()]
    assert operation["summary"] == summary


def test_admin_operations_declare_oauth2(app: Any) -> None:
    paths = app.openapi()["paths"]
    for method, path in [
        ("post", "/api/v1/generation-models/"),
        ("put", "/api/v1/generation-models/{id}"),
        ("delete", "/api/v1/generation-models/{id}"),
    ]:
        schemes = {name for item in paths[path][method]["security"] for name in item}
        assert "OAuth2PasswordBearer" in schemes
    assert "security" not in paths["/api/v1/generation-models/"]["get"]


def test_generation_create_matches_prompts_contract() -> None:
    from app.models.generation import GenerationCreate

    expected = _normalise(load("prompts_seed.txt").schemas["GenerationCreate"])
    actual = _normalise(
        GenerationCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    actual.pop("$defs", None)
    assert set(actual["properties"]) == set(expected["properties"])
    for field, spec in expected["properties"].items():
        assert actual["properties"][field] == spec, field
    assert actual.get("required", []) == expected.get("required", [])
    assert (actual["title"], actual["description"]) == (expected["title"], expected["description"])


@pytest.mark.parametrize("name", sorted(PROMPTS.schemas))
def test_prompts_json_schema_matches_contract(components: dict[str, Any], name: str) -> None:
    expected = _normalise(PROMPTS.schemas[name])
    actual = _normalise(components[name])
    for field, spec in expected.get("properties", {}).items():
        assert actual["properties"][field] == spec, f"{name}.{field}"
    assert actual == expected


@pytest.mark.parametrize(("method", "path", "summary"), PROMPTS.operations)
def test_prompts_operation_summaries(app: Any, method: str, path: str, summary: str) -> None:
    assert app.openapi()["paths"][path][method.lower()]["summary"] == summary


def test_prompt_responses_are_open_objects(app: Any) -> None:
    paths = app.openapi()["paths"]
    for path in ("/api/v1/prompts/create-for-generation", "/api/v1/prompts/create-editing-prompt"):
        schema = paths[path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("additionalProperties") is True and schema.get("type") == "object"
