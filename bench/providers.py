"""A provider with a fixed, known latency for benchmarks (PROVIDER_PLUGINS=bench.providers).

It sleeps `delay` seconds (config `additional_static_params.delay`) and returns a pre-encoded
tiny PNG, so everything measured beyond `delay` is the pipeline's own overhead.
"""

from __future__ import annotations

import asyncio
import io
from typing import ClassVar

from PIL import Image

from app.providers.base import (
    ImageProvider,
    OutputImage,
    ProgressCallback,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.configs import FalStandardConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.registry import ProviderRegistry

_buffer = io.BytesIO()
Image.new("RGB", (8, 8), (120, 120, 120)).save(_buffer, format="PNG")
PNG = _buffer.getvalue()


class FixedLatencyProvider(ImageProvider[FalStandardConfig]):
    provider_type: ClassVar[ProviderType] = ProviderType.FAL_STANDARD
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.TEXT_TO_IMAGE, ProviderCapability.SEED}
    )

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        return ProviderHandle(request=request)

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        delay = float((self.config.additional_static_params or {}).get("delay", 0.05))
        await asyncio.sleep(delay)
        image = OutputImage(
            data=PNG, mime_type="image/png", width=8, height=8, seed=handle.request.seed
        )
        return ProviderResult(images=[image])


def register(registry: ProviderRegistry) -> None:
    registry.register(ProviderType.FAL_STANDARD, FixedLatencyProvider)
