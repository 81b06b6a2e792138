"""Cancel (queued and running), retry, delete with its files, select."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.fakes import providers
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import wait_for, wait_prediction

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"
SMALL = {"width": 64, "height": 64}


async def _files(app: Any, generation_id: str) -> list[str]:
    keys: list[str] = await app.state.storage.list_keys(f"generations/{generation_id}/")
    return keys


async def test_cancel_while_queued(client: httpx.AsyncClient, user: TestUser, app: Any) -> None:
    runtime = app.state.generation_runtime
    slots = runtime.settings.WORKER_CONCURRENCY
    # Occupy every execution slot so the new work stays queued.
    for _ in range(slots):
        await runtime._slots.acquire()
    try:
        r = await client.post(URL, json={**SMALL, "batch_size": 2}, headers=user.headers)
        generation = r.json()
        await asyncio.sleep(0.05)
        r = await client.post(f"{URL}{generation['id']}/cancel", headers=user.headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "CANCELLED"
        assert {p["status"] for p in r.json()["predictions"]} == {"CANCELLED"}
    finally:
        for _ in range(slots):
            runtime._slots.release()
    await asyncio.sleep(0.2)
    done = (await client.get(f"{URL}{generation['id']}", headers=user.headers)).json()
    assert done["status"] == "CANCELLED"
    assert all(p["status"] == "CANCELLED" and p["deliveries"] == 0 for p in done["predictions"])
    assert await _files(app, generation["id"]) == []
    # A finished generation cannot be cancelled again.
    r = await client.post(f"{URL}{generation['id']}/cancel", headers=user.headers)
    assert r.status_code == 409


async def test_cancel_while_running_stops_the_provider(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    make_model: ModelFactory,
    scripted_provider: Any,
) -> None:
    model = await make_model(provider_config=scripted("hang"))
    r = await client.post(
        URL,
        json={**SMALL, "batch_size": 1, "seed": 99, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation = r.json()
    await wait_prediction(client, generation["predictions"][0]["id"], user.headers, "GENERATING")
    await wait_for(client, generation["id"], user.headers, statuses={"PROCESSING"})
    r = await client.post(f"{URL}{generation['id']}/cancel", headers=user.headers)
    assert r.json()["status"] == "CANCELLED"
    for _ in range(100):
        if providers.CANCELLED:
            break
        await asyncio.sleep(0.01)
    assert providers.CANCELLED == ["job-99"]
    prediction = (
        await client.get(
            f"/api/v1/predictions/{generation['predictions'][0]['id']}", headers=user.headers
        )
    ).json()
    assert prediction["status"] == "CANCELLED"
    assert prediction["result_image_url"] is None
    assert await _files(app, generation["id"]) == []


async def test_retry_runs_failed_predictions_again(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(provider_config=scripted("fail_first"))
    r = await client.post(
        URL,
        json={**SMALL, "batch_size": 2, "seed": 1000, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation_id = r.json()["id"]
    failed = await wait_for(client, generation_id, user.headers)
    assert failed["status"] == "FAILED"
    assert failed["error_category"] == "rate_limited"
    r = await client.post(f"{URL}{generation_id}/retry", headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.json()["retry_count"] == 1
    # Already re-enqueued: in-process execution may have picked them up.
    assert all(
        p["status"] != "ERROR" and p["retry_count"] == 1 and p["error_message"] is None
        for p in r.json()["predictions"]
    )
    # Nor is the failed run's manifest kept.
    failed_manifests = {p["id"]: p["manifest"] for p in failed["predictions"]}
    assert all(failed_manifests[p["id"]] is not None for p in failed["predictions"])
    assert all(p["manifest"] != failed_manifests[p["id"]] for p in r.json()["predictions"])
    done = await wait_for(client, generation_id, user.headers)
    assert done["status"] == "COMPLETED"
    assert done["error_message"] is None
    assert [p["seed"] for p in done["predictions"]] == [1000, 1001]
    assert all(p["status"] == "COMPLETED" for p in done["predictions"])
    # Nothing left to retry.
    r = await client.post(f"{URL}{generation_id}/retry", headers=user.headers)
    assert r.status_code == 409


async def test_retry_of_running_generation_is_409(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(provider_config=scripted("hang"))
    r = await client.post(
        URL,
        json={**SMALL, "batch_size": 1, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation_id = r.json()["id"]
    assert (
        await client.post(f"{URL}{generation_id}/retry", headers=user.headers)
    ).status_code == 409
    await client.post(f"{URL}{generation_id}/cancel", headers=user.headers)
    # A cancelled prediction can be retried.
    r = await client.post(f"{URL}{generation_id}/retry", headers=user.headers)
    assert r.status_code == 202
    await client.post(f"{URL}{generation_id}/cancel", headers=user.headers)


async def test_delete_removes_record_and_files(
    client: httpx.AsyncClient, user: TestUser, app: Any
) -> None:
    r = await client.post(URL, json={**SMALL, "batch_size": 2}, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    files = await _files(app, done["id"])
    assert len(files) == 2
    image_url = done["predictions"][0]["result_image_url"]
    r = await client.delete(f"{URL}{done['id']}", headers=user.headers)
    assert r.status_code == 200
    assert (await client.get(f"{URL}{done['id']}", headers=user.headers)).status_code == 404
    assert (await client.get(image_url, headers=user.headers)).status_code == 404
    assert await _files(app, done["id"]) == []
    assert (await client.delete(f"{URL}{done['id']}", headers=user.headers)).status_code == 404


async def test_a_storage_failure_does_not_fail_a_delete(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = await client.post(URL, json=SMALL, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)

    async def broken(prefix: str) -> int:
        raise OSError("EIO")

    monkeypatch.setattr(app.state.storage, "delete_prefix", broken)
    r = await client.delete(f"{URL}{done['id']}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert (await client.get(f"{URL}{done['id']}", headers=user.headers)).status_code == 404
    assert f"generations/{done['id']}/ is left in storage" in caplog.text


async def test_deleting_a_user_removes_their_generations_files(
    client: httpx.AsyncClient, make_user: Any, superuser: TestUser, app: Any
) -> None:
    leaving: TestUser = await make_user()
    staying: TestUser = await make_user()
    one = {**SMALL, "batch_size": 1}
    mine = await client.post(URL, json=one, headers=leaving.headers)
    theirs = await client.post(URL, json=one, headers=staying.headers)
    for generation, owner in ((mine, leaving), (theirs, staying)):
        await wait_for(client, generation.json()["id"], owner.headers)
    assert len(await _files(app, mine.json()["id"])) == 1
    r = await client.delete(f"/api/v1/users/{leaving.id}", headers=superuser.headers)
    assert r.status_code == 200, r.text
    assert await _files(app, mine.json()["id"]) == []
    assert len(await _files(app, theirs.json()["id"])) == 1


async def test_delete_while_running_leaves_no_file(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    make_model: ModelFactory,
    scripted_provider: Any,
) -> None:
    model = await make_model(provider_config=scripted("ok", delay=0.2))
    r = await client.post(
        URL,
        json={**SMALL, "batch_size": 2, "generative_models_id": model["id"]},
        headers=user.headers,
    )
    generation = r.json()
    await wait_prediction(client, generation["predictions"][0]["id"], user.headers, "GENERATING")
    assert (
        await client.delete(f"{URL}{generation['id']}", headers=user.headers)
    ).status_code == 200
    await asyncio.sleep(0.4)
    assert await _files(app, generation["id"]) == []


async def test_select_prediction(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(URL, json={**SMALL, "batch_size": 2}, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    first, second = (p["id"] for p in done["predictions"])
    r = await client.post(f"/api/v1/predictions/{first}/select", headers=user.headers)
    assert r.status_code == 200 and r.json()["selected"] is True
    r = await client.post(f"/api/v1/predictions/{second}/select", headers=user.headers)
    assert r.json()["selected"] is True
    listed = await client.get(
        "/api/v1/predictions/", params={"generation_id": done["id"]}, headers=user.headers
    )
    assert listed.json()["count"] == 2
    selected = {p["id"]: p["selected"] for p in listed.json()["data"]}
    assert selected == {first: False, second: True}


async def test_concurrent_selections_leave_exactly_one_selected(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(URL, json={**SMALL, "batch_size": 4}, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    ids = [p["id"] for p in done["predictions"]]
    for _ in range(3):
        responses = await asyncio.gather(
            *(client.post(f"/api/v1/predictions/{p}/select", headers=user.headers) for p in ids)
        )
        assert [r.status_code for r in responses] == [200] * len(ids)
        listed = await client.get(
            "/api/v1/predictions/", params={"generation_id": done["id"]}, headers=user.headers
        )
        assert sum(p["selected"] for p in listed.json()["data"]) == 1


async def test_delete_locks_the_generation_before_its_predictions(
    client: httpx.AsyncClient, user: TestUser, app: Any
) -> None:
    pool = await app.state.db.driver_pool()
    if pool is None:
        pytest.skip("row locks are PostgreSQL's")
    r = await client.post(URL, json={**SMALL, "batch_size": 2}, headers=user.headers)
    done = await wait_for(client, r.json()["id"], user.headers)
    generation_id = uuid.UUID(done["id"])
    async with pool.acquire() as writer:
        transaction = writer.transaction()
        await transaction.start()
        # As cancel, retry and recording do: the generation's row, then its predictions.
        await writer.execute("SELECT id FROM generation WHERE id = $1 FOR UPDATE", generation_id)
        deleting = asyncio.create_task(client.delete(f"{URL}{done['id']}", headers=user.headers))
        await asyncio.sleep(0.3)
        assert not deleting.done()
        # Had delete locked the predictions first, this would deadlock (and PostgreSQL would
        # abort one side after deadlock_timeout).
        await writer.execute(
            "UPDATE prediction SET selected = false WHERE generation_id = $1", generation_id
        )
        await transaction.commit()
    assert (await deleting).status_code == 200
    assert (await client.get(f"{URL}{done['id']}", headers=user.headers)).status_code == 404


async def test_list_filters_and_order(client: httpx.AsyncClient, make_user: Any) -> None:
    owner = await make_user()
    first = (await client.post(URL, json={**SMALL, "batch_size": 1}, headers=owner.headers)).json()
    second = (
        await client.post(
            URL,
            json={**SMALL, "batch_size": 1, "subject_id": None, "product_image": None},
            headers=owner.headers,
        )
    ).json()
    await wait_for(client, first["id"], owner.headers)
    await wait_for(client, second["id"], owner.headers)
    listed = (await client.get(URL, headers=owner.headers)).json()
    assert listed["count"] == 2
    assert [g["id"] for g in listed["data"]] == [second["id"], first["id"]]
    r = await client.get(URL, params={"status": "FAILED"}, headers=owner.headers)
    assert r.json()["count"] == 0
    r = await client.get(URL, params={"created_after": second["created_at"]}, headers=owner.headers)
    assert [g["id"] for g in r.json()["data"]] == [second["id"]]
    r = await client.get(URL, params={"generation_strategy": "EDITING"}, headers=owner.headers)
    assert r.json()["count"] == 0
    r = await client.get(URL, params={"limit": 1, "skip": 1}, headers=owner.headers)
    assert [g["id"] for g in r.json()["data"]] == [first["id"]]
    # Filters the database cannot compare are 422s naming the parameter.
    for params, name in (
        ({"created_after": "2024-01-01T00:00:00"}, "created_after"),  # no offset
        ({"created_before": "9999-12-31T23:59:59-23:00"}, "created_before"),
        ({"skip": 2**64}, "skip"),
    ):
        r = await client.get(URL, params=params, headers=owner.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", name]
    r = await client.get("/api/v1/predictions/", params={"skip": 2**64}, headers=owner.headers)
    assert r.status_code == 422


async def test_a_prediction_delivered_many_times_runs_once(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    make_model: ModelFactory,
    scripted_provider: Any,
) -> None:
    model = await make_model(provider_config=scripted("ok", delay=0.1))
    providers.SUBMITTED.clear()
    r = await client.post(
        URL,
        json={**SMALL, "batch_size": 2, "generative_models_id": model["id"], "seed": 7},
        headers=user.headers,
    )
    generation = r.json()
    # The queue delivers at least once: the same messages again, several times, at once.
    ids = [uuid.UUID(p["id"]) for p in generation["predictions"]]
    runtime = app.state.generation_runtime
    await asyncio.gather(*(runtime.execute(pid) for pid in ids * 3))
    done = await wait_for(client, generation["id"], user.headers)
    assert done["status"] == "COMPLETED"
    assert [p["deliveries"] for p in done["predictions"]] == [1, 1]
    assert sorted(providers.SUBMITTED) == [7, 8]
    assert len(await _files(app, generation["id"])) == 2
