"""`sartiq_ultimate_garment_fixer`: the local garment fixer (see app/imaging/garment_fixer.py)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from PIL import Image

from app.imaging.detection import Box, parse_family
from app.imaging.enhance import Enhancer
from app.imaging.garment_fixer import GarmentFixerSettings, fix_garment
from app.imaging.patch import DebugSink
from app.providers.base import ProviderRequest
from app.providers.configs import SartiqUltimateGarmentFixerConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.local_tools import LocalToolProvider, request_options_image, thresholds_from


class SartiqUltimateGarmentFixer(LocalToolProvider):
    provider_type: ClassVar[ProviderType] = ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.GARMENT_FIXING}
    )
    config: SartiqUltimateGarmentFixerConfig

    def settings(self) -> GarmentFixerSettings:
        c = self.config
        defaults = GarmentFixerSettings()
        return GarmentFixerSettings(
            bbox_expand_percent=(
                c.bbox_expand_percent
                if c.bbox_expand_percent is not None
                else defaults.bbox_expand_percent
            ),
            split_threshold=c.split_threshold or defaults.split_threshold,
            feather_px=c.feather_px if c.feather_px is not None else defaults.feather_px,
            max_retries=c.max_retries if c.max_retries is not None else defaults.max_retries,
            thresholds=thresholds_from(c),
        )

    def debug_enabled(self) -> bool:
        return bool(self.config.save_debug_images)

    def process(
        self,
        image: Image.Image,
        request: ProviderRequest,
        enhancer: Enhancer,
        cancel: threading.Event,
        debug: DebugSink | None,
    ) -> tuple[Image.Image, dict[str, Any]]:
        """options: `garment_box` ([x0, y0, x1, y1] or {x, y, width, height}, pixels) and/or
        `product_family` (upper / lower / full and their aliases); the product image, when
        given with role 'product', is used to measure colour fidelity."""
        raw_box = request.options.get("garment_box")
        result = fix_garment(
            image,
            self.settings(),
            enhancer=enhancer,
            box=Box.parse(raw_box) if raw_box is not None else None,
            family=parse_family(request.options.get("product_family")),
            product=request_options_image(request, "product"),
            prompt=request.prompt or None,
            cancel=cancel,
            debug=debug,
        )
        return result.image, result.report
