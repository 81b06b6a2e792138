"""`sartiq_ultimate_face_fixer`: the local face fixer (see app/imaging/face_fixer.py)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from PIL import Image

from app.imaging.enhance import Enhancer
from app.imaging.face_fixer import FaceFixerSettings, fix_faces
from app.imaging.patch import DebugSink
from app.providers.base import ProviderRequest
from app.providers.configs import SartiqUltimateFaceFixerConfig
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.local_tools import LocalToolProvider, parse_boxes, thresholds_from


class SartiqUltimateFaceFixer(LocalToolProvider):
    provider_type: ClassVar[ProviderType] = ProviderType.SARTIQ_ULTIMATE_FACE_FIXER
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset(
        {ProviderCapability.FACE_FIXING}
    )
    config: SartiqUltimateFaceFixerConfig

    def settings(self) -> FaceFixerSettings:
        c = self.config
        defaults = FaceFixerSettings()
        return FaceFixerSettings(
            expand_percent=(
                c.expand_percent if c.expand_percent is not None else defaults.expand_percent
            ),
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
        result = fix_faces(
            image,
            self.settings(),
            enhancer=enhancer,
            faces=parse_boxes(request.options.get("faces"), "faces"),
            prompt=self.config.face_prompt or request.prompt or None,
            cancel=cancel,
            debug=debug,
        )
        return result.image, result.report
