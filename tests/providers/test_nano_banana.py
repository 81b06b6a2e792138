"""Nano Banana upscaler: Gemini upscale + SSIM consistency check, against the fake."""

from __future__ import annotations

import asyncio

import pytest

from app.core.config import Settings
from app.providers.base import ErrorCategory, InputImage, ProviderError, ProviderRequest
from app.providers.configs import NanoBananaUpscalerConfig
from app.providers.enums import ProviderCapability
from app.providers.nano_banana import NanoBananaUpscaler
from tests.fakes.common import eventually
from tests.fakes.gemini import FakeGemini
from tests.fakes.images import noise_png, png, resized

SOURCE = png(48, 64)


def request(**fields: object) -> ProviderRequest:
    return ProviderRequest(
        task=ProviderCapability.UPSCALE,
        images=[InputImage(SOURCE, "image/png", role="base")],
        **fields,  # type: ignore[arg-type]
    )


def upscaler(settings: Settings, **config: object) -> NanoBananaUpscaler:
    return NanoBananaUpscaler(NanoBananaUpscalerConfig.model_validate(config), settings)


def noise(_inputs: list[bytes]) -> bytes:
    return noise_png(96, 128)


def faithful(inputs: list[bytes]) -> bytes:
    return resized(inputs[0], 2)


async def test_consistent_upscale_passes_first_time(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    result = await upscaler(gemini_settings, default_prompt="Upscale faithfully").run(
        request(scale_factor=2)
    )
    assert (result.images[0].width, result.images[0].height) == (96, 128)
    assert result.metadata["attempts"] == 1
    assert result.metadata["ssim"][0] >= 0.5
    body = fake_gemini.generate_calls[0].body
    assert body["contents"][0]["parts"][1] == {"text": "Upscale faithfully"}
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:4", "imageSize": "1K"}
    assert fake_gemini.generate_calls[0].path.endswith("/gemini-2.5-flash-image:generateContent")


async def test_image_size_follows_target(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    await upscaler(gemini_settings).run(request(target_width=1536, target_height=2048))
    config = fake_gemini.generate_calls[0].body["generationConfig"]["imageConfig"]
    assert config["imageSize"] == "2K"


async def test_inconsistent_result_is_retried(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.image_queue = [noise, faithful]
    result = await upscaler(gemini_settings, max_retries=2, ssim_threshold=0.5).run(request())
    assert result.metadata["attempts"] == 2
    assert result.metadata["ssim"][0] < 0.5 <= result.metadata["ssim"][1]
    assert len(fake_gemini.generate_calls) == 2


async def test_always_inconsistent_fails_after_max_retries(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.make_image = noise
    with pytest.raises(ProviderError, match="not consistent") as info:
        await upscaler(gemini_settings, max_retries=1).run(request())
    assert info.value.category is ErrorCategory.PROVIDER_ERROR
    assert len(fake_gemini.generate_calls) == 2


async def test_threshold_zero_disables_the_check(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.make_image = noise
    result = await upscaler(gemini_settings, ssim_threshold=0).run(request())
    assert "ssim" not in result.metadata
    assert len(fake_gemini.generate_calls) == 1


async def test_no_image_replies_exhaust_into_no_image(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    fake_gemini.reply = "no_image"
    with pytest.raises(ProviderError) as info:
        await upscaler(gemini_settings, max_retries=1).run(request())
    assert info.value.category is ErrorCategory.NO_IMAGE
    assert "IMAGE_SAFETY" in info.value.message


async def test_missing_input_is_invalid(gemini_settings: Settings) -> None:
    with pytest.raises(ProviderError) as info:
        await upscaler(gemini_settings).run(ProviderRequest(task=ProviderCapability.UPSCALE))
    assert info.value.category is ErrorCategory.INVALID_INPUT


async def test_rate_limit_retried(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.control.flaky_count, fake_gemini.control.flaky_status = 1, 429
    result = await upscaler(gemini_settings).run(request())
    assert result.images


@pytest.mark.parametrize(
    ("mode", "category"),
    [
        ("hang", ErrorCategory.TIMEOUT),
        ("malformed", ErrorCategory.MALFORMED_RESPONSE),
        ("error", ErrorCategory.INVALID_INPUT),
    ],
)
async def test_failures(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: str, category: ErrorCategory
) -> None:
    fake_gemini.control.mode = mode
    with pytest.raises(ProviderError) as info:
        await upscaler(gemini_settings).run(request())
    assert info.value.category is category


async def test_cancellation(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.control.mode = "hang"
    settings = gemini_settings.model_copy(update={"PROVIDER_REQUEST_TIMEOUT_SECONDS": 30.0})
    task = asyncio.create_task(upscaler(settings).run(request()))
    await eventually(lambda: fake_gemini.generate_calls)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
