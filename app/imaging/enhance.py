"""Inner enhancers: what happens to each tile or crop. The local one sharpens detail and local
contrast on luma only, so it never invents content or shifts colour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

RGB = NDArray[np.uint8]


@dataclass(frozen=True)
class EnhanceRequest:
    pixels: RGB
    # 0 for the first try; retries come after a failed consistency check.
    attempt: int = 0
    # tile | face | garment: a remote enhancer may prompt differently, the local one is gentler
    # on faces.
    kind: str = "tile"
    # How much the region was upscaled before enhancement (sets the detail radius).
    scale: float = 1.0
    prompt: str | None = None


Enhancer = Callable[[EnhanceRequest], RGB]


@dataclass(frozen=True)
class LocalEnhancer:
    """Unsharp masking at the scale of the upscale blur (detail) plus a wide, gentle one
    (local contrast, "clarity"), both on luma. Each retry halves the strength."""

    detail: float = 0.9
    clarity: float = 0.25
    face_detail: float = 0.45

    def __call__(self, request: EnhanceRequest) -> RGB:
        strength = 0.5**request.attempt
        pixels = request.pixels
        ycrcb = cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb)
        luma: NDArray[np.float32] = ycrcb[..., 0].astype(np.float32)
        if request.kind == "face":
            # Faces: smooth sensor/upscale noise on skin first, then restore edges gently.
            luma = np.asarray(
                cv2.bilateralFilter(luma, d=5, sigmaColor=12.0, sigmaSpace=3.0), dtype=np.float32
            )
            detail_amount = self.face_detail
        else:
            detail_amount = self.detail
        sigma = float(np.clip(0.6 * request.scale, 0.8, 3.0))
        detail = luma - cv2.GaussianBlur(luma, (0, 0), sigma)
        out = luma + strength * detail_amount * detail
        if self.clarity > 0:
            out += strength * self.clarity * (luma - _wide_blur(luma, 12.0 * max(1.0, sigma)))
        ycrcb[..., 0] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), dtype=np.uint8)


def _wide_blur(luma: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur with a large sigma, computed at reduced resolution (same result to within
    rounding, a fraction of the cost)."""
    h, w = luma.shape
    factor = 4 if min(h, w) >= 64 else 1
    if factor == 1:
        return np.asarray(cv2.GaussianBlur(luma, (0, 0), sigma), dtype=np.float32)
    small = cv2.resize(
        luma, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)


class EnhancementFailed(Exception):
    """The enhancer could not produce a result for this attempt (counts as a failed attempt)."""
