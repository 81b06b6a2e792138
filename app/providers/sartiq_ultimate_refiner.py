"""`sartiq_ultimate_refiner`: the local tiled refiner/upscaler (see app/imaging/refiner.py)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from PIL import Image

from app.imaging.enhance import Enhancer
from app.imaging.patch import DebugSink
from app.imaging.refiner import RefinerSettings, SizeLimits, refine
from app.providers.base import ProviderRequest
from app.providers.configs import SartiqUltimateRefinerConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.local_tools import LocalToolProvider, parse_boxes, thresholds_from


def _limits(options: dict[str, Any]) -> SizeLimits:
    default = SizeLimits()
    return SizeLimits(
        max_width=int(options.get("max_output_width") or default.max_width),
        max_height=int(options.get("max_output_height") or default.max_height),
        max_pixels=int(options.get("max_size_pixels") or default.max_pixels),
    )


class SartiqUltimateRefiner(LocalToolProvider):
    provider_type: ClassVar[ProviderType] = ProviderType.SARTIQ_ULTIMATE_REFINER
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.REFINE, ProviderCapability.UPSCALE}
    )
    config: SartiqUltimateRefinerConfig

    def settings(self, request: ProviderRequest) -> RefinerSettings:
        c = self.config
        defaults = RefinerSettings()
        return RefinerSettings(
            version=c.version or defaults.version,
            num_tiles=c.num_tiles or defaults.num_tiles,
            max_workers=c.max_workers or defaults.max_workers,
            feather_px=c.feather_px if c.feather_px is not None else defaults.feather_px,
            face_expand_percent=(
                c.face_expand_percent
                if c.face_expand_percent is not None
                else defaults.face_expand_percent
            ),
            max_retries=c.max_retries if c.max_retries is not None else defaults.max_retries,
            thresholds=thresholds_from(c),
            limits=_limits(request.options),
        )

    def debug_enabled(self) -> bool:
        return bool(self.config.save_debug_tiles)

    def process(
        self,
        image: Image.Image,
        request: ProviderRequest,
        enhancer: Enhancer,
        cancel: threading.Event,
        debug: DebugSink | None,
    ) -> tuple[Image.Image, dict[str, Any]]:
        result = refine(
            image,
            self.settings(request),
            enhancer=enhancer,
            scale_factor=request.scale_factor,
            target_width=request.target_width,
            target_height=request.target_height,
            prompt=request.prompt or None,
            face_prompt=request.options.get("face_prompt"),
            faces=parse_boxes(request.options.get("faces"), "faces"),
            cancel=cancel,
            debug=debug,
        )
        return result.image, result.report
