"""Read the API documents the product mirrors (copied from the contract) into JSON schemas."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@dataclass
class SeedDocument:
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Schema tables at the end of the document: name -> {field: (type, description)}
    tables: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    operations: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, summary


def load(name: str) -> SeedDocument:
    text = (HERE / name).read_text()
    doc = SeedDocument()
    decoder = json.JSONDecoder()
    for match in re.finditer(r"Schema of the (?:request|response) body\n", text):
        start = text.index("{", match.end())
        schema, _ = decoder.raw_decode(text[start:])
        title = schema.get("title")
        if title and "properties" in schema:
            doc.schemas.setdefault(title, schema)
    overview = text.split("API Reference", 1)[0]
    for method, path, summary in re.findall(
        r"^(GET|POST|PUT|PATCH|DELETE) (/api/v1/\S+) (.+)$", overview, re.M
    ):
        doc.operations.append((method, path, summary.strip()))
    tables_text = text.split("\nSchemas\n", 1)[1].split("Security schemes", 1)[0]
    current: str | None = None
    lines = [line for line in tables_text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if nxt.startswith("Name Type Description") or nxt.startswith("Type: "):
            current = line.strip()
            doc.tables[current] = {}
            continue
        if current is None or line.startswith("Name Type Description") or line.startswith("Type: "):
            continue
        name, _, rest = line.partition(" ")
        doc.tables[current][name] = _split_type(rest)
    return doc


_SIMPLE_TYPES = ("string(uuid)", "string", "integer", "number", "boolean")


def _split_type(rest: str) -> tuple[str, str]:
    """Split a table cell into (type, description); the type is blank for unions."""
    for simple in _SIMPLE_TYPES:
        if rest == simple or rest.startswith(simple + " "):
            return simple, rest[len(simple) :].strip()
    first, _, remainder = rest.partition(" ")
    # A capitalised first word is a type only when it names an enum (ProviderType, …);
    # otherwise it starts a description ("Maximum API retries …").
    if first.startswith("Array<") or first.endswith(("Type", "Tool", "Capability")):
        return first, remainder.strip()
    return "", rest.strip()
