"""A scripted image provider for tests, registered as `fal_standard` (only in tests).

Its behaviour comes from the model's config, `additional_static_params`:
  mode: "ok" | "fail" | "hang" | "empty" | "fail_first" (fails the first time it sees a seed)
        | "huge" (a 9000x8000 image, over the 64 MP image tools decode; a few kB of PNG)
  delay: seconds to wait before answering (a slow remote provider)
It renders through the local preview renderer, so results are real images. Usable in-process
(`scripted_provider` fixture) and in subprocesses via PROVIDER_PLUGINS=tests.fakes.providers.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any, ClassVar

from PIL import Image

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
from app.providers.configs import FalStandardConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.local import render_preview
from app.providers.registry import ProviderRegistry

CANCELLED: list[str] = []
SUBMITTED: list[int | None] = []
_SEEN_SEEDS: set[int | None] = set()


class ScriptedProvider(ImageProvider[FalStandardConfig]):
    provider_type: ClassVar[ProviderType] = ProviderType.FAL_STANDARD
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.TEXT_TO_IMAGE, ProviderCapability.SEED}
    )

    @property
    def params(self) -> dict[str, Any]:
        return self.config.additional_static_params or {}

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        SUBMITTED.append(request.seed)
        return ProviderHandle(request=request, remote_id=f"job-{request.seed}")

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        mode = self.params.get("mode", "ok")
        delay = float(self.params.get("delay", 0))
        if delay:
            await on_progress(0.5, "waiting")
            await asyncio.sleep(delay)
        if mode == "fail":
            raise ProviderError("scripted failure (HTTP 500)")
        if mode == "fail_first" and handle.request.seed not in _SEEN_SEEDS:
            _SEEN_SEEDS.add(handle.request.seed)
            raise ProviderError("scripted first-time failure", ErrorCategory.RATE_LIMITED)
        if mode == "hang":
            await asyncio.Event().wait()
        if mode == "empty":
            return ProviderResult(images=[])
        if mode == "huge":
            buffer = io.BytesIO()
            Image.new("1", (9000, 8000)).save(buffer, format="PNG")
            huge = OutputImage(
                data=buffer.getvalue(), mime_type="image/png", width=9000, height=8000
            )
            return ProviderResult(images=[huge])
        image = await asyncio.to_thread(render_preview, handle.request)
        return ProviderResult(images=[image], metadata={"remote_id": handle.remote_id})

    async def cancel(self, handle: ProviderHandle) -> None:
        assert handle.remote_id is not None
        CANCELLED.append(handle.remote_id)


def register(registry: ProviderRegistry) -> None:
    registry.register(ProviderType.FAL_STANDARD, ScriptedProvider)
