"""Routers skip paths that cannot be theirs; every route still resolves as before."""

from typing import Any

import httpx
from starlette.routing import Match

from app.api.main import API_ROUTERS
from app.api.routing import PrefixGuardedRouter


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}


def test_every_prefixed_router_is_guarded(app: Any) -> None:
    for router, _ in API_ROUTERS:
        assert isinstance(router, PrefixGuardedRouter)


def test_guard_refuses_a_path_without_the_prefix(app: Any) -> None:
    router = next(r for r, _ in API_ROUTERS if r.prefix == "/generation-models")
    assert router.matches(_scope("/api/v1/utils/health-check/")) == (Match.NONE, {})


async def test_routes_of_the_last_router_and_slash_redirects_still_resolve(
    client: httpx.AsyncClient,
) -> None:
    health = await client.get("/api/v1/utils/health-check/")
    assert health.status_code == 200
    assert health.json() is True
    redirect = await client.get("/api/v1/generation-models")
    assert redirect.status_code == 307
    assert redirect.headers["location"].endswith("/api/v1/generation-models/")
    assert (await client.get("/api/v1/no-such-thing/")).status_code == 404
