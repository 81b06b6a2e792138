import gc
from typing import Any

import httpx


async def test_health_check(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/utils/health-check/")
    assert r.status_code == 200
    assert r.json() is True


async def test_cors_preflight_allows_configured_origin(client: httpx.AsyncClient) -> None:
    r = await client.options(
        "/api/v1/generation-models/",
        headers={
            "Origin": "http://admin.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://admin.example.com"


async def test_cors_refuses_other_origin(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/utils/health-check/", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
    spec = (await client.get("/api/v1/openapi.json")).json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert "generation-models-read_generation_models" in ids


async def test_startup_heap_is_frozen_out_of_full_collections(app: Any) -> None:
    # Full collections walking the ~280k start-up objects stalled the loop 100-200 ms.
    assert gc.get_freeze_count() > 10_000
