"""OpenAPI document tuned to match the contract the API mirrors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def _strip_null_defaults(schema: Any) -> None:
    # The contract documents optional nullable fields without `"default": null`; an absent
    # default means the same to clients and keeps the document identical to the contract.
    if isinstance(schema, dict):
        if "default" in schema and schema["default"] is None:
            del schema["default"]
        for value in schema.values():
            _strip_null_defaults(value)
    elif isinstance(schema, list):
        for item in schema:
            _strip_null_defaults(item)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                routes=app.routes,
                description=app.description,
            )
            _strip_null_defaults(document.get("components", {}).get("schemas", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
