"""Image similarity metrics used by consistency checks."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _gray(image: Image.Image | NDArray[np.uint8]) -> NDArray[np.float64]:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.float64)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3:
        array = np.asarray(cv2.cvtColor(array, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    return array.astype(np.float64)


def ssim(a: Image.Image | NDArray[np.uint8], b: Image.Image | NDArray[np.uint8]) -> float:
    """Mean structural similarity (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5) on luma.

    Both images must have the same size; see `ssim_common_size` otherwise.
    """
    x, y = _gray(a), _gray(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} vs {y.shape}")

    def blur(img: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(
            cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT), dtype=np.float64
        )

    mu_x, mu_y = blur(x), blur(y)
    sigma_x = blur(x * x) - mu_x * mu_x
    sigma_y = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * sigma_xy + _C2)
    denominator = (mu_x**2 + mu_y**2 + _C1) * (sigma_x + sigma_y + _C2)
    return float(np.mean(numerator / denominator))


def ssim_common_size(a: Image.Image, b: Image.Image, max_side: int = 1024) -> float:
    """SSIM after bringing both images to the same size (the smaller one, capped at max_side)."""
    width, height = min(a.width, b.width), min(a.height, b.height)
    scale = min(1.0, max_side / max(width, height))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return ssim(a.resize(size, Image.Resampling.LANCZOS), b.resize(size, Image.Resampling.LANCZOS))
