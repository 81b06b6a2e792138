"""`nano_banana_upscaler`: a Gemini image model asked to upscale, with a structural
consistency check (SSIM at a common size against the input), retried up to `max_retries`."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

from google.genai import types
from PIL import Image

from app.core.config import Settings
from app.core.config import settings as default_settings
from app.imaging.metrics import ssim_common_size
from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    InputImage,
    ProgressCallback,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.configs import NanoBananaUpscalerConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.genai import (
    genai_client,
    generate_content,
    image_part,
    image_size_for,
    inline_images,
    nearest_aspect_ratio,
    refusal_reason,
)
from app.providers.transport import header_size, to_output_image

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

logger = logging.getLogger(__name__)


def _ssim(original: bytes, candidate: bytes) -> float:
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(candidate)) as b:
        return ssim_common_size(a.convert("RGB"), b.convert("RGB"))


class NanoBananaUpscaler(ImageProvider[NanoBananaUpscalerConfig]):
    provider_type = ProviderType.NANO_BANANA_UPSCALER
    capabilities = frozenset({ProviderCapability.UPSCALE})

    def __init__(
        self,
        config: NanoBananaUpscalerConfig,
        settings: Settings | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(config)
        self.settings = settings or default_settings
        self.credentials = credentials

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        source = request.image("base") or (request.images[0] if request.images else None)
        if source is None:
            raise ProviderError(
                "nano banana upscaler: the request has no image to upscale",
                ErrorCategory.INVALID_INPUT,
            )
        size = header_size(source.data)
        if size is None:
            raise ProviderError(
                "nano banana upscaler: the input is not a readable image",
                ErrorCategory.INVALID_INPUT,
            )
        await genai_client(self.settings, self.credentials)
        return ProviderHandle(request=request, state={"source": source, "size": size})

    def _target_long_side(self, request: ProviderRequest, size: tuple[int, int]) -> int:
        if request.target_width or request.target_height:
            return max(request.target_width or 0, request.target_height or 0)
        return round(max(size) * (request.scale_factor or 2.0))

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        request = handle.request
        source: InputImage = handle.state["source"]
        width, height = handle.state["size"]
        model = self.settings.NANO_BANANA_UPSCALER_MODEL
        client = await genai_client(self.settings, self.credentials)
        prompt = self.config.default_prompt or request.prompt or "Upscale this image."
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            seed=request.seed,
            image_config=types.ImageConfig(
                aspect_ratio=nearest_aspect_ratio(width, height),
                image_size=image_size_for(self._target_long_side(request, (width, height))),
            ),
        )
        threshold = self.config.ssim_threshold or 0.0
        attempts = 1 + (self.config.max_retries or 0)
        scores: list[float] = []
        failures: list[str] = []
        for attempt in range(attempts):
            await on_progress(attempt / attempts, f"upscaling (attempt {attempt + 1})")
            response = await generate_content(
                client,
                model=model,
                contents=[image_part(source), prompt],
                config=config,
                settings=self.settings,
                what=f"gemini {model}",
            )
            found = inline_images(response)
            if not found:
                failures.append(refusal_reason(response))
                continue
            data = found[0][0]
            image = await to_output_image(data, what=f"gemini {model}", seed=request.seed)
            if threshold <= 0:
                return ProviderResult([image], {"model": model, "attempts": attempt + 1})
            score = await asyncio.to_thread(_ssim, source.data, data)
            scores.append(round(score, 4))
            if score >= threshold:
                return ProviderResult(
                    [image],
                    {"model": model, "attempts": attempt + 1, "ssim": scores},
                )
            logger.info(
                "nano banana upscale attempt %d: SSIM %.3f below %.3f",
                attempt + 1,
                score,
                threshold,
            )
        if not scores:
            raise ProviderError(
                f"gemini {model}: no image returned ({'; '.join(failures)})",
                ErrorCategory.NO_IMAGE,
            )
        raise ProviderError(
            f"nano banana upscaler: result not consistent with the input after {attempts} "
            f"attempt(s) (SSIM {max(scores):.3f} < {threshold:.3f})"
        )
