"""Gemini image generation (`vertex`) against the fake generateContent endpoint."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest
from google.oauth2.credentials import Credentials

from app.core.config import Settings
from app.providers.base import ErrorCategory, InputImage, ProviderError, ProviderRequest
from app.providers.configs import VertexConfig
from app.providers.enums import ProviderCapability
from app.providers.vertex import VertexProvider
from tests.fakes.common import eventually
from tests.fakes.gemini import GEMINI_KEY, FakeGemini, decode_b64
from tests.fakes.images import png
from tests.providers.conftest import SettingsFactory

T2I = ProviderCapability.TEXT_TO_IMAGE


def vertex(settings: Settings, **config: object) -> VertexProvider:
    return VertexProvider(VertexConfig.model_validate(config), settings)


async def test_gemini_api_mode_maps_config_and_images(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    product, reference = png(20, 20, (10, 200, 10)), png(16, 24)
    provider = vertex(
        gemini_settings,
        model="gemini-3-pro-image-preview",
        aspect_ratio="3:4",
        image_size="2K",
        system_instructions="You are a fashion photographer.",
        temperature=0.4,
        top_p=0.8,
    )
    request = ProviderRequest(
        task=ProviderCapability.IMAGE_EDITING,
        prompt="Put the garment on the model",
        seed=11,
        images=[
            InputImage(reference, "image/png", role="reference"),
            InputImage(product, "image/png", role="product"),
        ],
    )
    result = await provider.run(request)

    call = fake_gemini.generate_calls[0]
    assert call.path.endswith("/models/gemini-3-pro-image-preview:generateContent")
    assert call.headers["x-goog-api-key"] == GEMINI_KEY
    body = call.body
    parts = body["contents"][0]["parts"]
    # product before reference, prompt last
    assert decode_b64(parts[0]["inlineData"]["data"]) == product
    assert decode_b64(parts[1]["inlineData"]["data"]) == reference
    assert parts[2] == {"text": "Put the garment on the model"}
    assert body["systemInstruction"]["parts"][0]["text"] == "You are a fashion photographer."
    generation = body["generationConfig"]
    assert generation["temperature"] == 0.4
    assert generation["topP"] == 0.8
    assert generation["seed"] == 11
    assert generation["imageConfig"] == {"aspectRatio": "3:4", "imageSize": "2K"}
    assert set(generation["responseModalities"]) == {"IMAGE", "TEXT"}

    image = result.images[0]
    assert (image.width, image.height, image.seed) == (40, 40, 11)  # the fake echoes 2x input
    assert result.metadata["usage"][0]["total_tokens"] == 15


async def test_aspect_ratio_follows_request_size_when_unset(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    await vertex(gemini_settings).run(
        ProviderRequest(task=T2I, prompt="x", width=768, height=1344, num_images=2)
    )
    assert len(fake_gemini.generate_calls) == 2
    config = fake_gemini.generate_calls[0].body["generationConfig"]["imageConfig"]
    assert config["aspectRatio"] == "9:16"


async def test_vertex_mode_with_project_and_location(
    fake_gemini: FakeGemini, provider_settings: SettingsFactory
) -> None:
    settings = provider_settings(
        VERTEX_PROJECT="my-proj",
        VERTEX_LOCATION="europe-west4",
        VERTEX_BASE_URL=fake_gemini.base_url,
    )
    provider = VertexProvider(VertexConfig(), settings, credentials=Credentials(token="tok"))
    result = await provider.run(ProviderRequest(task=T2I, prompt="x"))
    call = fake_gemini.generate_calls[0]
    assert call.path.endswith(
        "/projects/my-proj/locations/europe-west4/publishers/google/models/"
        "gemini-2.5-flash-image:generateContent"
    )
    assert call.headers["authorization"] == "Bearer tok"
    assert result.images


@pytest.mark.parametrize("reply", ["no_image", "blocked", "text_only"])
async def test_reply_without_image_is_no_image(
    fake_gemini: FakeGemini, gemini_settings: Settings, reply: str
) -> None:
    fake_gemini.reply = reply
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.NO_IMAGE
    expected = {"no_image": "IMAGE_SAFETY", "blocked": "PROHIBITED_CONTENT", "text_only": "no"}
    assert expected[reply] in info.value.message


async def test_resource_exhausted_is_retried(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.control.flaky_count, fake_gemini.control.flaky_status = 2, 429
    result = await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert result.images
    assert len(fake_gemini.generate_calls) == 3


async def test_persistent_rate_limit_gives_up(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.control.flaky_count, fake_gemini.control.flaky_status = 10, 429
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.RATE_LIMITED
    assert "RESOURCE_EXHAUSTED" in info.value.message or "exhausted" in info.value.message


async def test_invalid_argument_not_retried(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.control.mode = "error"
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.INVALID_INPUT
    assert "Unsupported aspect ratio" in info.value.message
    assert len(fake_gemini.generate_calls) == 1


async def test_hang_times_out(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.control.mode = "hang"
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.TIMEOUT


async def test_malformed_json(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.control.mode = "malformed"
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


async def test_cancellation_abandons_the_call(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.control.mode = "hang"
    settings = gemini_settings.model_copy(update={"PROVIDER_REQUEST_TIMEOUT_SECONDS": 30.0})
    task = asyncio.create_task(vertex(settings).run(ProviderRequest(task=T2I, prompt="x")))
    await eventually(lambda: fake_gemini.generate_calls)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)


async def test_unconfigured_is_configuration_error(provider_settings: SettingsFactory) -> None:
    with pytest.raises(ProviderError) as info:
        await vertex(provider_settings()).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.CONFIGURATION


async def test_bad_key_is_configuration_error(
    fake_gemini: FakeGemini, provider_settings: SettingsFactory
) -> None:
    settings = provider_settings(GEMINI_API_KEY="wrong", GEMINI_BASE_URL=fake_gemini.base_url)
    with pytest.raises(ProviderError) as info:
        await vertex(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.CONFIGURATION


async def test_key_and_images_not_logged(
    fake_gemini: FakeGemini, gemini_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    image = png(16, 16)
    await vertex(gemini_settings).run(
        ProviderRequest(task=T2I, prompt="x", images=[InputImage(image, "image/png")])
    )
    fake_gemini.control.mode = "error"
    with pytest.raises(ProviderError):
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert GEMINI_KEY not in caplog.text
    assert base64.b64encode(image).decode()[:40] not in caplog.text


async def test_one_failed_image_call_cancels_its_siblings(
    gemini_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One call per image: when one fails, the others are stopped, not paid for and dropped.
    calls: list[int] = []
    cancelled: list[int] = []

    async def generate_content(*_: object, **__: object) -> object:
        index = len(calls)
        calls.append(index)
        if index == 0:
            await asyncio.sleep(0.05)
            raise ProviderError("gemini: refused", ErrorCategory.INVALID_INPUT)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        raise AssertionError("not cancelled")

    monkeypatch.setattr("app.providers.vertex.generate_content", generate_content)
    with pytest.raises(ProviderError) as info:
        await vertex(gemini_settings).run(ProviderRequest(task=T2I, prompt="x", num_images=3))
    assert info.value.category is ErrorCategory.INVALID_INPUT
    assert sorted(cancelled) == [1, 2]
