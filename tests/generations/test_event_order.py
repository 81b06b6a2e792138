"""The order of a generation's events as every consumer sees them (bus, SSE, webhooks)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.models.generation import GenerationStatus
from app.pipeline import runtime as runtime_module
from app.pipeline.events import GenerationEvents
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import wait_for, wait_prediction

if TYPE_CHECKING:
    from tests.conftest import TestUser


async def _events(app: Any, generation_id: str) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    async for item in app.state.event_bus.stream(uuid.UUID(generation_id), None, idle_timeout=1):
        if item is None:
            break
        event = item[1]
        seen.append((str(event.type), event.data.get("status")))
        if event.is_terminal:
            break
    return seen


def delay_processing(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The prediction that moves its generation to PROCESSING is slow to say so."""
    publish = GenerationEvents.status

    async def slow(
        self: GenerationEvents, generation: Any, status: GenerationStatus, **kw: Any
    ) -> None:
        if status == GenerationStatus.PROCESSING:
            await asyncio.sleep(seconds)
        await publish(self, generation, status, **kw)

    monkeypatch.setattr(GenerationEvents, "status", slow)


@pytest.fixture
def slow_processing(monkeypatch: pytest.MonkeyPatch) -> None:
    delay_processing(monkeypatch, 0.3)


async def _claimed_and_hanging(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory
) -> dict[str, Any]:
    """A one-prediction generation claimed by a provider that never answers."""
    model = await make_model(provider_config=scripted("hang"))
    r = await client.post(
        "/api/v1/generations/",
        json={"batch_size": 1, "width": 64, "height": 64, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation: dict[str, Any] = r.json()
    await wait_prediction(client, generation["predictions"][0]["id"], user.headers, "GENERATING")
    return generation


@pytest.mark.usefixtures("slow_processing")
async def test_a_batch_announces_processing_before_any_prediction_event(
    client: httpx.AsyncClient, user: TestUser, app: Any
) -> None:
    # The siblings of the prediction announcing PROCESSING finish at once: their events
    # must still wait for it.
    r = await client.post(
        "/api/v1/generations/",
        json={"batch_size": 3, "width": 64, "height": 64},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    generation_id = r.json()["id"]
    assert (await wait_for(client, generation_id, user.headers))["status"] == "COMPLETED"

    events = await _events(app, generation_id)
    processing = events.index(("generation.status", "PROCESSING"))
    assert events[:processing] == [("generation.status", "PENDING")]
    assert events.count(("generation.status", "PROCESSING")) == 1
    assert [t for t, _ in events].count("prediction.completed") == 3
    assert events[-1] == ("generation.completed", "COMPLETED")


@pytest.mark.usefixtures("slow_processing")
async def test_a_cancel_is_published_after_processing_not_before(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    make_model: ModelFactory,
    scripted_provider: Any,
) -> None:
    # Claimed: PROCESSING is being announced, slowly, while the cancel comes in.
    generation = await _claimed_and_hanging(client, user, make_model)
    r = await client.post(f"/api/v1/generations/{generation['id']}/cancel", headers=user.headers)
    assert r.status_code == 200, r.text
    assert await _events(app, generation["id"]) == [
        ("generation.status", "PENDING"),
        ("generation.status", "PROCESSING"),
        ("generation.cancelled", "CANCELLED"),
    ]


async def test_every_prediction_event_comes_before_the_generations_final_one(
    client: httpx.AsyncClient, user: TestUser, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A prediction that is not the last is slow to publish its result; the last one settles
    # the generation meanwhile and publishes the final event.
    publish = GenerationEvents.prediction_finished

    async def slow_unless_final(self: GenerationEvents, *args: Any) -> None:
        if args[-1] is None:
            await asyncio.sleep(0.3)
        await publish(self, *args)

    monkeypatch.setattr(GenerationEvents, "prediction_finished", slow_unless_final)
    r = await client.post(
        "/api/v1/generations/",
        json={"batch_size": 3, "width": 64, "height": 64},
        headers=user.headers,
    )
    generation_id = r.json()["id"]
    assert (await wait_for(client, generation_id, user.headers))["status"] == "COMPLETED"
    events = await _events(app, generation_id)
    assert [t for t, _ in events].count("prediction.completed") == 3
    assert events[-1] == ("generation.completed", "COMPLETED")


async def test_a_stalled_bus_does_not_hold_the_generation(
    client: httpx.AsyncClient,
    user: TestUser,
    make_model: ModelFactory,
    scripted_provider: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PROCESSING is published under the generation's row lock: a bus that hangs must not
    # keep cancel (or SQLite's whole database) waiting for it.
    monkeypatch.setattr(runtime_module, "PUBLISH_UNDER_LOCK_SECONDS", 0.2)
    delay_processing(monkeypatch, 30)
    generation = await _claimed_and_hanging(client, user, make_model)
    started = time.monotonic()
    r = await client.post(f"/api/v1/generations/{generation['id']}/cancel", headers=user.headers)
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 5
