"""A finished result survives a short storage or database outage: stored and recorded once,
without running the provider again."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.pipeline import runtime as runtime_module
from app.pipeline.runtime import GenerationRuntime
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"
BODY = {"batch_size": 1, "width": 64, "height": 64}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "jittered_backoff", lambda *_: 0.01)


@pytest.fixture
def provider_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    runs: list[object] = []
    real = runtime_module.run_prediction_work

    async def counting(*args: Any, **kwargs: Any) -> Any:
        runs.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(runtime_module, "run_prediction_work", counting)
    return runs


async def _files(app: Any, generation_id: str) -> list[str]:
    keys: list[str] = await app.state.storage.list_keys(f"generations/{generation_id}/")
    return keys


@pytest.mark.parametrize("batch_size", [1, 2])
async def test_storage_failing_for_a_while_is_waited_out(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    provider_runs: list[object],
    batch_size: int,
) -> None:
    storage = app.state.generation_runtime.storage
    real_put, failures = storage.put, [OSError("disk unavailable")] * 2

    async def flaky_put(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real_put(*args)

    monkeypatch.setattr(storage, "put", flaky_put)
    r = await client.post(URL, json={**BODY, "batch_size": batch_size}, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED"
    assert len(provider_runs) == batch_size
    assert len(await _files(app, done["id"])) == batch_size


async def test_storage_that_stays_down_fails_the_prediction_saying_so(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    provider_runs: list[object],
) -> None:
    async def broken_put(*_: Any) -> Any:
        raise OSError("disk unavailable")

    monkeypatch.setattr(app.state.generation_runtime.storage, "put", broken_put)
    r = await client.post(URL, json=BODY, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "FAILED"
    [prediction] = done["predictions"]
    assert prediction["status"] == "ERROR"
    assert prediction["error_category"] == "storage"
    assert prediction["provider"] == "local"  # it served; what failed came after
    assert "Storing the result failed" in prediction["error_message"]
    assert len(provider_runs) == 1
    assert await _files(app, done["id"]) == []


@pytest.mark.parametrize("committed", [False, True])
@pytest.mark.parametrize("batch_size", [1, 2])
async def test_a_recording_whose_connection_fails_is_made_once(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    provider_runs: list[object],
    committed: bool,
    batch_size: int,
) -> None:
    # The connection fails before the statement ran, or after it committed (the reply lost).
    real_write, failed = GenerationRuntime._write_outcome, []

    async def write_once_failing(self: GenerationRuntime, *args: Any) -> Any:
        if not failed:
            failed.append(True)
            if committed:
                await real_write(self, *args)
            raise ConnectionResetError("connection lost")
        return await real_write(self, *args)

    monkeypatch.setattr(GenerationRuntime, "_write_outcome", write_once_failing)
    r = await client.post(URL, json={**BODY, "batch_size": batch_size}, headers=user.headers)
    generation_id = r.json()["id"]
    done = await wait_for(client, generation_id, user.headers)
    assert done["status"] == "COMPLETED"
    assert all(p["status"] == "COMPLETED" for p in done["predictions"])
    assert len(provider_runs) == batch_size
    # Its file kept, and its events published once, the generation's final one included.
    assert len(await _files(app, generation_id)) == batch_size
    seen = [str(event.type) for event in await _events(app, generation_id)]
    assert seen.count("prediction.completed") == batch_size
    assert seen.count("generation.completed") == 1


async def _events(app: Any, generation_id: str) -> list[Any]:
    """Every event of the generation, until none came for half a second."""
    events = []
    stream = app.state.event_bus.stream(uuid.UUID(generation_id), None, idle_timeout=0.5)
    async for item in stream:
        if item is None:
            break
        events.append(item[1])
    return events


async def test_a_result_published_by_a_try_that_failed_to_commit_is_not_repeated(
    client: httpx.AsyncClient, user: TestUser, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch's first finisher publishes its result under the lock, then loses its
    # connection before the commit; by its retry the other prediction has been recorded, so
    # the retry settles the generation: the final event must still go out, the result once.
    monkeypatch.setattr(runtime_module, "jittered_backoff", lambda *_: 0.3)
    real, failed = runtime_module._publish_under_lock, []

    async def publish_then_fail(what: str, publish: Any) -> None:
        await real(what, publish)
        if not failed and what.startswith("publishing prediction"):
            failed.append(what)
            raise ConnectionResetError("connection lost before the commit")

    monkeypatch.setattr(runtime_module, "_publish_under_lock", publish_then_fail)
    r = await client.post(URL, json={**BODY, "batch_size": 2}, headers=user.headers)
    generation_id = r.json()["id"]
    assert (await wait_for(client, generation_id, user.headers))["status"] == "COMPLETED"
    seen = [str(event.type) for event in await _events(app, generation_id)]
    assert failed
    assert seen.count("prediction.completed") == 2
    assert seen.count("generation.completed") == 1
    assert seen[-1] == "generation.completed"
