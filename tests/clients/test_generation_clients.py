"""Generations for clients: live events over SSE (with resume), Idempotency-Key on creation,
webhook deliveries from the pipeline's events."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from app.models.generation import GenerationStatus
from app.services.generation_events import generation_event_stream
from tests.clients.apps import FAST_WEBHOOKS, app_instance
from tests.clients.receiver import webhook_receiver
from tests.clients.test_webhooks import deliveries, eventually
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"
BODY = {"batch_size": 2, "seed": 5, "width": 64, "height": 64, "background": "navy"}


def parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
        if "data" in event:
            event["data"] = json.loads(event["data"])
            events.append(event)
    return events


async def test_sse_streams_progress_and_final_state_then_resumes(
    client: httpx.AsyncClient, make_user: Any, make_org: Any
) -> None:
    owner, outsider = await make_user(), await make_user()
    org = await make_org(owner)
    params = {"organization_id": org["id"]}
    created = await client.post(
        URL, json={**BODY, "organization_id": org["id"]}, headers=owner.headers, params=params
    )
    assert created.status_code == 202, created.text
    gid = created.json()["id"]
    events_url = f"{URL}{gid}/events"

    r = await client.get(events_url, headers=owner.headers, params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    types = [e["event"] for e in events]
    assert types[0] == "generation.snapshot"
    assert events[0]["data"]["id"] == gid
    # PROCESSING is announced while the first prediction starts, yet always before any
    # prediction's own event.
    statuses = [e["data"]["status"] for e in events if e["event"] == "generation.status"]
    assert statuses == ["PENDING", "PROCESSING"]
    processing = next(i for i, e in enumerate(events) if e["data"].get("status") == "PROCESSING")
    assert all(not t.startswith("prediction.") for t in types[:processing])
    assert types[-1] == "generation.completed"
    assert "prediction.completed" in types
    assert types.count("prediction.completed") == 2
    assert events[-1]["data"]["status"] == "COMPLETED"
    assert all(e.get("id") for e in events[1:])

    # Reconnect after the first bus event: everything after it, no snapshot, same end.
    resumed = await client.get(
        events_url, headers={**owner.headers, "Last-Event-ID": events[1]["id"]}, params=params
    )
    rest = parse_sse(resumed.text)
    assert [e["id"] for e in rest] == [e["id"] for e in events[2:]]
    assert rest[-1]["event"] == "generation.completed"

    # Resumed after the final event: 204, at once (EventSource stops reconnecting).
    done = await client.get(
        events_url, headers={**owner.headers, "Last-Event-ID": events[-1]["id"]}, params=params
    )
    assert done.status_code == 204 and done.content == b""
    last = await client.get(
        events_url, headers={**owner.headers, "Last-Event-ID": events[-2]["id"]}, params=params
    )
    assert [e["event"] for e in parse_sse(last.text)] == ["generation.completed"]

    # Organization members only.
    assert (await client.get(events_url, headers=outsider.headers)).status_code == 404
    denied = await client.get(events_url, headers=outsider.headers, params=params)
    assert denied.status_code == 403
    # A finished generation, connected to afresh: its snapshot, then the end.
    again = parse_sse((await client.get(events_url, headers=owner.headers, params=params)).text)
    assert [e["event"] for e in again] == ["generation.snapshot"]
    assert again[0]["data"]["status"] == "COMPLETED"


async def test_concurrent_identical_generation_requests_start_one_job(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    headers = {**user.headers, "Idempotency-Key": str(uuid.uuid4())}
    responses = await asyncio.gather(
        *(client.post(URL, json=BODY, headers=headers) for _ in range(3))
    )
    assert {r.status_code for r in responses} == {202}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    await wait_for(client, ids.pop(), user.headers)
    listed = await client.get(URL, headers=user.headers)
    assert listed.json()["count"] == 1
    conflict = await client.post(URL, json={**BODY, "seed": 6}, headers=headers)
    assert conflict.status_code == 409


async def test_pipeline_events_reach_organization_webhooks(
    database_url: str, make_user: Any, make_org: Any
) -> None:
    owner = await make_user()
    org = await make_org(owner)
    params = {"organization_id": org["id"]}
    with webhook_receiver() as receiver:
        async with app_instance(database_url, **FAST_WEBHOOKS) as (_app, c):
            created = await c.post(
                "/api/v1/webhooks/",
                json={
                    "url": receiver.url,
                    "organization_id": org["id"],
                    "event_types": ["generation.completed", "prediction.completed"],
                },
                headers=owner.headers,
            )
            hook = created.json()
            receiver.secret = hook["secret"]
            r = await c.post(
                URL,
                json={**BODY, "organization_id": org["id"]},
                headers=owner.headers,
                params=params,
            )
            gid = r.json()["id"]
            await wait_for(c, gid, owner.headers, params=params)

            async def all_sent() -> bool:
                log = await deliveries(c, owner, hook)
                return bool(
                    log["count"] == 3 and all(d["status"] == "SUCCEEDED" for d in log["data"])
                )

            await eventually(all_sent)
    types = sorted(r.body["type"] for r in receiver.received)
    assert types == ["generation.completed", "prediction.completed", "prediction.completed"]
    assert all(r.verified for r in receiver.received)
    assert all(r.body["data"]["generation_id"] == gid for r in receiver.received)


async def test_the_event_stream_of_a_deleted_generation_ends(app: Any) -> None:
    # Deleting publishes no final event: the stream's next quiet moment finds no row.
    async def drain() -> list[Any]:
        async def gone() -> GenerationStatus | None:
            return None

        stream = generation_event_stream(
            app.state.event_bus,
            uuid.uuid4(),
            status=GenerationStatus.PROCESSING,
            snapshot=None,
            last_event_id=None,
            check=gone,
            idle_timeout=0.05,
        )
        return [item async for item in stream]

    assert await asyncio.wait_for(drain(), 5) == []
