"""Routers skip paths that cannot be theirs; every route still resolves as before."""

import inspect
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordRequestForm
from starlette.routing import Match

from app.api.main import API_ROUTERS
from app.api.routing import PrefixGuardedRouter


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}


def test_every_prefixed_router_is_guarded(app: Any) -> None:
    for router in API_ROUTERS:
        assert isinstance(router, PrefixGuardedRouter)


def test_guard_refuses_a_path_without_the_prefix(app: Any) -> None:
    router = next(r for r in API_ROUTERS if r.prefix == "/generation-models")
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


def _dependency_calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _runs_on_the_loop(call: Any) -> bool:
    # Security schemes are instances with an `async def __call__`.
    return any(
        inspect.iscoroutinefunction(c) or inspect.isasyncgenfunction(c)
        for c in (call, getattr(call, "__call__", None))  # noqa: B004
    )


def test_no_route_sends_work_to_the_thread_pool(app: Any) -> None:
    """FastAPI runs a plain `def` endpoint or dependency in the thread pool: a thread hand-off
    per request. Only the login form class (FastAPI's own) may be one."""
    allowed = {OAuth2PasswordRequestForm}
    offenders = set()
    for included in app.routes:
        for route in getattr(getattr(included, "original_router", None), "routes", ()):
            if not isinstance(route, APIRoute):
                continue
            if not inspect.iscoroutinefunction(route.endpoint):
                offenders.add(f"{route.path} endpoint {route.endpoint.__qualname__}")
            for call in _dependency_calls(route.dependant):
                if call not in allowed and not _runs_on_the_loop(call):
                    offenders.add(f"{route.path} dependency {call!r}")
    assert not offenders, sorted(offenders)
