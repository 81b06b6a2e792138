"""`vertex`: Gemini image models ("Nano Banana") through google-genai, on Vertex AI or the
Gemini API. Reference, product and base images go in as inline parts, which also serves
`EDITING` (garment placement on a base image). A reply without an image is a failure."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from google.genai import types

from app.core.config import Settings
from app.core.config import settings as default_settings
from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    OutputImage,
    ProgressCallback,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.configs import VertexConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.genai import (
    genai_client,
    generate_content,
    image_part,
    inline_images,
    nearest_aspect_ratio,
    refusal_reason,
    usage,
)
from app.providers.transport import to_output_image

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

logger = logging.getLogger(__name__)

# The base image leads, then what should be placed on it, then looks/pose references.
_ROLE_ORDER = {"base": 0, "product": 1, "product2": 2, "subject": 3, "reference": 4, "pose": 5}


class VertexProvider(ImageProvider[VertexConfig]):
    provider_type = ProviderType.VERTEX
    capabilities = frozenset(
        {
            ProviderCapability.TEXT_TO_IMAGE,
            ProviderCapability.IMAGE_TO_IMAGE,
            ProviderCapability.IMAGE_EDITING,
            ProviderCapability.REFERENCE_IMAGES,
            ProviderCapability.SEED,
        }
    )

    def __init__(
        self,
        config: VertexConfig,
        settings: Settings | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(config)
        self.settings = settings or default_settings
        self.credentials = credentials

    def generation_config(self, request: ProviderRequest, seed: int | None) -> Any:
        config = self.config
        return types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            system_instruction=config.system_instructions or None,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=seed,
            image_config=types.ImageConfig(
                aspect_ratio=config.aspect_ratio
                or nearest_aspect_ratio(request.width, request.height),
                image_size=config.image_size,
            ),
        )

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        # generateContent is synchronous on the wire: the call happens in result().
        if not request.prompt and not request.images:
            raise ProviderError("vertex: nothing to generate from", ErrorCategory.INVALID_INPUT)
        await genai_client(self.settings, self.credentials)  # fail fast on missing credentials
        return ProviderHandle(request=request)

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        request = handle.request
        client = await genai_client(self.settings, self.credentials)
        model = self.config.model or "gemini-2.5-flash-image"
        images = sorted(request.images, key=lambda image: _ROLE_ORDER.get(image.role, 9))
        contents: list[Any] = [image_part(image) for image in images]
        if request.prompt:
            contents.append(request.prompt)
        await on_progress(0.1, f"generating with {model}")

        async def one(index: int) -> tuple[OutputImage, dict[str, Any]]:
            seed = request.seed + index if request.seed is not None else None
            response = await generate_content(
                client,
                model=model,
                contents=contents,
                config=self.generation_config(request, seed),
                settings=self.settings,
                what=f"gemini {model}",
            )
            found = inline_images(response)
            if not found:
                raise ProviderError(
                    f"gemini {model}: no image returned ({refusal_reason(response)})",
                    ErrorCategory.NO_IMAGE,
                )
            data, _mime = found[0]
            image = await to_output_image(data, what=f"gemini {model}", seed=seed)
            return image, usage(response)

        # One image per call: Gemini image models do not honour candidate counts. A task
        # group: when one call fails, the others are cancelled rather than paid for.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(i)) for i in range(max(1, request.num_images))]
        except* Exception as failures:
            raise failures.exceptions[0] from None
        results = [task.result() for task in tasks]
        return ProviderResult(
            images=[image for image, _ in results],
            metadata={"model": model, "usage": [u for _, u in results]},
        )
