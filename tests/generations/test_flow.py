"""The whole flow with the `local` provider: request, queue, render, store, download."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import TYPE_CHECKING, Any

import httpx
from PIL import Image

if TYPE_CHECKING:
    from tests.conftest import TestUser
from tests.generations.helpers import data_url, wait_for

URL = "/api/v1/generations/"


async def test_generation_runs_to_completion_with_downloadable_images(
    client: httpx.AsyncClient, user: TestUser, app: Any
) -> None:
    r = await client.post(
        URL,
        json={
            "batch_size": 3,
            "seed": 41,
            "width": 256,
            "height": 320,
            "product_image": data_url(),
            "product_description": "red wool coat",
            "background": "beige",
            "tone": "warm",
            "framing": "Upper Body",
        },
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "PENDING"
    assert [p["seed"] for p in created["predictions"]] == [41, 42, 43]
    assert all(p["status"] == "PENDING" for p in created["predictions"])
    assert "red wool coat" in created["prompt"]
    assert created["original_prompt"]
    assert created["plan"][0]["provider"] == "local"

    done = await wait_for(client, created["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    assert done["started_at"] and done["finished_at"]
    assert done["processing_time_ms"] is not None
    hashes = set()
    for prediction in done["predictions"]:
        assert prediction["status"] == "COMPLETED"
        assert prediction["provider"] == "local"
        assert prediction["fallback_used"] is False
        assert prediction["attempts"][0]["outcome"] == "success"
        assert prediction["result_width"] == 256 and prediction["result_height"] == 320
        image = await client.get(prediction["result_image_url"], headers=user.headers)
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert hashlib.sha256(image.content).hexdigest() == prediction["result_sha256"]
        assert Image.open(io.BytesIO(image.content)).size == (256, 320)
        hashes.add(prediction["result_sha256"])
    # Different seeds, different previews.
    assert len(hashes) == 3


async def test_same_seed_renders_the_same_image(client: httpx.AsyncClient, user: TestUser) -> None:
    body = {"batch_size": 1, "seed": 7, "width": 96, "height": 96, "background": "navy"}
    first = (await client.post(URL, json=body, headers=user.headers)).json()
    second = (await client.post(URL, json=body, headers=user.headers)).json()
    a = await wait_for(client, first["id"], user.headers)
    b = await wait_for(client, second["id"], user.headers)
    assert a["predictions"][0]["result_sha256"] == b["predictions"][0]["result_sha256"]


async def test_random_seeds_are_recorded(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL, json={"batch_size": 2, "width": 64, "height": 64}, headers=user.headers
    )
    seeds = [p["seed"] for p in r.json()["predictions"]]
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)


async def test_image_requires_authentication(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL, json={"batch_size": 1, "width": 64, "height": 64}, headers=user.headers
    )
    done = await wait_for(client, r.json()["id"], user.headers)
    url = done["predictions"][0]["result_image_url"]
    assert (await client.get(url)).status_code == 401


async def test_the_image_is_served_as_an_inert_cacheable_download(
    client: httpx.AsyncClient, user: TestUser, app: Any, monkeypatch: Any
) -> None:
    r = await client.post(
        URL, json={"batch_size": 1, "width": 64, "height": 64}, headers=user.headers
    )
    prediction = (await wait_for(client, r.json()["id"], user.headers))["predictions"][0]
    url = prediction["result_image_url"]
    image = await client.get(url, headers=user.headers)
    assert image.status_code == 200
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in image.headers["content-security-policy"]
    assert image.headers["content-disposition"] == f'inline; filename="{prediction["id"]}.png"'
    etag = image.headers["etag"]
    assert etag == f'"{prediction["result_sha256"]}"'
    for tags in (etag, f'"other", W/{etag}', "*"):
        cached = await client.get(url, headers={**user.headers, "If-None-Match": tags})
        assert cached.status_code == 304, tags
        assert cached.content == b"" and cached.headers["etag"] == etag
    changed = await client.get(url, headers={**user.headers, "If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.content == image.content

    # A file gone before the response starts is a 404, not a 200 with an empty body.
    storage = app.state.storage

    async def vanished(key: str) -> Any:
        raise FileNotFoundError(key)

    monkeypatch.setattr(storage, "open", vanished)
    missing = await client.get(url, headers=user.headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Stored result is missing"}


async def test_creating_a_generation_on_postgresql_takes_no_orm_connection(
    client: httpx.AsyncClient, user: TestUser, app: Any
) -> None:
    """The catalogue read and the insert go through the driver pool, in one statement each:
    the request's session never begins (and never costs BEGIN/COMMIT round trips)."""
    if await app.state.db.driver_pool() is None:
        return  # SQLite: the session does it all
    from sqlalchemy import event

    pool = app.state.db.engine.sync_engine.pool
    request_task = asyncio.current_task()
    taken: list[object] = []

    def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        if asyncio.current_task() is request_task:
            taken.append(record)

    body = {"batch_size": 2, "seed": 5, "auto_generate_prompt": False, "generated_prompt": "p"}
    # The system prompts come from a cache the first request fills.
    assert (await client.post(URL, json=body, headers=user.headers)).status_code == 202
    event.listen(pool, "checkout", on_checkout)
    try:
        r = await client.post(URL, json=body, headers=user.headers)
    finally:
        event.remove(pool, "checkout", on_checkout)
    assert r.status_code == 202, r.text
    assert taken == []
    created = r.json()
    stored = (await client.get(f"{URL}{created['id']}", headers=user.headers)).json()
    assert [p["id"] for p in stored["predictions"]] == [p["id"] for p in created["predictions"]]
    assert [p["seed"] for p in stored["predictions"]] == [5, 6]
    for key in ("prompt", "plan", "width", "height", "created_at", "generation_type", "config"):
        assert stored[key] == created[key], key
