"""Recording a one-prediction generation's outcome in one statement (PostgreSQL driver pool):
both rows or neither, and the generation's row lock taken before the prediction's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.core.db import Database
from app.models.generation import GenerationStatus, PredictionStatus
from app.pipeline.runtime import final_values
from app.repositories.generations import DriverExecutionRepository
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import wait_for, wait_prediction

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


@pytest.fixture
async def pool(app: Any) -> Any:
    pool = await app.state.db.driver_pool()
    if pool is None:
        pytest.skip("the driver pool exists on PostgreSQL only")
    return pool


@dataclass
class Running:
    generation_id: uuid.UUID
    prediction_id: uuid.UUID
    token: str


@pytest.fixture
async def running(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    pool: Any,
    make_model: ModelFactory,
    scripted_provider: Any,
) -> AsyncIterator[Running]:
    """A one-prediction generation whose provider hangs: claimed, PROCESSING, not recorded."""
    model = await make_model(provider_config=scripted("hang"))
    r = await client.post(
        URL,
        json={"width": 64, "height": 64, "batch_size": 1, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation = r.json()
    prediction_id = generation["predictions"][0]["id"]
    await wait_prediction(client, prediction_id, user.headers, "GENERATING")
    await wait_for(client, generation["id"], user.headers, statuses={"PROCESSING"})
    ids = uuid.UUID(generation["id"]), uuid.UUID(prediction_id)
    yield Running(*ids, (await _state(pool, *ids))[3])
    app.state.generation_runtime.stop_local([ids[1]])


def _outcome() -> tuple[dict[str, Any], dict[str, Any]]:
    now = datetime.now(UTC)
    generation = final_values(GenerationStatus.COMPLETED, now, now)
    prediction = {
        "status": PredictionStatus.COMPLETED,
        "progress": 1.0,
        "result_image_key": "generations/x/y.png",
        "finished_at": now,
        "updated_at": now,
    }
    return generation, prediction


async def _state(pool: Any, generation_id: uuid.UUID, prediction_id: uuid.UUID) -> tuple[Any, ...]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT g.status, p.status, p.result_image_key, p.lease_token "
            "FROM generation g JOIN prediction p ON p.generation_id = g.id WHERE p.id = $1",
            prediction_id,
        )
    return tuple(row)


async def test_records_both_rows_only_for_the_lease_holder(pool: Any, running: Running) -> None:
    generation_id, prediction_id = running.generation_id, running.prediction_id
    repo = DriverExecutionRepository(pool)
    generation_values, prediction_values = _outcome()
    assert not await repo.finish_single(
        generation_id, generation_values, prediction_id, "not-the-lease", prediction_values
    )
    assert await _state(pool, generation_id, prediction_id) == (
        "PROCESSING",
        "GENERATING",
        None,
        running.token,
    )
    assert await repo.finish_single(
        generation_id, generation_values, prediction_id, running.token, prediction_values
    )
    assert await _state(pool, generation_id, prediction_id) == (
        "COMPLETED",
        "COMPLETED",
        "generations/x/y.png",
        None,
    )


async def test_waits_for_a_canceller_holding_the_generation_and_then_records_nothing(
    pool: Any, running: Running
) -> None:
    generation_id, prediction_id = running.generation_id, running.prediction_id
    generation_values, prediction_values = _outcome()
    async with pool.acquire() as canceller:
        transaction = canceller.transaction()
        await transaction.start()
        # As cancel does: the generation's row first, then its predictions.
        await canceller.execute("SELECT id FROM generation WHERE id = $1 FOR UPDATE", generation_id)
        recording = asyncio.create_task(
            DriverExecutionRepository(pool).finish_single(
                generation_id, generation_values, prediction_id, running.token, prediction_values
            )
        )
        await asyncio.sleep(0.3)
        assert not recording.done()
        # Had the recorder locked the prediction before the generation, this would deadlock
        # (and PostgreSQL would abort one side after deadlock_timeout).
        await canceller.execute(
            "UPDATE prediction SET status = 'CANCELLED', lease_token = NULL WHERE id = $1",
            prediction_id,
        )
        await canceller.execute(
            "UPDATE generation SET status = 'CANCELLED' WHERE id = $1", generation_id
        )
        await transaction.commit()
    assert await asyncio.wait_for(recording, 10) is False
    assert await _state(pool, generation_id, prediction_id) == (
        "CANCELLED",
        "CANCELLED",
        None,
        None,
    )


async def test_claims_commit_without_waiting_for_the_disk_and_leave_the_setting_behind(
    app: Any, pool: Any, running: Running
) -> None:
    # The app's driver pool, with one connection: what the claim leaves on it, the next
    # statement gets (the pool does not reset connections).
    database = Database(app.state.settings.model_copy(update={"DB_DRIVER_POOL_SIZE": 1}))
    single = await database.driver_pool()
    try:
        # A lease that ran out (as seen from the future): the claim takes the prediction over.
        later = datetime.now(UTC) + timedelta(days=1)
        claim = await DriverExecutionRepository(single).claim(
            running.prediction_id, token="t2", owner="test", now=later, lease_until=later
        )
        assert claim is not None and claim.generation.id == running.generation_id
        assert claim.deliveries == 2
        # SET LOCAL: only the claim's own transaction; the connection is back to durable
        # commits for whatever runs on it next (a recording).
        assert await single.fetchval("SHOW synchronous_commit") == "on"
        assert (await _state(pool, running.generation_id, running.prediction_id))[3] == "t2"
    finally:
        await database.dispose()
