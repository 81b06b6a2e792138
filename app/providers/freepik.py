"""Freepik (Magnific) upscalers: `freepik_magnific` (creative) and `freepik_magnific_precision`.

Asynchronous task API: POST the image (base64) with the settings, poll `GET {path}/{task_id}`
until `COMPLETED` or `FAILED`, download the `generated` URL. Freepik has no cancel endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from app.core.config import Settings
from app.core.config import settings as default_settings
from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    ProgressCallback,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.configs import FreepikMagnificConfig, FreepikMagnificPrecisionConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.transport import (
    PollDelay,
    b64,
    download,
    header_size,
    request_json,
    to_output_image,
)

logger = logging.getLogger(__name__)

FreepikConfigT = TypeVar("FreepikConfigT", bound=BaseModel)
SCALE_FACTORS = (2, 4, 8, 16)


def scale_factor_for(request: ProviderRequest, source_size: tuple[int, int] | None) -> str:
    """The smallest of Freepik's factors reaching the requested scale (or target size)."""
    wanted = request.scale_factor
    if wanted is None and source_size and (request.target_width or request.target_height):
        width, height = source_size
        wanted = max(
            (request.target_width or 0) / max(1, width),
            (request.target_height or 0) / max(1, height),
        )
    wanted = wanted or 2.0
    factor = next((f for f in SCALE_FACTORS if f >= wanted - 1e-6), SCALE_FACTORS[-1])
    return f"{factor}x"


class FreepikUpscaler(ImageProvider[FreepikConfigT]):
    path: ClassVar[str]
    capabilities = frozenset({ProviderCapability.UPSCALE})

    def __init__(self, config: FreepikConfigT, settings: Settings | None = None) -> None:
        super().__init__(config)
        self.settings = settings or default_settings

    @abstractmethod
    def build_body(
        self, request: ProviderRequest, source_size: tuple[int, int] | None
    ) -> dict[str, Any]: ...

    def _url(self, task_id: str | None = None) -> str:
        url = f"{self.settings.FREEPIK_BASE_URL.rstrip('/')}{self.path}"
        return f"{url}/{quote(task_id, safe='')}" if task_id else url

    def _headers(self) -> dict[str, str]:
        key = self.settings.FREEPIK_API_KEY
        if not key:
            raise ProviderError(
                "freepik: FREEPIK_API_KEY is not configured", ErrorCategory.CONFIGURATION
            )
        return {self.settings.FREEPIK_API_KEY_HEADER: key}

    @staticmethod
    def _task(body: Any, what: str) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("task_id"), str):
            raise ProviderError(f"{what}: answer has no task", ErrorCategory.MALFORMED_RESPONSE)
        return data

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        base = request.image("base") or (request.images[0] if request.images else None)
        if base is None:
            raise ProviderError(
                "freepik: the request has no image to upscale", ErrorCategory.INVALID_INPUT
            )
        headers = self._headers()
        body = {"image": b64(base), **self.build_body(request, header_size(base.data))}
        answer = await request_json(
            "POST",
            self._url(),
            settings=self.settings,
            what="freepik submit",
            headers=headers,
            json_body=body,
        )
        task = self._task(answer, "freepik submit")
        logger.info("freepik task %s created on %s", task["task_id"], self.path)
        return ProviderHandle(request=request, remote_id=task["task_id"], state={"task": task})

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        try:
            async with asyncio.timeout(self.settings.PROVIDER_JOB_TIMEOUT_SECONDS):
                return await self._await_result(handle, on_progress)
        except TimeoutError:
            raise ProviderError(
                f"freepik: task {handle.remote_id} did not finish within "
                f"{self.settings.PROVIDER_JOB_TIMEOUT_SECONDS:g}s",
                ErrorCategory.TIMEOUT,
            ) from None

    async def _await_result(
        self, handle: ProviderHandle, on_progress: ProgressCallback
    ) -> ProviderResult:
        assert handle.remote_id is not None
        headers = self._headers()
        delay = PollDelay(self.settings)
        task: dict[str, Any] = handle.state["task"]
        while task.get("status") not in ("COMPLETED", "FAILED"):
            await on_progress(0.1 if task.get("status") == "CREATED" else 0.4, task.get("status"))
            await delay.wait()
            answer = await request_json(
                "GET",
                self._url(handle.remote_id),
                settings=self.settings,
                what="freepik status",
                headers=headers,
            )
            task = self._task(answer, "freepik status")
            if task.get("status") not in ("CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"):
                raise ProviderError(
                    f"freepik: unknown task status {task.get('status')!r}",
                    ErrorCategory.MALFORMED_RESPONSE,
                )
        if task["status"] == "FAILED":
            raise ProviderError(f"freepik: task {handle.remote_id} FAILED")
        generated = task.get("generated")
        urls = [u for u in generated if isinstance(u, str)] if isinstance(generated, list) else []
        if not urls:
            raise ProviderError(
                f"freepik: task {handle.remote_id} completed without an image",
                ErrorCategory.NO_IMAGE,
            )
        await on_progress(0.9, "downloading result")
        data = await download(urls[0], settings=self.settings, what="freepik download")
        image = await to_output_image(data, what="freepik")
        return ProviderResult(
            images=[image], metadata={"freepik_task_id": handle.remote_id, "endpoint": self.path}
        )


class FreepikMagnificProvider(FreepikUpscaler[FreepikMagnificConfig]):
    provider_type = ProviderType.FREEPIK_MAGNIFIC
    path = "/v1/ai/image-upscaler"

    def build_body(
        self, request: ProviderRequest, source_size: tuple[int, int] | None
    ) -> dict[str, Any]:
        config = self.config
        body: dict[str, Any] = {
            "scale_factor": scale_factor_for(request, source_size),
            "optimized_for": config.optimized_for,
            "creativity": config.creativity,
            "hdr": config.hdr,
            "resemblance": config.resemblance,
            "fractality": config.fractality,
            "engine": config.engine,
        }
        prompt = config.defaultPrompt or request.prompt
        if prompt:
            body["prompt"] = prompt
        return {key: value for key, value in body.items() if value is not None}


class FreepikMagnificPrecisionProvider(FreepikUpscaler[FreepikMagnificPrecisionConfig]):
    provider_type = ProviderType.FREEPIK_MAGNIFIC_PRECISION
    path = "/v1/ai/image-upscaler-precision"

    def build_body(
        self, request: ProviderRequest, source_size: tuple[int, int] | None
    ) -> dict[str, Any]:
        # The precision endpoint has no scale factor and no prompt.
        body = {
            "sharpen": self.config.sharpen,
            "smart_grain": self.config.smart_grain,
            "ultra_detail": self.config.ultra_detail,
        }
        return {key: value for key, value in body.items() if value is not None}
