"""Small test images (PNG bytes) for fake providers."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png(width: int = 48, height: int = 64, color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A picture with some structure (gradient + a block), so SSIM means something."""
    y, x = np.mgrid[0:height, 0:width]
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[..., 0] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    array[..., 1] = (y * 255 // max(1, height - 1)).astype(np.uint8)
    array[..., 2] = color[2]
    array[height // 4 : height // 2, width // 4 : width // 2] = color
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def resized(data: bytes, factor: float) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        out = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.width, image.height
