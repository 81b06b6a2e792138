"""The local refiner providers through the registry, as the pipeline uses them (and the local
provider's error mapping, which they share)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from app.imaging.io import decode_image, encode_image, to_array, to_image
from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    InputImage,
    OutputImage,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
)
from app.providers.configs import FalStandardConfig, LocalConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.local import HANDLERS, LocalProvider
from app.providers.local_tools import register_local_refiners
from app.providers.registry import ProviderRegistry
from tests.imaging.synthetic import portrait, textured_gradient


def _registry() -> ProviderRegistry:
    registry = ProviderRegistry()
    register_local_refiners(registry)
    return registry


def _base(image: Any) -> InputImage:
    data, mime = encode_image(image)
    return InputImage(data=data, mime_type=mime, role="base")


def test_registration_declares_capabilities() -> None:
    registry = _registry()
    assert registry.capabilities(ProviderType.SARTIQ_ULTIMATE_REFINER) == {
        ProviderCapability.REFINE,
        ProviderCapability.UPSCALE,
    }
    assert registry.capabilities(ProviderType.SARTIQ_ULTIMATE_FACE_FIXER) == {
        ProviderCapability.FACE_FIXING
    }
    assert registry.capabilities(ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER) == {
        ProviderCapability.GARMENT_FIXING
    }


async def test_refiner_provider_refines_off_the_event_loop() -> None:
    provider = _registry().create(
        ProviderType.SARTIQ_ULTIMATE_REFINER, {"version": "1", "num_tiles": 4}
    )
    request = ProviderRequest(
        task=ProviderCapability.REFINE,
        images=[_base(textured_gradient(96, 64))],
        scale_factor=2,
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    background = asyncio.create_task(ticker())
    result = await provider.run(request)
    background.cancel()
    (image,) = result.images
    assert (image.width, image.height) == (192, 128)
    assert decode_image(image.data).size == (192, 128)
    assert result.metadata["enhancer"] == "local"
    assert result.metadata["tiles_total"] == 4
    assert ticks > 0  # the loop kept running while the tiles were processed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a-not-really", "corrupt"),
    ],
)
async def test_bad_input_is_an_invalid_input_error(data: bytes, message: str) -> None:
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_REFINER, {})
    request = ProviderRequest(
        task=ProviderCapability.REFINE, images=[InputImage(data, "image/png", "base")]
    )
    with pytest.raises(ProviderError, match=message) as caught:
        await provider.run(request)
    assert caught.value.category is ErrorCategory.INVALID_INPUT


async def test_missing_image_and_wrong_task_are_refused() -> None:
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_FACE_FIXER, {})
    with pytest.raises(ProviderError, match="needs an input image") as caught:
        await provider.run(ProviderRequest(task=ProviderCapability.FACE_FIXING))
    assert caught.value.category is ErrorCategory.INVALID_INPUT
    with pytest.raises(ProviderError, match="does not support REFINE"):
        await provider.run(
            ProviderRequest(
                task=ProviderCapability.REFINE, images=[_base(textured_gradient(32, 32))]
            )
        )


async def test_bad_garment_options_are_invalid_input() -> None:
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER, {})
    request = ProviderRequest(
        task=ProviderCapability.GARMENT_FIXING,
        images=[_base(portrait(128, 192).image)],
        options={"product_family": "hats"},
    )
    with pytest.raises(ProviderError, match="unknown product family") as caught:
        await provider.run(request)
    assert caught.value.category is ErrorCategory.INVALID_INPUT


async def test_garment_fixer_provider_uses_the_box_and_measures_product_colour() -> None:
    drawn = portrait(192, 288)
    product = to_image(np.full((32, 32, 3), (160, 40, 45), np.uint8))
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER, {})
    data, mime = encode_image(product)
    request = ProviderRequest(
        task=ProviderCapability.GARMENT_FIXING,
        images=[_base(drawn.image), InputImage(data, mime, "product")],
        options={"garment_box": drawn.top.as_list()},
    )
    result = await provider.run(request)
    assert result.metadata["located_by"] == {"source": "request"}
    assert result.metadata["colour_fidelity"]["after"] < 15


async def test_face_fixer_provider_reports_no_face() -> None:
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_FACE_FIXER, {})
    request = ProviderRequest(
        task=ProviderCapability.FACE_FIXING, images=[_base(textured_gradient(64, 48, text=False))]
    )
    result = await provider.run(request)
    assert result.metadata["reason"] == "no face detected"


class FakeUpstream(ImageProvider[FalStandardConfig]):
    """Stands in for fal / Nano Banana: returns the region slightly brightened, or fails."""

    provider_type: ClassVar[ProviderType] = ProviderType.FAL_STANDARD
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.IMAGE_EDITING}
    )
    calls: ClassVar[list[ProviderRequest]] = []
    fail: ClassVar[bool] = False

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        FakeUpstream.calls.append(request)
        return ProviderHandle(request=request)

    async def result(self, handle: ProviderHandle, on_progress: Any = None) -> ProviderResult:
        if FakeUpstream.fail:
            raise ProviderError("upstream said no", ErrorCategory.PROVIDER_ERROR)
        base = handle.request.image("base")
        assert base is not None
        pixels = to_array(decode_image(base.data))
        out = to_image(np.clip(pixels.astype(np.int16) + 2, 0, 255).astype(np.uint8))
        data, mime = encode_image(out)
        return ProviderResult(images=[OutputImage(data, mime, out.width, out.height)])


@pytest.fixture
def upstream_registry() -> ProviderRegistry:
    registry = _registry()
    registry.register(ProviderType.FAL_STANDARD, FakeUpstream)
    FakeUpstream.calls = []
    FakeUpstream.fail = False
    return registry


async def test_an_upstream_provider_can_be_the_inner_enhancer(
    upstream_registry: ProviderRegistry,
) -> None:
    provider = upstream_registry.create(
        ProviderType.SARTIQ_ULTIMATE_REFINER,
        {
            "version": "1",
            "num_tiles": 4,
            "additional_properties": {
                "inner_provider": {"provider": "fal_standard", "provider_config": {}}
            },
        },
    )
    request = ProviderRequest(
        task=ProviderCapability.REFINE,
        prompt="crisp knit texture",
        images=[_base(textured_gradient(96, 64))],
        scale_factor=2,
        options={"faces": []},
    )
    result = await provider.run(request)
    assert result.metadata["enhancer"] == "provider:fal_standard"
    assert len(FakeUpstream.calls) == 4
    first = FakeUpstream.calls[0]
    assert first.task is ProviderCapability.IMAGE_EDITING
    assert first.prompt == "crisp knit texture"
    assert result.metadata["tiles_enhanced"] == 4


async def test_a_failing_upstream_falls_back_to_the_source_tiles(
    upstream_registry: ProviderRegistry,
) -> None:
    FakeUpstream.fail = True
    provider = upstream_registry.create(
        ProviderType.SARTIQ_ULTIMATE_REFINER, {"version": "1", "num_tiles": 2, "max_retries": 1}
    )
    request = ProviderRequest(
        task=ProviderCapability.REFINE,
        images=[_base(textured_gradient(64, 48))],
        options={"inner_provider": provider_instance(upstream_registry), "faces": []},
    )
    result = await provider.run(request)
    assert result.metadata["tiles_fallback"] == 2
    assert "upstream said no" in result.metadata["tiles"][0]["errors"][0]
    assert len(FakeUpstream.calls) == 4  # 2 tiles x (1 + 1 retry)


def provider_instance(registry: ProviderRegistry) -> ImageProvider[Any]:
    return registry.create(ProviderType.FAL_STANDARD, {})


async def test_unknown_inner_provider_is_a_configuration_error() -> None:
    provider = _registry().create(
        ProviderType.SARTIQ_ULTIMATE_REFINER,
        {"additional_properties": {"inner_provider": {"provider": "vertex"}}},
    )
    request = ProviderRequest(
        task=ProviderCapability.REFINE, images=[_base(textured_gradient(32, 32))]
    )
    with pytest.raises(ProviderError) as caught:
        await provider.run(request)
    assert caught.value.category is ErrorCategory.CONFIGURATION


async def test_debug_tiles_are_written(tmp_path: Path) -> None:
    from app.providers.configs import SartiqUltimateRefinerConfig
    from app.providers.sartiq_ultimate_refiner import SartiqUltimateRefiner

    provider = SartiqUltimateRefiner(
        SartiqUltimateRefinerConfig(version="1", num_tiles=2, save_debug_tiles=True),
        debug_root=tmp_path,
    )
    request = ProviderRequest(
        task=ProviderCapability.REFINE,
        images=[_base(textured_gradient(64, 48))],
        options={"faces": []},
    )
    result = await provider.run(request)
    written = sorted(os.listdir(result.metadata["debug_dir"]))
    assert "upscaled.png" in written and "result.png" in written
    assert "tile000_attempt0_pass.png" in written


async def test_cancel_stops_a_running_refine() -> None:
    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_REFINER, {"version": "2"})
    request = ProviderRequest(
        task=ProviderCapability.REFINE, images=[_base(textured_gradient(64, 96))]
    )
    handle = await provider.submit(request)
    await provider.cancel(handle)
    with pytest.raises(ProviderError) as caught:
        await provider.result(handle)
    assert caught.value.category is ErrorCategory.CANCELLED


async def test_opencv_refusing_an_input_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenCV's assertions are cv2.error, not ValueError: still bad input, not an internal error.
    def refuse(*_args: Any) -> Any:
        raise cv2.error("OpenCV(4): error: (-215:Assertion failed) !bgdSamples.empty()")

    request = ProviderRequest(
        task=ProviderCapability.IMAGE_ADJUSTING, images=[_base(textured_gradient(32, 32))]
    )
    monkeypatch.setitem(HANDLERS, ProviderCapability.IMAGE_ADJUSTING, refuse)
    with pytest.raises(ProviderError, match="cannot process the input image") as caught:
        await LocalProvider(LocalConfig()).run(request)
    assert caught.value.category is ErrorCategory.INVALID_INPUT

    provider = _registry().create(ProviderType.SARTIQ_ULTIMATE_FACE_FIXER, {})
    monkeypatch.setattr(type(provider), "process", refuse)
    request = ProviderRequest(
        task=ProviderCapability.FACE_FIXING, images=[_base(textured_gradient(32, 32))]
    )
    with pytest.raises(ProviderError, match="cannot process the input image") as caught:
        await provider.run(request)
    assert caught.value.category is ErrorCategory.INVALID_INPUT
