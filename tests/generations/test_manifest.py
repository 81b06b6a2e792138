"""The reproducibility manifest of every prediction, and replays from it."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import TYPE_CHECKING, Any

import httpx
from PIL import Image

from app.pipeline.manifest import software_version
from tests.generations.conftest import ModelFactory, scripted
from tests.generations.helpers import data_url, png_bytes, wait_for
from tests.imaging.synthetic import portrait

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


def _replay_url(prediction_id: str) -> str:
    return f"/api/v1/predictions/{prediction_id}/replay"


async def test_manifest_replay_reproduces_the_local_image(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    product = png_bytes((40, 90, 160))
    body = {
        "batch_size": 2,
        "seed": 314,
        "width": 128,
        "height": 160,
        "product_image": data_url((40, 90, 160)),
        "product_description": "blue denim jacket",
        "background": "beige",
        "framing": "Upper Body",
    }
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    second = done["predictions"][1]
    manifest = second["manifest"]
    assert manifest["seed"] == 315
    assert manifest["prompt"] == done["prompt"]
    assert manifest["negative_prompt"] == done["negative_prompt"]
    assert manifest["prompt_trace"], "the builder trace is kept"
    assert manifest["provider"] == "local" and manifest["fallback_used"] is False
    assert manifest["model"]["name"] == done["plan"][0]["model_name"]
    assert manifest["pipeline"][0]["provider"] == "local"
    assert manifest["pipeline"][0]["role"] == "primary"
    assert manifest["software"]["version"] == software_version() != "unknown"
    assert manifest["input_images"] == [
        {
            "role": "product",
            "sha256": hashlib.sha256(product).hexdigest(),
            "mime_type": "image/png",
            "size_bytes": len(product),
        }
    ]
    assert manifest["result_sha256"] == second["result_sha256"]
    assert manifest["scene"]["background"] == "beige"

    r = await client.post(_replay_url(second["id"]), headers=user.headers)
    assert r.status_code == 202, r.text
    replay = r.json()
    assert replay["id"] != done["id"] and replay["batch_size"] == 1
    assert replay["config"] == {"replay_of": second["id"]}
    assert [p["seed"] for p in replay["predictions"]] == [315]
    replayed = await wait_for(client, replay["id"], user.headers)
    assert replayed["status"] == "COMPLETED", replayed
    (again,) = replayed["predictions"]
    assert again["result_sha256"] == second["result_sha256"]
    original = await client.get(second["result_image_url"], headers=user.headers)
    copy = await client.get(again["result_image_url"], headers=user.headers)
    assert original.content == copy.content
    assert again["manifest"]["input_images"] == manifest["input_images"]


async def test_replay_refuses_changed_inputs(
    client: httpx.AsyncClient, user: TestUser, tmp_path: Any, settings: Any
) -> None:
    # A confined local file as product image: changing it after the run changes the input.
    directory = settings.DATA_FILES_DIR or settings.DATA_DIR
    path = directory / f"replay-{tmp_path.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes((10, 120, 60)))
    try:
        r = await client.post(
            URL,
            json={
                "batch_size": 1,
                "seed": 5,
                "width": 64,
                "height": 64,
                "product_image": str(path),
            },
            headers=user.headers,
        )
        assert r.status_code == 202, r.text
        done = await wait_for(client, r.json()["id"], user.headers)
        assert done["status"] == "COMPLETED", done
        path.write_bytes(png_bytes((220, 200, 10)))
        r = await client.post(_replay_url(done["predictions"][0]["id"]), headers=user.headers)
        assert r.status_code == 202
        replayed = await wait_for(client, r.json()["id"], user.headers)
    finally:
        path.unlink(missing_ok=True)
    assert replayed["status"] == "FAILED"
    assert replayed["error_category"] == "invalid_input"
    assert "differ from the ones the replayed prediction used" in replayed["error_message"]


async def test_replay_pins_the_provider_that_served(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(
        name="failing primary, local fallback",
        provider_config=scripted("fail"),
        fallback_provider="local",
        fallback_provider_config={},
    )
    r = await client.post(
        URL,
        json={
            "batch_size": 1,
            "seed": 9,
            "width": 64,
            "height": 64,
            "generative_models_id": model["id"],
        },
        headers=user.headers,
    )
    done = await wait_for(client, r.json()["id"], user.headers)
    (prediction,) = done["predictions"]
    manifest = prediction["manifest"]
    assert manifest["fallback_used"] is True
    assert "scripted failure" in manifest["fallback_reason"]
    assert manifest["pipeline"][0]["provider"] == "local"
    assert manifest["pipeline"][0]["role"] == "fallback"
    r = await client.post(_replay_url(prediction["id"]), headers=user.headers)
    replay = r.json()
    assert replay["plan"][0]["provider"] == "local"
    assert replay["plan"][0]["fallback_provider"] is None
    again = await wait_for(client, replay["id"], user.headers)
    assert [a["provider"] for a in again["predictions"][0]["attempts"]] == ["local"]
    assert again["predictions"][0]["result_sha256"] == prediction["result_sha256"]


async def test_failed_prediction_has_a_manifest_but_cannot_be_replayed(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory, scripted_provider: Any
) -> None:
    model = await make_model(name="always failing", provider_config=scripted("fail"))
    r = await client.post(
        URL,
        json={
            "batch_size": 1,
            "seed": 3,
            "width": 64,
            "height": 64,
            "generative_models_id": model["id"],
        },
        headers=user.headers,
    )
    done = await wait_for(client, r.json()["id"], user.headers)
    (prediction,) = done["predictions"]
    assert prediction["status"] == "ERROR"
    assert prediction["manifest"]["seed"] == 3
    assert prediction["manifest"]["result_sha256"] is None
    r = await client.post(_replay_url(prediction["id"]), headers=user.headers)
    assert r.status_code == 409


async def test_replay_follows_organization_rules(
    client: httpx.AsyncClient, make_user: Any, make_org: Any
) -> None:
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    org = await make_org(owner, member)
    params = {"organization_id": org["id"]}
    r = await client.post(
        URL,
        json={"batch_size": 1, "seed": 1, "width": 64, "height": 64},
        params=params,
        headers=owner.headers,
    )
    done = await wait_for(client, r.json()["id"], owner.headers, params=params)
    prediction_id = done["predictions"][0]["id"]
    # Another user, or the member outside the organization's scope: not found.
    assert (
        await client.post(_replay_url(prediction_id), headers=outsider.headers)
    ).status_code == 404
    assert (
        await client.post(_replay_url(prediction_id), headers=member.headers)
    ).status_code == 404
    r = await client.post(_replay_url(prediction_id), params=params, headers=member.headers)
    assert r.status_code == 202, r.text
    assert r.json()["organization_id"] == org["id"]
    assert r.json()["owner_id"] == str(member.id)


async def test_local_tool_reports_reach_the_manifest(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    buffer = io.BytesIO()
    portrait(96, 144).image.save(buffer, format="PNG")
    source = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    r = await client.post(
        URL,
        json={
            "generation_strategy": "IMAGE_ADJUSTING",
            "garment_placement_base_image_url": source,
            "batch_size": 1,
            "seed": 1,
        },
        headers=user.headers,
    )
    done = await wait_for(client, r.json()["id"], user.headers, timeout=30)
    step = done["predictions"][0]["manifest"]["pipeline"][0]
    assert step["report"]["task"] == "IMAGE_ADJUSTING"
    assert "strength" in step["report"]["report"]


async def test_refine_strategy_gets_the_scale_factor_within_the_model_limits(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory
) -> None:
    buffer = io.BytesIO()
    portrait(96, 144).image.save(buffer, format="PNG")
    source = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = {
        "generation_strategy": "REFINE",
        "garment_placement_base_image_url": source,
        "scale_factor": 1.5,
        "batch_size": 1,
        "seed": 1,
    }
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    assert [step["name"] for step in r.json()["plan"]] == ["main"]  # no second upscale
    done = await wait_for(client, r.json()["id"], user.headers, timeout=30)
    prediction = done["predictions"][0]
    assert (prediction["result_width"], prediction["result_height"]) == (144, 216)

    limited = await make_model(
        name="small refiner",
        provider="sartiq_ultimate_refiner",
        provider_config={"version": "1"},
        tool_types=["REFINE"],
        max_output_width=150,
        max_output_height=1000,
    )
    body |= {"scale_factor": 3, "generative_models_id": limited["id"]}
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers, timeout=30)
    prediction = done["predictions"][0]
    image = await client.get(prediction["result_image_url"], headers=user.headers)
    size = Image.open(io.BytesIO(image.content)).size
    assert size == (150, 225)  # x3 asked, held to the model's 150 px width, aspect kept
    assert prediction["manifest"]["pipeline"][0]["limits"]["max_output_width"] == 150
