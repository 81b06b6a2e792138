"""The baseline: a bare Starlette + asyncpg app serving the generation-model rows.

Same table, same rows, same JSON shape as the API's public GET endpoints, with nothing but one
pooled query and orjson per request. Run with uvicorn; `BENCH_DSN` names the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    "id, name, icon, provider, provider_config, provider_capabilities, fallback_provider, "
    "fallback_provider_config, fallback_provider_capabilities, tool_types, recommended, beta, "
    "max_output_width, max_output_height, max_size_pixels"
)
LIST_SQL = (
    f"SELECT {COLUMNS}, count(*) OVER () AS _total FROM generative_model "  # noqa: S608
    "ORDER BY created_at, id OFFSET $1 LIMIT $2"
)
COUNT_SQL = "SELECT count(*) FROM generative_model"
DETAIL_SQL = f"SELECT {COLUMNS} FROM generative_model WHERE id = $1"  # noqa: S608
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "32"))


def _json(content: Any, status_code: int = 200) -> Response:
    # default=str: asyncpg's UUID is a subclass orjson does not serialise natively.
    return Response(orjson.dumps(content, default=str), status_code, media_type="application/json")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DSN"], min_size=POOL_SIZE, max_size=POOL_SIZE, init=_init_connection
    )
    try:
        yield
    finally:
        await app.state.pool.close()


async def list_models(request: Request) -> Response:
    skip = int(request.query_params.get("skip", 0))
    limit = int(request.query_params.get("limit", 100))
    rows = await request.app.state.pool.fetch(LIST_SQL, skip, limit)
    if rows:
        count = rows[0]["_total"]
        data = [{k: v for k, v in row.items() if k != "_total"} for row in rows]
    else:
        count = await request.app.state.pool.fetchval(COUNT_SQL)
        data = []
    return _json({"data": data, "count": count})


async def read_model(request: Request) -> Response:
    try:
        model_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        return _json({"detail": "invalid id"}, 422)
    row = await request.app.state.pool.fetchrow(DETAIL_SQL, model_id)
    if row is None:
        return _json({"detail": "Generation model not found"}, 404)
    return _json(dict(row))


async def health(request: Request) -> Response:
    return _json(True)


app = Starlette(
    routes=[
        Route("/api/v1/generation-models/", list_models),
        Route("/api/v1/generation-models/{id}", read_model),
        Route("/api/v1/utils/health-check/", health),
    ],
    lifespan=lifespan,
)
