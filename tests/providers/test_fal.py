"""fal queue clients against the fake fal host."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import struct
import zlib

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.config import Settings
from app.providers.base import (
    ErrorCategory,
    InputImage,
    LoraSpec,
    ProviderError,
    ProviderRequest,
)
from app.providers.configs import FalShootifyRefinerConfig, FalStandardConfig
from app.providers.enums import ProviderCapability
from app.providers.fal import FalShootifyRefinerProvider, FalStandardProvider
from app.providers.transport import to_output_image
from tests.fakes.common import eventually
from tests.fakes.fal import FAL_KEY, FakeFal
from tests.fakes.images import png, size_of
from tests.fakes.server import serve

T2I = ProviderCapability.TEXT_TO_IMAGE


def standard(settings: Settings, **config: object) -> FalStandardProvider:
    return FalStandardProvider(FalStandardConfig.model_validate(config), settings)


async def test_happy_path_maps_request_and_downloads_images(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(fraction: float, message: str | None) -> None:
        progress.append((fraction, message))

    fake_fal.control.polls_before_done = 2
    provider = standard(
        fal_settings,
        fal_app_id="fal-ai/flux-lora/dev",
        additional_static_params={"guidance_scale": 3.5, "num_images": 9},
    )
    product = png(16, 16)
    request = ProviderRequest(
        task=T2I,
        prompt="a model in a red dress",
        negative_prompt="blurry",
        width=40,
        height=56,
        seed=1234,
        num_images=2,
        loras=[
            LoraSpec(kind="subject", path="https://loras.example/subject.safetensors", scale=0.9),
            LoraSpec(kind="style", path="https://loras.example/style.safetensors", scale=0.4),
        ],
        images=[InputImage(data=product, mime_type="image/png", role="product")],
    )
    result = await provider.run(request, on_progress)

    submitted = fake_fal.control.calls("/fal-ai/flux-lora/dev", "POST")[0]
    assert submitted.headers["authorization"] == f"Key {FAL_KEY}"
    body = submitted.body
    assert body["prompt"] == "a model in a red dress"
    assert body["negative_prompt"] == "blurry"
    assert body["image_size"] == {"width": 40, "height": 56}
    assert body["seed"] == 1234
    assert body["num_images"] == 2  # the generation's value wins over the static one
    assert body["guidance_scale"] == 3.5
    assert body["loras"] == [
        {"path": "https://loras.example/subject.safetensors", "scale": 0.9},
        {"path": "https://loras.example/style.safetensors", "scale": 0.4},
    ]
    assert body["image_urls"] == ["data:image/png;base64," + base64.b64encode(product).decode()]
    # status polled on the app without its sub-path, with logs
    status_calls = fake_fal.control.calls("/status", "GET")
    assert status_calls[0].path.startswith("/fal-ai/flux-lora/requests/")
    assert status_calls[0].query["logs"] == "1"

    assert len(result.images) == 2
    assert all((img.width, img.height, img.seed) == (40, 56, 1234) for img in result.images)
    assert result.images[0].mime_type == "image/png"
    assert result.metadata["fal_request_id"] in fake_fal.jobs
    assert progress[0][1] == "queued (position 2)"
    assert any(message == "step 10/28" for _, message in progress)


async def test_refiner_sends_base_image_and_returns_it_refined(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    provider = FalShootifyRefinerProvider(FalShootifyRefinerConfig(), fal_settings)
    base = png(32, 40)
    result = await provider.run(
        ProviderRequest(
            task=ProviderCapability.REFINE,
            prompt="refine",
            seed=7,
            images=[InputImage(base, "image/png", role="base")],
            options={"strength": 0.35},
        )
    )
    call = fake_fal.control.calls("/workflows/Shootify/flux-krea-lora-i2i", "POST")[0]
    assert call.body["image_url"].startswith("data:image/png;base64,")
    assert call.body["strength"] == 0.35
    assert (result.images[0].width, result.images[0].height) == size_of(base)


async def test_refiner_without_base_image_is_invalid_input(fal_settings: Settings) -> None:
    provider = FalShootifyRefinerProvider(FalShootifyRefinerConfig(), fal_settings)
    with pytest.raises(ProviderError) as info:
        await provider.run(ProviderRequest(task=ProviderCapability.REFINE, prompt="x"))
    assert info.value.category is ErrorCategory.INVALID_INPUT


async def test_validation_error_is_not_retried_and_carries_fals_message(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    fake_fal.control.mode = "error"
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.INVALID_INPUT
    assert "image_size: image_size is not supported by this app" in info.value.message
    assert len(fake_fal.control.calls("/fal-ai/flux/dev", "POST")) == 1


async def test_failed_run_surfaces_the_result_error(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    fake_fal.control.mode = "fail"
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert "LoRA not found" in info.value.message
    assert info.value.category is ErrorCategory.INVALID_INPUT


async def test_empty_result_is_no_image(fake_fal: FakeFal, fal_settings: Settings) -> None:
    fake_fal.control.mode = "no_image"
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.NO_IMAGE


@pytest.mark.parametrize("status", [429, 503, 408, 409])
async def test_retry_then_success(fake_fal: FakeFal, fal_settings: Settings, status: int) -> None:
    fake_fal.control.flaky_count, fake_fal.control.flaky_status = 2, status
    result = await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert len(result.images) == 1
    assert len(fake_fal.control.calls("/fal-ai/flux/dev", "POST")) == 3


async def test_retries_give_up_with_rate_limited(fake_fal: FakeFal, fal_settings: Settings) -> None:
    fake_fal.control.flaky_count, fake_fal.control.flaky_status = 10, 429
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.RATE_LIMITED
    assert len(fake_fal.control.calls("/fal-ai/flux/dev", "POST")) == 3  # the policy's attempts


@pytest.mark.parametrize("step", ["submit", "status", "result"])
async def test_hang_times_out(fake_fal: FakeFal, fal_settings: Settings, step: str) -> None:
    fake_fal.control.mode, fake_fal.control.mode_step = "hang", step
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.TIMEOUT


async def test_job_that_never_finishes_times_out_and_is_cancelled(
    fake_fal: FakeFal, provider_settings: object
) -> None:
    settings = provider_settings(  # type: ignore[operator]
        FAL_KEY=FAL_KEY, FAL_QUEUE_URL=fake_fal.base_url, PROVIDER_JOB_TIMEOUT_SECONDS=0.2
    )
    fake_fal.control.polls_before_done = -1
    with pytest.raises(ProviderError) as info:
        await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.TIMEOUT
    assert len(fake_fal.cancelled) == 1


@pytest.mark.parametrize("step", ["submit", "status", "result"])
async def test_malformed_json(fake_fal: FakeFal, fal_settings: Settings, step: str) -> None:
    fake_fal.control.mode, fake_fal.control.mode_step = "malformed", step
    with pytest.raises(ProviderError) as info:
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


async def test_cancelling_the_generation_reaches_fal(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    fake_fal.control.polls_before_done = -1
    task = asyncio.create_task(standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x")))
    await eventually(lambda: fake_fal.control.calls("/status"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fake_fal.cancelled) == 1
    assert fake_fal.control.calls("/cancel", "PUT")[0].headers["authorization"] == f"Key {FAL_KEY}"


async def test_missing_key_is_a_configuration_error(
    fake_fal: FakeFal, provider_settings: object
) -> None:
    settings = provider_settings(FAL_QUEUE_URL=fake_fal.base_url)  # type: ignore[operator]
    with pytest.raises(ProviderError) as info:
        await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert not fake_fal.control.requests


async def test_wrong_key_is_a_configuration_error(
    fake_fal: FakeFal, provider_settings: object
) -> None:
    settings = provider_settings(  # type: ignore[operator]
        FAL_KEY="wrong", FAL_QUEUE_URL=fake_fal.base_url
    )
    with pytest.raises(ProviderError) as info:
        await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.CONFIGURATION


async def test_status_urls_off_the_queue_host_are_refused(
    fake_fal: FakeFal, provider_settings: object
) -> None:
    # Submitting through "localhost" while the fake answers with 127.0.0.1 URLs: our key
    # must not follow URLs to another host.
    settings = provider_settings(  # type: ignore[operator]
        FAL_KEY=FAL_KEY, FAL_QUEUE_URL=fake_fal.base_url.replace("127.0.0.1", "localhost")
    )
    with pytest.raises(ProviderError) as info:
        await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


async def test_secrets_and_images_are_not_logged(
    fake_fal: FakeFal, fal_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    image = png(16, 16)
    fake_fal.control.mode = "fail"
    with pytest.raises(ProviderError):
        await standard(fal_settings).run(
            ProviderRequest(task=T2I, prompt="x", images=[InputImage(image, "image/png")])
        )
    fake_fal.control.mode = "normal"
    await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    text = caplog.text
    assert "submitted to" in text  # the success path did log
    assert "fal-key-secret" not in text
    assert base64.b64encode(image).decode()[:40] not in text


async def test_a_status_poll_that_fails_cancels_the_job(
    fake_fal: FakeFal, fal_settings: Settings
) -> None:
    # The job may still be running (and billed) when we stop asking about it.
    fake_fal.control.mode, fake_fal.control.mode_step = "hang", "status"
    with pytest.raises(ProviderError):
        await standard(fal_settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert len(fake_fal.cancelled) == 1


async def test_an_answer_larger_than_the_cap_is_refused(
    fake_fal: FakeFal, provider_settings: object
) -> None:
    settings = provider_settings(  # type: ignore[operator]
        FAL_KEY=FAL_KEY, FAL_QUEUE_URL=fake_fal.base_url, PROVIDER_MAX_DOWNLOAD_BYTES=40
    )
    with pytest.raises(ProviderError) as info:
        await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE
    assert "larger than 40 bytes" in info.value.message


def _declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height: a few hundred bytes, no pixels to speak of."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )  # fmt: skip

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [12_000, 20_000])
async def test_a_result_declaring_too_many_pixels_is_refused_unread(side: int) -> None:
    # 144 MP passed with a warning from Pillow, 400 MP raised its bomb error as "internal".
    with pytest.raises(ProviderError) as info:
        await to_output_image(_declaring(side, side), what="fal")
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE
    assert "pixels, over the 67108864 allowed" in info.value.message


@pytest.mark.parametrize(("fmt", "mode"), [("TIFF", "RGB"), ("TIFF", "CMYK"), ("BMP", "RGB")])
async def test_a_result_in_another_format_is_stored_as_png(fmt: str, mode: str) -> None:
    # Served from the API's origin with the type the bytes have: only image types browsers
    # display inertly (TIFF came out as image/tiff, EPS as application/postscript).
    buffer = io.BytesIO()
    Image.new(mode, (7, 5)).save(buffer, format=fmt)
    output = await to_output_image(buffer.getvalue(), what="fal")
    assert (output.mime_type, output.width, output.height) == ("image/png", 7, 5)
    with Image.open(io.BytesIO(output.data)) as image:
        assert image.format == "PNG" and image.size == (7, 5)
    jpeg = io.BytesIO()
    Image.new("RGB", (7, 5)).save(jpeg, format="JPEG")
    kept = await to_output_image(jpeg.getvalue(), what="fal")
    assert kept.data == jpeg.getvalue() and kept.mime_type == "image/jpeg"


async def test_a_provider_echoing_our_key_has_it_redacted(provider_settings: object) -> None:
    # A provider (or a proxy in front of it) that quotes the credentials it was sent: the
    # message is stored on the prediction and logged.
    async def echo(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        return JSONResponse({"detail": f"bad credentials: {auth}"}, status_code=401)

    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "PUT"])])
    with serve(app) as url:
        settings = provider_settings(  # type: ignore[operator]
            FAL_KEY="key-id-123:very-secret-value", FAL_QUEUE_URL=url
        )
        with pytest.raises(ProviderError) as info:
            await standard(settings).run(ProviderRequest(task=T2I, prompt="x"))
    assert "bad credentials: Key [redacted]" in info.value.message
    assert "very-secret-value" not in str(info.value) and "key-id-123" not in str(info.value)
