from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """JSON via orjson, which serialises UUIDs and datetimes natively and several times faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
