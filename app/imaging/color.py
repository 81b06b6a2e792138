"""Colour statistics, colour transfer and colour distance."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

RGB = NDArray[np.uint8]


def to_lab(image: RGB) -> NDArray[np.float32]:
    """CIE L*a*b* with L in [0, 100] and a/b around 0 (OpenCV's float convention)."""
    return np.asarray(
        cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB), dtype=np.float32
    )


def from_lab(lab: NDArray[np.float32]) -> RGB:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.asarray(np.clip(rgb * 255.0 + 0.5, 0, 255), dtype=np.uint8)


def lab_stats(image: RGB) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-channel mean and standard deviation in Lab."""
    lab = to_lab(image).reshape(-1, 3).astype(np.float64)
    return lab.mean(axis=0), lab.std(axis=0)


def lab_transfer(image: RGB, reference: RGB) -> RGB:
    """Give `image` the Lab mean and standard deviation of `reference` (Reinhard et al. 2001)."""
    lab = to_lab(image)
    ref_mean, ref_std = lab_stats(reference)
    flat = lab.reshape(-1, 3)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    # A flat channel (std ~ 0) keeps its spread: scaling it would amplify noise.
    scale = np.where(std > 1e-3, ref_std / np.maximum(std, 1e-3), 1.0)
    out = (lab - mean) * scale.astype(np.float32) + ref_mean.astype(np.float32)
    return from_lab(out.astype(np.float32))


def histogram_match(image: RGB, reference: RGB) -> RGB:
    """Map each RGB channel of `image` so its histogram matches `reference`'s."""
    out = np.empty_like(image)
    levels = np.arange(256, dtype=np.float64)
    for c in range(3):
        src_cdf = np.cumsum(np.bincount(image[..., c].ravel(), minlength=256)).astype(np.float64)
        ref_cdf = np.cumsum(np.bincount(reference[..., c].ravel(), minlength=256)).astype(
            np.float64
        )
        src_cdf /= src_cdf[-1]
        ref_cdf /= ref_cdf[-1]
        lut = np.clip(np.interp(src_cdf, ref_cdf, levels) + 0.5, 0, 255).astype(np.uint8)
        out[..., c] = cv2.LUT(np.ascontiguousarray(image[..., c]), lut)
    return out


def mean_lab(image: RGB, mask: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
    lab = to_lab(image).reshape(-1, 3).astype(np.float64)
    if mask is not None:
        lab = lab[mask.ravel()]
    if lab.size == 0:
        raise ValueError("no pixels to measure")
    return np.asarray(lab.mean(axis=0), dtype=np.float64)


def delta_e(lab_a: NDArray[np.float64], lab_b: NDArray[np.float64]) -> float:
    """CIE76 colour difference: ~2.3 is a just-noticeable difference."""
    return float(np.linalg.norm(np.asarray(lab_a) - np.asarray(lab_b)))


def border_color(image: RGB, band: int = 4) -> NDArray[np.float64]:
    """Median RGB of the image border: the backdrop colour of a studio shot."""
    h, w = image.shape[:2]
    band = max(1, min(band, h // 4, w // 4))
    edges = np.concatenate(
        [
            image[:band].reshape(-1, 3),
            image[-band:].reshape(-1, 3),
            image[:, :band].reshape(-1, 3),
            image[:, -band:].reshape(-1, 3),
        ]
    )
    return np.asarray(np.median(edges, axis=0), dtype=np.float64)


def foreground_mask(image: RGB, tolerance: float = 12.0) -> NDArray[np.bool_]:
    """Pixels that differ from the border colour by more than `tolerance` (Lab delta E)."""
    lab = to_lab(image)
    bg = to_lab(border_color(image).astype(np.uint8).reshape(1, 1, 3))[0, 0]
    distance = np.linalg.norm(lab - bg, axis=2)
    return np.asarray(distance > tolerance)
