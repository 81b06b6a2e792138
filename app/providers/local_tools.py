"""Shared machinery of the providers that run image tools on this machine (the Sartiq
ultimate refiner, face fixer and garment fixer): input decoding, the CPU work off the event
loop, cancellation, debug images, and the optional upstream provider used as inner enhancer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image
from pydantic import BaseModel

from app.imaging.consistency import Thresholds
from app.imaging.detection import Box
from app.imaging.enhance import EnhancementFailed, Enhancer, EnhanceRequest, LocalEnhancer
from app.imaging.io import RGB, ImageInputError, decode_image, encode_image, to_array, to_image
from app.imaging.patch import DebugSink, OperationCancelled
from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    InputImage,
    OutputImage,
    ProgressCallback,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.registry import ProviderRegistry, UnknownProvider

# The tasks an upstream provider may serve as an inner enhancer, in order of preference.
_INNER_TASKS = (
    ProviderCapability.REFINE,
    ProviderCapability.UPSCALE,
    ProviderCapability.IMAGE_EDITING,
    ProviderCapability.IMAGE_TO_IMAGE,
)
INNER_TIMEOUT_SECONDS = 300.0
DEFAULT_INNER_PROMPT = (
    "Enhance fine detail and sharpness of this image region. Keep composition, shapes, colours, "
    "text and identity exactly as they are."
)


class RemoteEnhancer:
    """Sends each region to an upstream provider. Called from a worker thread: the provider
    runs on the event loop, which is free while the worker runs."""

    def __init__(
        self,
        provider: ImageProvider[Any],
        loop: asyncio.AbstractEventLoop,
        *,
        default_prompt: str | None = None,
        timeout: float = INNER_TIMEOUT_SECONDS,
    ) -> None:
        task = next((t for t in _INNER_TASKS if provider.supports(t)), None)
        if task is None:
            raise ProviderError(
                f"inner provider {provider.provider_type.value!r} cannot refine or edit images",
                ErrorCategory.CONFIGURATION,
            )
        self.provider = provider
        self.task = task
        self.loop = loop
        self.default_prompt = default_prompt or DEFAULT_INNER_PROMPT
        self.timeout = timeout

    def __call__(self, request: EnhanceRequest) -> RGB:
        data, mime = encode_image(to_image(request.pixels))
        height, width = request.pixels.shape[:2]
        inner = ProviderRequest(
            task=self.task,
            prompt=request.prompt or self.default_prompt,
            width=width,
            height=height,
            images=[InputImage(data=data, mime_type=mime, role="base")],
            target_width=width,
            target_height=height,
        )
        future = asyncio.run_coroutine_threadsafe(self.provider.run(inner), self.loop)
        try:
            result = future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EnhancementFailed(f"inner provider timed out after {self.timeout:.0f}s") from None
        except ProviderError as exc:
            raise EnhancementFailed(
                f"inner provider failed ({exc.category}): {exc.message}"
            ) from exc
        if not result.images:
            raise EnhancementFailed("inner provider returned no image")
        try:
            return to_array(decode_image(result.images[0].data))
        except ImageInputError as exc:
            raise EnhancementFailed(f"inner provider returned an unusable image: {exc}") from exc


class LocalToolProvider(ImageProvider[Any]):
    """Base of the local image-tool providers: subclasses implement `process()` (sync, CPU)."""

    provider_type: ClassVar[ProviderType]
    capabilities: ClassVar[frozenset[ProviderCapability]]

    def __init__(
        self,
        config: BaseModel,
        *,
        registry: ProviderRegistry | None = None,
        debug_root: Path | None = None,
    ) -> None:
        super().__init__(config)
        self.registry = registry
        self._debug_root = debug_root

    # -- what subclasses provide -------------------------------------------------------------

    @abstractmethod
    def process(
        self,
        image: Image.Image,
        request: ProviderRequest,
        enhancer: Enhancer,
        cancel: threading.Event,
        debug: DebugSink | None,
    ) -> tuple[Image.Image, dict[str, Any]]:
        """The tool itself, run in a worker thread. ValueError means bad input."""

    def debug_enabled(self) -> bool:
        return False

    # -- the provider protocol -------------------------------------------------------------

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        if not self.supports(request.task):
            raise ProviderError(
                f"{self.provider_type.value} does not support {request.task.value}",
                ErrorCategory.INVALID_INPUT,
            )
        if (request.image("base") or (request.images[0] if request.images else None)) is None:
            raise ProviderError(
                f"{self.provider_type.value} needs an input image (role 'base')",
                ErrorCategory.INVALID_INPUT,
            )
        return ProviderHandle(request=request, state={"cancel": threading.Event()})

    async def cancel(self, handle: ProviderHandle) -> None:
        handle.state["cancel"].set()

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        request = handle.request
        base = request.image("base") or request.images[0]
        enhancer = self._enhancer(request, asyncio.get_running_loop())
        debug, debug_dir = self._debug_sink()
        await on_progress(0.0, f"{self.provider_type.value}: started")
        try:
            image, report = await asyncio.to_thread(
                self._run, base.data, request, enhancer, handle.state["cancel"], debug
            )
        except ImageInputError as exc:
            raise ProviderError(f"input image: {exc}", ErrorCategory.INVALID_INPUT) from exc
        except OperationCancelled:
            raise ProviderError("cancelled", ErrorCategory.CANCELLED) from None
        except ValueError as exc:
            raise ProviderError(str(exc), ErrorCategory.INVALID_INPUT) from exc
        except cv2.error as exc:
            # OpenCV asserts on inputs it cannot work with (degenerate shapes, sizes).
            raise ProviderError(
                f"cannot process the input image: {str(exc).strip()}", ErrorCategory.INVALID_INPUT
            ) from exc
        output_format = str(request.options.get("output_format") or "PNG")
        data, mime = await asyncio.to_thread(encode_image, image, output_format)
        if debug_dir is not None:
            report["debug_dir"] = str(debug_dir)
        report["enhancer"] = (
            f"provider:{enhancer.provider.provider_type.value}"
            if isinstance(enhancer, RemoteEnhancer)
            else "local"
        )
        await on_progress(1.0, f"{self.provider_type.value}: done")
        return ProviderResult(
            images=[OutputImage(data=data, mime_type=mime, width=image.width, height=image.height)],
            metadata={"provider": self.provider_type.value, **report},
        )

    # -- helpers ---------------------------------------------------------------------------------

    def _run(
        self,
        data: bytes,
        request: ProviderRequest,
        enhancer: Enhancer,
        cancel: threading.Event,
        debug: DebugSink | None,
    ) -> tuple[Image.Image, dict[str, Any]]:
        image = decode_image(data)
        return self.process(image, request, enhancer, cancel, debug)

    def _enhancer(self, request: ProviderRequest, loop: asyncio.AbstractEventLoop) -> Enhancer:
        """Local unless an inner provider is named: an ImageProvider instance in
        `options['inner_provider']`, or `{provider, provider_config}` there or in the config's
        `additional_properties['inner_provider']`, built through the registry."""
        spec = request.options.get("inner_provider")
        if spec is None:
            extra = getattr(self.config, "additional_properties", None) or {}
            spec = extra.get("inner_provider")
        if spec is None:
            return LocalEnhancer()
        if isinstance(spec, ImageProvider):
            return RemoteEnhancer(spec, loop)
        if not isinstance(spec, dict) or "provider" not in spec:
            raise ProviderError(
                "inner_provider must be {'provider': <provider type>, 'provider_config': {...}}",
                ErrorCategory.CONFIGURATION,
            )
        if self.registry is None:
            raise ProviderError(
                "an inner provider is configured but no registry is available to build it",
                ErrorCategory.CONFIGURATION,
            )
        try:
            provider_type = ProviderType(spec["provider"])
            provider = self.registry.create(provider_type, spec.get("provider_config") or {})
        except (ValueError, UnknownProvider) as exc:
            raise ProviderError(f"inner provider: {exc}", ErrorCategory.CONFIGURATION) from exc
        if provider_type is self.provider_type:
            raise ProviderError(
                "a tool cannot use itself as its inner provider", ErrorCategory.CONFIGURATION
            )
        return RemoteEnhancer(provider, loop, default_prompt=spec.get("prompt"))

    def _debug_sink(self) -> tuple[DebugSink | None, Path | None]:
        if not self.debug_enabled():
            return None, None
        if self._debug_root is not None:
            root = self._debug_root
        else:
            from app.core.config import settings

            root = settings.DATA_DIR / "debug"
        directory = root / self.provider_type.value / uuid.uuid4().hex
        directory.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()

        def sink(name: str, pixels: RGB) -> None:
            with lock:
                to_image(np.asarray(pixels)).save(directory / f"{name}.png", compress_level=1)

        return sink, directory


def request_options_image(request: ProviderRequest, role: str) -> Image.Image | None:
    """A secondary input image (e.g. the product), decoded; bad data is bad input."""
    found = request.image(role)
    return decode_image(found.data) if found is not None else None


def parse_boxes(value: Any, name: str) -> list[Box] | None:
    """Boxes given in request options (pixels), replacing detection."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"options.{name} must be a list of boxes")
    return [Box.parse(item) for item in value]


def thresholds_from(config: Any) -> Thresholds:
    return Thresholds(
        ssim=float(config.ssim_threshold or 0.0),
        lpips=float(config.lpips_threshold or 0.0),
        dists=float(config.dists_threshold or 0.0),
    )


def register_local_refiners(registry: ProviderRegistry) -> None:
    """Register the three local tools; each gets the registry to build inner providers."""
    from app.providers.sartiq_ultimate_face_fixer import SartiqUltimateFaceFixer
    from app.providers.sartiq_ultimate_garment_fixer import SartiqUltimateGarmentFixer
    from app.providers.sartiq_ultimate_refiner import SartiqUltimateRefiner

    for cls in (SartiqUltimateRefiner, SartiqUltimateFaceFixer, SartiqUltimateGarmentFixer):

        def factory(config: Any, cls: type[LocalToolProvider] = cls) -> ImageProvider[Any]:
            return cls(config, registry=registry)

        registry.register(cls.provider_type, factory, cls.capabilities)
