"""A test image provider that renders a model wearing a garment of a given colour, off-colour
on purpose (registered as `fal_standard`, only in tests).

`additional_static_params`:
  garment: "#RRGGBB", the right colour (the product's);
  mode: "until_adjusted": off-colour unless the prompt insists on the product's colour (what
        the agentic loop adds after a low colour score); "never": always off-colour, by an
        amount that depends on the seed, so attempts score differently.
Same request, same pixels: replays reproduce its images.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any, ClassVar

from PIL import Image, ImageDraw

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

ADJUSTED_MARKER = "the same colour as the product image"
FAR = (200, 130, 30)
PROMPTS: list[str] = []


def off_colour(right: tuple[int, int, int], seed: int) -> tuple[int, int, int]:
    """Between 55 % and 73 % of the way from the right colour to an orange, by seed."""
    t = 0.55 + (hashlib.sha256(str(seed).encode()).digest()[0] / 255) * 0.18
    r, g, b = (round(a + (f - a) * t) for a, f in zip(right, FAR, strict=True))
    return (r, g, b)


def figure(width: int, height: int, garment: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (width, height), (236, 234, 230))
    draw = ImageDraw.Draw(image)
    cx, half = width // 2, max(4, width // 7)
    top = int(height * 0.04)
    draw.ellipse((cx - half // 2, top, cx + half // 2, top + half), fill=(224, 182, 150))
    draw.rectangle((cx - half, top + half, cx + half, int(height * 0.95)), fill=garment)
    return image


def _hex(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


class GarmentProvider(ImageProvider[FalStandardConfig]):
    provider_type: ClassVar[ProviderType] = ProviderType.FAL_STANDARD
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.TEXT_TO_IMAGE, ProviderCapability.SEED}
    )

    @property
    def params(self) -> dict[str, Any]:
        return self.config.additional_static_params or {}

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        PROMPTS.append(request.prompt)
        return ProviderHandle(request=request)

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        request = handle.request
        right = _hex(str(self.params.get("garment", "#C81E1E")))
        mode = self.params.get("mode", "until_adjusted")
        seed = request.seed or 0
        adjusted = ADJUSTED_MARKER in request.prompt
        colour = right if mode == "until_adjusted" and adjusted else off_colour(right, seed)
        if mode == "until_adjusted" and not adjusted:
            colour = FAR
        image = figure(request.width, request.height, colour)
        buffer = io.BytesIO()
        await asyncio.to_thread(image.save, buffer, "PNG")
        await on_progress(1.0, None)
        return ProviderResult(
            images=[
                OutputImage(
                    data=buffer.getvalue(),
                    mime_type="image/png",
                    width=image.width,
                    height=image.height,
                    seed=seed,
                )
            ],
            metadata={"garment_rgb": list(colour)},
        )


def register(registry: ProviderRegistry) -> None:
    registry.register(ProviderType.FAL_STANDARD, GarmentProvider)
