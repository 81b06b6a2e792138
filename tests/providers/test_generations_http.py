"""Each external provider through `POST /api/v1/generations/`, against its fake server.

The running app has no provider keys, so no external client is registered; each test
registers them bound to settings that point at the fakes, then restores the app's registry.
"""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from app.core.config import Settings
from app.providers.external import register_external_providers
from tests.conftest import TestUser
from tests.fakes.common import eventually
from tests.fakes.fal import FAL_KEY, FakeFal
from tests.fakes.freepik import FREEPIK_KEY, FakeFreepik
from tests.fakes.gemini import GEMINI_KEY, FakeGemini, decode_b64
from tests.fakes.images import png
from tests.generations.helpers import wait_for, wait_prediction
from tests.providers.conftest import SettingsFactory

URL = "/api/v1/generations/"
MODELS = "/api/v1/generation-models/"
ModelFactory = Callable[..., Awaitable[dict[str, Any]]]
LOCAL_FALLBACK = {"fallback_provider": "local", "fallback_provider_config": {}}


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture
def external(
    app: Any,
    provider_settings: SettingsFactory,
    fake_fal: FakeFal,
    fake_freepik: FakeFreepik,
    fake_gemini: FakeGemini,
) -> Iterator[Settings]:
    settings = provider_settings(
        FAL_KEY=FAL_KEY,
        FAL_QUEUE_URL=fake_fal.base_url,
        FREEPIK_API_KEY=FREEPIK_KEY,
        FREEPIK_BASE_URL=fake_freepik.base_url,
        GEMINI_API_KEY=GEMINI_KEY,
        GEMINI_BASE_URL=fake_gemini.base_url,
        # Roomier than the provider-level tests: the app's runtime shares the loop here.
        PROVIDER_REQUEST_TIMEOUT_SECONDS=1.0,
    )
    registry = app.state.provider_registry
    register_external_providers(registry, settings)
    try:
        yield settings
    finally:
        register_external_providers(registry, app.state.settings)


@pytest.fixture
async def model(client: httpx.AsyncClient, superuser: TestUser) -> AsyncIterator[ModelFactory]:
    created: list[str] = []

    async def factory(provider: str, tools: list[str], **fields: Any) -> dict[str, Any]:
        body = {
            "name": f"{provider} test model",
            "provider": provider,
            "provider_config": {},
            "tool_types": tools,
            **fields,
        }
        r = await client.post(MODELS, json=body, headers=superuser.headers)
        assert r.status_code == 200, r.text
        created.append(r.json()["id"])
        return dict(r.json())

    yield factory
    for model_id in created:
        await client.delete(f"{MODELS}{model_id}", headers=superuser.headers)


async def generate(
    client: httpx.AsyncClient, user: TestUser, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    r = await client.post(URL, json={"batch_size": 1, "seed": 7, **body}, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] in ("COMPLETED", "FAILED"), done
    return r.json(), done


async def stored_size(
    client: httpx.AsyncClient, user: TestUser, prediction: dict[str, Any]
) -> tuple[int, int]:
    r = await client.get(prediction["result_image_url"], headers=user.headers)
    assert r.status_code == 200
    return Image.open(io.BytesIO(r.content)).size


async def test_fal_standard_generation(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_fal: FakeFal,
    model: ModelFactory,
) -> None:
    fal = await model(
        "fal_standard",
        ["BASE_GENERATION"],
        provider_config={
            "fal_app_id": "fal-ai/flux-lora",
            "additional_static_params": {"guidance_scale": 3},
        },
        **LOCAL_FALLBACK,
    )
    product = png(16, 16)
    created, done = await generate(
        client,
        user,
        generative_models_id=fal["id"],
        width=64,
        height=80,
        product_image=data_url(product),
        product_description="green silk scarf",
    )
    assert created["plan"][0]["provider"] == "fal_standard"
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED", prediction
    assert prediction["provider"] == "fal_standard" and prediction["fallback_used"] is False
    assert (prediction["result_width"], prediction["result_height"]) == (64, 80)
    assert await stored_size(client, user, prediction) == (64, 80)
    submitted = fake_fal.control.calls("/fal-ai/flux-lora", "POST")[0].body
    assert "green silk scarf" in submitted["prompt"]
    assert submitted["seed"] == 7 and submitted["guidance_scale"] == 3
    assert base64.b64decode(submitted["image_urls"][0].split(",", 1)[1]) == product


async def test_fal_hang_falls_back_to_local(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_fal: FakeFal,
    model: ModelFactory,
) -> None:
    fake_fal.control.mode, fake_fal.control.mode_step = "hang", "status"
    fal = await model("fal_standard", ["BASE_GENERATION"], **LOCAL_FALLBACK)
    _, done = await generate(client, user, generative_models_id=fal["id"], width=64, height=64)
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED"
    assert prediction["provider"] == "local" and prediction["fallback_used"] is True
    first = prediction["attempts"][0]
    assert (first["provider"], first["error_category"]) == ("fal_standard", "timeout")


async def test_fal_validation_error_falls_back_with_fals_message(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_fal: FakeFal,
    model: ModelFactory,
) -> None:
    fake_fal.control.mode = "error"
    fal = await model("fal_standard", ["BASE_GENERATION"], **LOCAL_FALLBACK)
    _, done = await generate(client, user, generative_models_id=fal["id"], width=64, height=64)
    prediction = done["predictions"][0]
    assert prediction["fallback_used"] is True
    assert "image_size is not supported" in prediction["fallback_reason"]
    assert prediction["attempts"][0]["error_category"] == "invalid_input"


async def test_cancelling_a_generation_cancels_the_fal_request(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_fal: FakeFal,
    model: ModelFactory,
) -> None:
    fake_fal.control.polls_before_done = -1
    fal = await model("fal_standard", ["BASE_GENERATION"])
    r = await client.post(
        URL,
        json={"batch_size": 1, "width": 64, "height": 64, "generative_models_id": fal["id"]},
        headers=user.headers,
    )
    generation = r.json()
    await wait_prediction(client, generation["predictions"][0]["id"], user.headers, "GENERATING")
    await eventually(lambda: fake_fal.control.calls("/status"))
    r = await client.post(f"{URL}{generation['id']}/cancel", headers=user.headers)
    assert r.json()["status"] == "CANCELLED"
    await eventually(lambda: fake_fal.cancelled)
    assert len(fake_fal.cancelled) == 1


async def test_fal_shootify_refiner_step(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_fal: FakeFal,
    model: ModelFactory,
) -> None:
    await model("fal_shootify_refiner", ["REFINE"], recommended=True)
    created, done = await generate(client, user, width=64, height=96, refine=True)
    assert [step["provider"] for step in created["plan"]] == ["local", "fal_shootify_refiner"]
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED", prediction
    assert [a["provider"] for a in prediction["attempts"]] == ["local", "fal_shootify_refiner"]
    refine_call = fake_fal.control.calls("/workflows/Shootify/flux-krea-lora-i2i", "POST")[0]
    assert refine_call.body["image_url"].startswith("data:image/png;base64,")
    assert await stored_size(client, user, prediction) == (64, 96)


async def test_vertex_generation(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_gemini: FakeGemini,
    model: ModelFactory,
) -> None:
    vertex = await model(
        "vertex",
        ["BASE_GENERATION", "EDITING"],
        provider_config={"model": "gemini-2.5-flash-image", "image_size": "1K"},
        **LOCAL_FALLBACK,
    )
    _, done = await generate(client, user, generative_models_id=vertex["id"], width=64, height=80)
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED", prediction
    assert prediction["provider"] == "vertex" and prediction["fallback_used"] is False
    # The fake paints 40x56 without an input image; the result is stored as returned.
    assert (prediction["result_width"], prediction["result_height"]) == (40, 56)
    config = fake_gemini.generate_calls[0].body["generationConfig"]
    assert config["imageConfig"]["aspectRatio"] == "4:5"


async def test_vertex_editing_sends_base_and_product(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_gemini: FakeGemini,
    model: ModelFactory,
) -> None:
    vertex = await model("vertex", ["EDITING"], recommended=True)
    base, product = png(40, 60, (10, 200, 10)), png(20, 20, (0, 0, 250))
    _, done = await generate(
        client,
        user,
        generation_strategy="EDITING",
        generative_models_id=vertex["id"],
        width=64,
        height=96,
        garment_placement_base_image_url=data_url(base),
        product_image=data_url(product),
    )
    assert done["predictions"][0]["provider"] == "vertex", done
    parts = fake_gemini.generate_calls[0].body["contents"][0]["parts"]
    images = [decode_b64(p["inlineData"]["data"]) for p in parts if "inlineData" in p]
    assert len(images) == 2
    assert Image.open(io.BytesIO(images[0])).size == (40, 60)  # the base image leads


async def test_vertex_without_image_falls_back(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_gemini: FakeGemini,
    model: ModelFactory,
) -> None:
    fake_gemini.reply = "no_image"
    vertex = await model("vertex", ["BASE_GENERATION"], **LOCAL_FALLBACK)
    _, done = await generate(client, user, generative_models_id=vertex["id"], width=64, height=80)
    prediction = done["predictions"][0]
    assert prediction["provider"] == "local" and prediction["fallback_used"] is True
    assert prediction["attempts"][0]["error_category"] == "no_image"
    assert "IMAGE_SAFETY" in prediction["fallback_reason"]


async def test_vertex_hang_falls_back(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_gemini: FakeGemini,
    model: ModelFactory,
) -> None:
    fake_gemini.control.mode = "hang"
    vertex = await model("vertex", ["BASE_GENERATION"], **LOCAL_FALLBACK)
    _, done = await generate(client, user, generative_models_id=vertex["id"], width=64, height=80)
    prediction = done["predictions"][0]
    assert prediction["provider"] == "local" and prediction["fallback_used"] is True
    assert prediction["attempts"][0]["error_category"] == "timeout"


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("freepik_magnific", "/v1/ai/image-upscaler"),
        ("freepik_magnific_precision", "/v1/ai/image-upscaler-precision"),
    ],
)
async def test_freepik_upscale_step(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_freepik: FakeFreepik,
    model: ModelFactory,
    provider: str,
    path: str,
) -> None:
    await model(provider, ["UPSCALE"], recommended=True)
    created, done = await generate(client, user, width=64, height=96, scale_factor=2)
    assert created["plan"][1]["provider"] == provider
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED", prediction
    assert await stored_size(client, user, prediction) == (128, 192)
    body = fake_freepik.control.calls(path, "POST")[0].body
    assert Image.open(io.BytesIO(base64.b64decode(body["image"]))).size == (64, 96)


async def test_freepik_failure_fails_the_generation_without_fallback(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_freepik: FakeFreepik,
    model: ModelFactory,
) -> None:
    fake_freepik.control.mode = "fail"
    await model("freepik_magnific", ["UPSCALE"], recommended=True)
    _, done = await generate(client, user, width=64, height=96, scale_factor=2)
    prediction = done["predictions"][0]
    assert prediction["status"] == "ERROR"
    assert prediction["attempts"][-1]["provider"] == "freepik_magnific"
    assert "FAILED" in prediction["attempts"][-1]["error"]


async def test_nano_banana_upscale_step(
    client: httpx.AsyncClient,
    user: TestUser,
    external: Settings,
    fake_gemini: FakeGemini,
    model: ModelFactory,
) -> None:
    await model("nano_banana_upscaler", ["UPSCALE"], recommended=True)
    created, done = await generate(client, user, width=64, height=96, scale_factor=2)
    assert created["plan"][1]["provider"] == "nano_banana_upscaler"
    prediction = done["predictions"][0]
    assert prediction["status"] == "COMPLETED", prediction
    assert await stored_size(client, user, prediction) == (128, 192)
    assert len(fake_gemini.generate_calls) == 1


async def test_unkeyed_seeded_model_is_refused_up_front(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # Without GEMINI_API_KEY/VERTEX_PROJECT the seeded Gemini model's provider is not
    # registered: asking for it is a 422 at creation, not a failure later.
    models = (await client.get(MODELS, params={"limit": 1000})).json()["data"]
    seeded = next(m for m in models if m["provider"] == "vertex" and "(needs " in m["name"])
    r = await client.post(
        URL,
        json={"batch_size": 1, "width": 64, "height": 64, "generative_models_id": seeded["id"]},
        headers=user.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "generative_models_id"]
