from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi.responses import JSONResponse


def _default(value: Any) -> Any:
    # asyncpg hands back its own UUID subclass, which orjson does not take natively.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OrjsonResponse(JSONResponse):
    """JSON via orjson, which serialises UUIDs and datetimes natively and several times faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default)
