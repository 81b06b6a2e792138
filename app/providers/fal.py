"""fal.ai queue clients: `fal_standard` (text/reference to image) and `fal_shootify_refiner`.

Protocol: POST the input to `{FAL_QUEUE_URL}/{app_id}`, poll the returned `status_url` until
`COMPLETED`, GET `response_url`, PUT `cancel_url` when our generation is cancelled. The URLs are
taken from the submit answer (fal's advice) but only if they stay on the queue host we
submitted to, since they receive our key.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

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
from app.providers.configs import FalShootifyRefinerConfig, FalStandardConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.transport import (
    PollDelay,
    data_uri,
    download,
    origin,
    request_json,
    to_output_image,
)

logger = logging.getLogger(__name__)

FalConfigT = TypeVar("FalConfigT", bound=BaseModel)

# Coarse progress: fal reports queue position and logs, not a fraction.
_QUEUED, _RUNNING, _DOWNLOADING = 0.05, 0.3, 0.9


class FalQueueProvider(ImageProvider[FalConfigT]):
    """The queue protocol; subclasses only decide what input the app gets."""

    name: ClassVar[str] = "fal"

    def __init__(self, config: FalConfigT, settings: Settings | None = None) -> None:
        super().__init__(config)
        self.settings = settings or default_settings

    @property
    @abstractmethod
    def app_id(self) -> str: ...

    @abstractmethod
    def build_input(self, request: ProviderRequest) -> dict[str, Any]: ...

    def _headers(self) -> dict[str, str]:
        key = self.settings.FAL_KEY
        if not key:
            raise ProviderError("fal: FAL_KEY is not configured", ErrorCategory.CONFIGURATION)
        return {"Authorization": f"Key {key}"}

    def _queue_url(self) -> str:
        app_id = self.app_id.strip("/")
        if not app_id or ".." in app_id.split("/") or app_id.count("/") < 1:
            raise ProviderError(
                f"fal: invalid fal_app_id {self.app_id!r} (expected owner/app[/path])",
                ErrorCategory.CONFIGURATION,
            )
        return f"{self.settings.FAL_QUEUE_URL.rstrip('/')}/{app_id}"

    def _checked_url(self, body: dict[str, Any], key: str) -> str:
        url = body.get(key)
        if not isinstance(url, str) or origin(url) != origin(self.settings.FAL_QUEUE_URL):
            raise ProviderError(
                f"fal: submit answer has no usable {key}", ErrorCategory.MALFORMED_RESPONSE
            )
        return url

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        headers = self._headers()
        payload = self.build_input(request)
        body = await request_json(
            "POST",
            self._queue_url(),
            settings=self.settings,
            what="fal submit",
            headers=headers,
            json_body=payload,
        )
        if not isinstance(body, dict) or not isinstance(body.get("request_id"), str):
            raise ProviderError(
                "fal: submit answer has no request_id", ErrorCategory.MALFORMED_RESPONSE
            )
        state = {key: self._checked_url(body, key) for key in ("status_url", "response_url")}
        # cancel_url is optional for us: without it the job simply cannot be cancelled.
        cancel = body.get("cancel_url")
        if isinstance(cancel, str) and origin(cancel) == origin(self.settings.FAL_QUEUE_URL):
            state["cancel_url"] = cancel
        logger.info("fal request %s submitted to %s", body["request_id"], self.app_id)
        return ProviderHandle(request=request, remote_id=body["request_id"], state=state)

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        try:
            async with asyncio.timeout(self.settings.PROVIDER_JOB_TIMEOUT_SECONDS):
                return await self._await_result(handle, on_progress)
        except ProviderError:
            # Polling failed (the queue unreachable, an error answer): the job may still be
            # running, and billed; stopped as one we gave up on (a finished one ignores it).
            await self.cancel(handle)
            raise
        except TimeoutError:
            # Like fal-client's subscribe(): a job we gave up on should not keep running.
            await self.cancel(handle)
            raise ProviderError(
                f"fal: request {handle.remote_id} did not finish within "
                f"{self.settings.PROVIDER_JOB_TIMEOUT_SECONDS:g}s",
                ErrorCategory.TIMEOUT,
            ) from None

    async def _await_result(
        self, handle: ProviderHandle, on_progress: ProgressCallback
    ) -> ProviderResult:
        headers = self._headers()
        delay = PollDelay(self.settings)
        while True:
            status = await request_json(
                "GET",
                handle.state["status_url"],
                settings=self.settings,
                what="fal status",
                headers=headers,
                params={"logs": "1"},
            )
            if not isinstance(status, dict):
                raise ProviderError(
                    "fal: status is not an object", ErrorCategory.MALFORMED_RESPONSE
                )
            state = status.get("status")
            if state == "IN_QUEUE":
                position = status.get("queue_position")
                await on_progress(_QUEUED, f"queued (position {position})")
            elif state == "IN_PROGRESS":
                await on_progress(_RUNNING, _last_log(status) or "in progress")
            elif state == "COMPLETED":
                break
            elif state in ("FAILED", "CANCELED", "CANCELLED"):
                raise ProviderError(f"fal: request ended as {state}")
            else:
                raise ProviderError(
                    f"fal: unknown status {state!r}", ErrorCategory.MALFORMED_RESPONSE
                )
            await delay.wait()

        # A failed run still ends COMPLETED; its result then answers with the error (and code).
        output = await request_json(
            "GET",
            handle.state["response_url"],
            settings=self.settings,
            what="fal result",
            headers=headers,
        )
        if status.get("error"):
            raise ProviderError(f"fal: {status['error']}")
        await on_progress(_DOWNLOADING, "downloading results")
        images = await self._download_images(output)
        metadata: dict[str, Any] = {"fal_request_id": handle.remote_id, "fal_app_id": self.app_id}
        for key in ("timings", "has_nsfw_concepts"):
            if key in output:
                metadata[key] = output[key]
        if isinstance(status.get("metrics"), dict):
            metadata["metrics"] = status["metrics"]
        return ProviderResult(images=images, metadata=metadata)

    async def _download_images(self, output: Any) -> list[OutputImage]:
        if not isinstance(output, dict):
            raise ProviderError("fal: result is not an object", ErrorCategory.MALFORMED_RESPONSE)
        entries = output.get("images")
        if entries is None and isinstance(output.get("image"), dict):
            entries = [output["image"]]
        if not isinstance(entries, list):
            raise ProviderError("fal: result has no images", ErrorCategory.NO_IMAGE)
        urls = [e["url"] for e in entries if isinstance(e, dict) and isinstance(e.get("url"), str)]
        if not urls or len(urls) != len(entries):
            raise ProviderError("fal: result has no image URLs", ErrorCategory.NO_IMAGE)
        seed = output.get("seed") if isinstance(output.get("seed"), int) else None

        async def fetch(url: str) -> OutputImage:
            data = await download(url, settings=self.settings, what="fal image download")
            return await to_output_image(data, what="fal", seed=seed)

        return list(await asyncio.gather(*(fetch(url) for url in urls)))

    async def cancel(self, handle: ProviderHandle) -> None:
        url = handle.state.get("cancel_url")
        if not url or not self.settings.FAL_KEY:
            return
        try:
            await request_json(
                "PUT",
                url,
                settings=self.settings,
                what="fal cancel",
                headers=self._headers(),
                retry=False,
            )
        except ProviderError as exc:
            # Already finished or gone: nothing left to stop.
            logger.info("fal cancel of %s not accepted: %s", handle.remote_id, exc.message)


def _last_log(status: dict[str, Any]) -> str | None:
    logs = status.get("logs")
    if isinstance(logs, list) and logs and isinstance(logs[-1], dict):
        message = logs[-1].get("message")
        return str(message)[:200] if message else None
    return None


def _loras(request: ProviderRequest) -> list[dict[str, Any]]:
    return [{"path": lora.path, "scale": lora.scale} for lora in request.loras]


class FalStandardProvider(FalQueueProvider[FalStandardConfig]):
    provider_type = ProviderType.FAL_STANDARD
    capabilities = frozenset(
        {
            ProviderCapability.TEXT_TO_IMAGE,
            ProviderCapability.IMAGE_TO_IMAGE,
            ProviderCapability.REFERENCE_IMAGES,
            ProviderCapability.LORA,
            ProviderCapability.SEED,
            ProviderCapability.NEGATIVE_PROMPT,
        }
    )

    @property
    def app_id(self) -> str:
        return self.config.fal_app_id

    def build_input(self, request: ProviderRequest) -> dict[str, Any]:
        # The admin's static params are the base; what this generation asks for wins.
        payload: dict[str, Any] = dict(self.config.additional_static_params or {})
        payload["prompt"] = request.prompt
        if request.negative_prompt:
            payload["negative_prompt"] = request.negative_prompt
        payload["image_size"] = {"width": request.width, "height": request.height}
        payload["num_images"] = request.num_images
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.loras:
            payload["loras"] = _loras(request)
        base = request.image("base")
        if base is not None:
            payload["image_url"] = data_uri(base)
        others = [image for image in request.images if image.role != "base"]
        if others:
            payload["image_urls"] = [data_uri(image) for image in others]
        return payload


class FalShootifyRefinerProvider(FalQueueProvider[FalShootifyRefinerConfig]):
    provider_type = ProviderType.FAL_SHOOTIFY_REFINER
    capabilities = frozenset(
        {
            ProviderCapability.REFINE,
            ProviderCapability.IMAGE_TO_IMAGE,
            ProviderCapability.LORA,
            ProviderCapability.SEED,
        }
    )

    @property
    def app_id(self) -> str:
        return self.config.fal_app_id

    def build_input(self, request: ProviderRequest) -> dict[str, Any]:
        base = request.image("base")
        if base is None:
            raise ProviderError(
                "fal refiner: the request has no base image to refine",
                ErrorCategory.INVALID_INPUT,
            )
        payload: dict[str, Any] = {
            "image_url": data_uri(base),
            "prompt": request.prompt,
            "num_images": 1,
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.loras:
            payload["loras"] = _loras(request)
        strength = request.options.get("strength")
        if isinstance(strength, int | float):
            payload["strength"] = float(strength)
        return payload
