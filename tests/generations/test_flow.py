"""The whole flow with the `local` provider: request, queue, render, store, download."""

from __future__ import annotations

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
