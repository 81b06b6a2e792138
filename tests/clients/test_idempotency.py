"""Idempotency-Key on creating POSTs: replay, conflict, per-credential scope, concurrent
duplicates, server errors freeing the key, expiry."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI

from app.api.deps import CurrentPrincipal
from app.api.idempotency import Idempotent
from app.core.errors import Conflict
from tests.clients.apps import app_client

if TYPE_CHECKING:
    from tests.conftest import TestUser


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def count_orgs(client: httpx.AsyncClient, user: TestUser, name: str) -> int:
    r = await client.get("/api/v1/organizations/", headers=user.headers)
    return sum(1 for org in r.json()["data"] if org["name"] == name)


async def test_same_key_same_body_replays_first_response(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    headers = {**user.headers, **key()}
    first = await client.post(
        "/api/v1/organizations/", json={"name": "acme", "description": "d"}, headers=headers
    )
    # Same content, other key order and layout: the same request.
    again = await client.post(
        "/api/v1/organizations/",
        content=b'{ "description": "d",  "name": "acme" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count_orgs(client, user, "acme") == 1


async def test_same_key_other_body_is_a_conflict(client: httpx.AsyncClient, user: TestUser) -> None:
    headers = {**user.headers, **key()}
    r = await client.post("/api/v1/organizations/", json={"name": "one"}, headers=headers)
    assert r.status_code == 201
    r = await client.post("/api/v1/organizations/", json={"name": "two"}, headers=headers)
    assert r.status_code == 409
    assert "different request" in r.json()["detail"]
    assert await count_orgs(client, user, "two") == 0


async def test_keys_are_scoped_per_credential(client: httpx.AsyncClient, make_user: Any) -> None:
    alice, bob = await make_user(), await make_user()
    shared = key()
    a = await client.post(
        "/api/v1/organizations/", json={"name": "x"}, headers={**alice.headers, **shared}
    )
    b = await client.post(
        "/api/v1/organizations/", json={"name": "x"}, headers={**bob.headers, **shared}
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in b.headers


async def test_concurrent_identical_requests_create_one(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    headers = {**user.headers, **key()}
    name = f"race-{uuid.uuid4().hex[:6]}"
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/organizations/", json={"name": name}, headers=headers)
            for _ in range(5)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" in r.headers for r in responses) == 4
    assert await count_orgs(client, user, name) == 1


async def test_requests_without_key_are_not_deduplicated(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for _ in range(2):
        r = await client.post(
            "/api/v1/organizations/", json={"name": "nokey"}, headers=user.headers
        )
        assert r.status_code == 201
    assert await count_orgs(client, user, "nokey") == 2


async def test_malformed_key_is_a_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        "/api/v1/organizations/",
        json={"name": "x"},
        headers={**user.headers, "Idempotency-Key": "has spaces"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def slow_job_routes(calls: list[str], delay: float = 0.3) -> Any:
    """A route that opts in, counts its executions and fails on request."""

    def customize(app: FastAPI) -> None:
        @app.post("/jobs", status_code=202, dependencies=[Idempotent], tags=["jobs"])
        async def create_job(body: dict[str, Any], principal: CurrentPrincipal) -> dict[str, Any]:
            calls.append(body["name"])
            await asyncio.sleep(delay)
            if body.get("explode") and calls.count(body["name"]) == 1:
                raise RuntimeError("first attempt crashes")
            if body.get("refuse") and calls.count(body["name"]) == 1:
                raise Conflict("not yet")
            return {"job": uuid.uuid4().hex, "n": len(calls)}

    return customize


async def test_concurrent_duplicates_of_a_slow_job_run_it_once(
    database_url: str, user: TestUser
) -> None:
    calls: list[str] = []
    async with app_client(database_url, slow_job_routes(calls)) as c:
        headers = {**user.headers, **key()}
        responses = await asyncio.gather(
            *(c.post("/jobs", json={"name": "slow"}, headers=headers) for _ in range(3))
        )
    assert calls == ["slow"]
    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1


async def test_duplicate_gets_409_when_first_is_still_running(
    database_url: str, user: TestUser
) -> None:
    calls: list[str] = []
    async with app_client(
        database_url, slow_job_routes(calls, delay=0.5), IDEMPOTENCY_WAIT_SECONDS=0.05
    ) as c:
        headers = {**user.headers, **key()}
        first = asyncio.create_task(c.post("/jobs", json={"name": "s"}, headers=headers))
        await asyncio.sleep(0.15)
        second = await c.post("/jobs", json={"name": "s"}, headers=headers)
        assert second.status_code == 409
        assert second.headers["Retry-After"] == "1"
        assert "in progress" in second.json()["detail"]
        assert (await first).status_code == 202
        third = await c.post("/jobs", json={"name": "s"}, headers=headers)
        assert third.status_code == 202
        assert third.headers["Idempotent-Replayed"] == "true"
    assert calls == ["s"]


async def test_server_error_frees_the_key(database_url: str, user: TestUser) -> None:
    calls: list[str] = []
    async with app_client(database_url, slow_job_routes(calls, delay=0)) as c:
        headers = {**user.headers, **key()}
        failed = await c.post("/jobs", json={"name": "e", "explode": True}, headers=headers)
        assert failed.status_code == 500
        retried = await c.post("/jobs", json={"name": "e", "explode": True}, headers=headers)
        assert retried.status_code == 202
        assert "Idempotent-Replayed" not in retried.headers
    assert calls == ["e", "e"]


async def test_an_error_is_not_replayed(database_url: str, user: TestUser) -> None:
    """A 4xx changed nothing and may not be what a retry gets (a transient DNS failure, a
    membership granted since): the retry runs."""
    calls: list[str] = []
    async with app_client(database_url, slow_job_routes(calls, delay=0)) as c:
        headers = {**user.headers, **key()}
        refused = await c.post("/jobs", json={"name": "r", "refuse": True}, headers=headers)
        assert refused.status_code == 409
        retried = await c.post("/jobs", json={"name": "r", "refuse": True}, headers=headers)
        assert retried.status_code == 202
        again = await c.post("/jobs", json={"name": "r", "refuse": True}, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"
    assert calls == ["r", "r"]


async def test_the_order_of_a_repeated_query_parameter_is_part_of_the_request(
    client: httpx.AsyncClient, user: TestUser, make_org: Any
) -> None:
    # The last value counts: ?o=A&o=B is a request for B, ?o=B&o=A one for A.
    a, b = await make_org(user), await make_org(user)
    headers = {**user.headers, **key()}
    body = {"batch_size": 1, "width": 64, "height": 64}
    url = "/api/v1/generations/"
    first = await client.post(
        f"{url}?organization_id={a['id']}&organization_id={b['id']}", json=body, headers=headers
    )
    assert first.status_code == 202 and first.json()["organization_id"] == b["id"]
    other = await client.post(
        f"{url}?organization_id={b['id']}&organization_id={a['id']}", json=body, headers=headers
    )
    assert other.status_code == 409, other.text
    # The same request replays.
    same = await client.post(
        f"{url}?organization_id={a['id']}&organization_id={b['id']}", json=body, headers=headers
    )
    assert same.headers["Idempotent-Replayed"] == "true"


async def test_an_api_key_is_a_credential_of_its_own(
    database_url: str, client: httpx.AsyncClient, user: TestUser
) -> None:
    created = await client.post("/api/v1/api-keys/", json={"name": "k"}, headers=user.headers)
    calls: list[str] = []
    shared = key()
    async with app_client(database_url, slow_job_routes(calls, delay=0)) as c:
        by_token = await c.post("/jobs", json={"name": "k"}, headers={**user.headers, **shared})
        by_key = await c.post(
            "/jobs", json={"name": "k"}, headers={"X-API-Key": created.json()["key"], **shared}
        )
    assert by_token.status_code == by_key.status_code == 202
    assert "Idempotent-Replayed" not in by_key.headers
    assert calls == ["k", "k"]


async def test_expired_keys_run_again(database_url: str, user: TestUser) -> None:
    calls: list[str] = []
    async with app_client(
        database_url, slow_job_routes(calls, delay=0), IDEMPOTENCY_TTL_SECONDS=0
    ) as c:
        headers = {**user.headers, **key()}
        for _ in range(2):
            r = await c.post("/jobs", json={"name": "t"}, headers=headers)
            assert r.status_code == 202
            assert "Idempotent-Replayed" not in r.headers
    assert calls == ["t", "t"]
