"""Freepik / Magnific upscalers against the fake task API."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest

from app.core.config import Settings
from app.providers.base import ErrorCategory, InputImage, ProviderError, ProviderRequest
from app.providers.configs import FreepikMagnificConfig, FreepikMagnificPrecisionConfig
from app.providers.enums import ProviderCapability
from app.providers.freepik import FreepikMagnificPrecisionProvider, FreepikMagnificProvider
from tests.fakes.common import eventually
from tests.fakes.freepik import FREEPIK_KEY, FakeFreepik
from tests.fakes.images import png
from tests.providers.conftest import SettingsFactory

UP = ProviderCapability.UPSCALE
SOURCE = png(24, 32)


def upscale(**fields: object) -> ProviderRequest:
    return ProviderRequest(
        task=UP,
        images=[InputImage(SOURCE, "image/png", role="base")],
        **fields,  # type: ignore[arg-type]
    )


def magnific(settings: Settings, **config: object) -> FreepikMagnificProvider:
    return FreepikMagnificProvider(FreepikMagnificConfig.model_validate(config), settings)


async def test_creative_upscale_sends_config_and_downloads_result(
    fake_freepik: FakeFreepik, freepik_settings: Settings
) -> None:
    fake_freepik.control.polls_before_done = 2
    progress: list[str | None] = []

    async def on_progress(_fraction: float, message: str | None) -> None:
        progress.append(message)

    provider = magnific(
        freepik_settings,
        creativity=3,
        hdr=-2,
        resemblance=5,
        fractality=1,
        engine="magnific_sharpy",
        optimized_for="soft_portraits",
        defaultPrompt="crisp fabric",
    )
    result = await provider.run(upscale(scale_factor=4), on_progress)

    created = fake_freepik.control.calls("/v1/ai/image-upscaler", "POST")[0]
    assert created.headers["x-freepik-api-key"] == FREEPIK_KEY
    body = created.body
    assert base64.b64decode(body["image"]) == SOURCE
    assert {k: v for k, v in body.items() if k != "image"} == {
        "scale_factor": "4x",
        "optimized_for": "soft_portraits",
        "creativity": 3,
        "hdr": -2,
        "resemblance": 5,
        "fractality": 1,
        "engine": "magnific_sharpy",
        "prompt": "crisp fabric",
    }
    image = result.images[0]
    assert (image.width, image.height) == (96, 128)
    assert result.metadata["freepik_task_id"] in fake_freepik.tasks
    assert "IN_PROGRESS" in progress


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"scale_factor": 3}, "4x"),
        ({"scale_factor": 16}, "16x"),
        ({}, "2x"),
        ({"target_width": 24 * 7}, "8x"),
    ],
)
async def test_scale_factor_mapping(
    fake_freepik: FakeFreepik, freepik_settings: Settings, fields: dict[str, int], expected: str
) -> None:
    fake_freepik.control.polls_before_done = 0
    await magnific(freepik_settings).run(upscale(**fields))
    assert (
        fake_freepik.control.calls("/v1/ai/image-upscaler", "POST")[0].body["scale_factor"]
        == expected
    )


async def test_precision_sends_its_fields_only(
    fake_freepik: FakeFreepik, freepik_settings: Settings
) -> None:
    provider = FreepikMagnificPrecisionProvider(
        FreepikMagnificPrecisionConfig(sharpen=70, smart_grain=3, ultra_detail=55), freepik_settings
    )
    result = await provider.run(upscale(scale_factor=2))
    body = fake_freepik.control.calls("/v1/ai/image-upscaler-precision", "POST")[0].body
    assert {k: v for k, v in body.items() if k != "image"} == {
        "sharpen": 70,
        "smart_grain": 3,
        "ultra_detail": 55,
    }
    assert fake_freepik.control.calls("/v1/ai/image-upscaler-precision/", "GET")
    assert result.images[0].width == 48


async def test_configurable_header_and_base_url(
    fake_freepik: FakeFreepik, provider_settings: SettingsFactory
) -> None:
    fake_freepik.key_header = "x-magnific-api-key"
    settings = provider_settings(
        FREEPIK_API_KEY=FREEPIK_KEY,
        FREEPIK_BASE_URL=fake_freepik.base_url + "/",
        FREEPIK_API_KEY_HEADER="x-magnific-api-key",
    )
    result = await magnific(settings).run(upscale())
    assert result.images


async def test_validation_error_names_the_parameter(
    fake_freepik: FakeFreepik, freepik_settings: Settings
) -> None:
    fake_freepik.control.mode = "error"
    with pytest.raises(ProviderError) as info:
        await magnific(freepik_settings).run(upscale())
    assert info.value.category is ErrorCategory.INVALID_INPUT
    assert "image: image too large" in info.value.message
    assert len(fake_freepik.control.calls("/v1/ai/image-upscaler", "POST")) == 1


async def test_failed_task(fake_freepik: FakeFreepik, freepik_settings: Settings) -> None:
    fake_freepik.control.mode = "fail"
    with pytest.raises(ProviderError, match="FAILED") as info:
        await magnific(freepik_settings).run(upscale())
    assert info.value.category is ErrorCategory.PROVIDER_ERROR


async def test_bad_key_is_configuration(
    fake_freepik: FakeFreepik, provider_settings: SettingsFactory
) -> None:
    settings = provider_settings(FREEPIK_API_KEY="nope", FREEPIK_BASE_URL=fake_freepik.base_url)
    with pytest.raises(ProviderError) as info:
        await magnific(settings).run(upscale())
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert "Invalid API key" in info.value.message


async def test_no_image_is_invalid_input(freepik_settings: Settings) -> None:
    with pytest.raises(ProviderError) as info:
        await magnific(freepik_settings).run(ProviderRequest(task=UP))
    assert info.value.category is ErrorCategory.INVALID_INPUT


@pytest.mark.parametrize("step", ["submit", "poll"])
async def test_retry_then_success(
    fake_freepik: FakeFreepik, freepik_settings: Settings, step: str
) -> None:
    control = fake_freepik.control
    control.flaky_count, control.flaky_status, control.flaky_step = 2, 503, step
    result = await magnific(freepik_settings).run(upscale())
    assert result.images
    assert control.flaky_count == 0


@pytest.mark.parametrize("step", ["submit", "poll"])
async def test_hang_times_out(
    fake_freepik: FakeFreepik, freepik_settings: Settings, step: str
) -> None:
    fake_freepik.control.mode, fake_freepik.control.mode_step = "hang", step
    with pytest.raises(ProviderError) as info:
        await magnific(freepik_settings).run(upscale())
    assert info.value.category is ErrorCategory.TIMEOUT


async def test_task_never_finishing_times_out(
    fake_freepik: FakeFreepik, provider_settings: SettingsFactory
) -> None:
    settings = provider_settings(
        FREEPIK_API_KEY=FREEPIK_KEY,
        FREEPIK_BASE_URL=fake_freepik.base_url,
        PROVIDER_JOB_TIMEOUT_SECONDS=0.2,
    )
    fake_freepik.control.polls_before_done = -1
    with pytest.raises(ProviderError) as info:
        await magnific(settings).run(upscale())
    assert info.value.category is ErrorCategory.TIMEOUT


@pytest.mark.parametrize("step", ["submit", "poll"])
async def test_malformed_json(
    fake_freepik: FakeFreepik, freepik_settings: Settings, step: str
) -> None:
    fake_freepik.control.mode, fake_freepik.control.mode_step = "malformed", step
    with pytest.raises(ProviderError) as info:
        await magnific(freepik_settings).run(upscale())
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


async def test_cancellation_stops_polling(
    fake_freepik: FakeFreepik, freepik_settings: Settings
) -> None:
    # Freepik has no cancel endpoint: cancelling our side must stop the polling at once.
    fake_freepik.control.polls_before_done = -1
    task = asyncio.create_task(magnific(freepik_settings).run(upscale()))
    await eventually(lambda: fake_freepik.control.calls("/v1/ai/image-upscaler/", "GET"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    polls = len(fake_freepik.control.calls("/v1/ai/image-upscaler/", "GET"))
    await asyncio.sleep(0.1)
    assert len(fake_freepik.control.calls("/v1/ai/image-upscaler/", "GET")) == polls


async def test_key_and_image_not_logged(
    fake_freepik: FakeFreepik, freepik_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_freepik.control.mode = "error"
    with pytest.raises(ProviderError):
        await magnific(freepik_settings).run(upscale())
    fake_freepik.control.mode = "normal"
    await magnific(freepik_settings).run(upscale())
    assert "created on" in caplog.text  # the success path did log
    assert FREEPIK_KEY not in caplog.text
    assert base64.b64encode(SOURCE).decode()[:40] not in caplog.text
