"""A live event stream is the caller's only while they may see the generation: access is
checked again while it lasts, not only when it opens."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.api.routes import generation_events
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


@pytest.mark.parametrize("revoke", ["removed from the organization", "deactivated"])
async def test_a_stream_ends_once_the_caller_may_no_longer_see_the_generation(
    client: httpx.AsyncClient,
    make_user: Any,
    make_org: Any,
    superuser: TestUser,
    make_model: ModelFactory,
    scripted_provider: Any,
    monkeypatch: pytest.MonkeyPatch,
    revoke: str,
) -> None:
    monkeypatch.setattr(generation_events, "KEEPALIVE_SECONDS", 0.05)
    owner: TestUser = await make_user()
    member: TestUser = await make_user()
    org = await make_org(owner, member)
    params = {"organization_id": org["id"]}
    model = await make_model(provider_config=scripted("ok", delay=3.0))
    r = await client.post(
        URL,
        params=params,
        json={"batch_size": 1, "width": 64, "height": 64, "generative_models_id": model["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 202, r.text
    generation = r.json()
    await wait_for(client, generation["id"], owner.headers, statuses={"PROCESSING"}, params=params)
    watching = asyncio.create_task(
        client.get(f"{URL}{generation['id']}/events", params=params, headers=member.headers)
    )
    await asyncio.sleep(0.2)
    assert not watching.done()
    if revoke == "deactivated":
        changed = await client.patch(
            f"/api/v1/users/{member.id}", json={"is_active": False}, headers=superuser.headers
        )
    else:
        changed = await client.delete(
            f"/api/v1/organizations/{org['id']}/members/{member.id}", headers=owner.headers
        )
    assert changed.status_code == 200, changed.text
    # Ended long before the generation does (3 s), without its final event.
    stream = await asyncio.wait_for(watching, 1.5)
    assert stream.status_code == 200
    assert "generation.snapshot" in stream.text
    assert "generation.completed" not in stream.text
    await client.post(f"{URL}{generation['id']}/cancel", params=params, headers=owner.headers)
