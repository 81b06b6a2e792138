"""Image adjuster: automatic white balance, exposure and contrast, within bounds that keep
skin tones plausible."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.imaging.io import RGB, to_array, to_image

# Bounds: a stronger correction than these is more likely a mis-read of the scene (a red dress
# filling the frame, a night shot) than a cast to remove, and it would push skin off-hue.
MAX_CHANNEL_GAIN = 1.2
MIN_EXPOSURE_GAIN, MAX_EXPOSURE_GAIN = 0.75, 1.6
MAX_STRETCH = 1.4
# Highlights and shadows of a well-exposed e-commerce shot (0-255 luma).
WHITE_POINT = 247.0
BLACK_POINT = 8.0


@dataclass(frozen=True)
class AdjustSettings:
    white_balance: bool = True
    exposure: bool = True
    contrast: bool = True


@dataclass
class AdjustResult:
    image: Image.Image
    report: dict[str, Any]


def _white_balance_gains(pixels: RGB) -> NDArray[np.float64]:
    """Grey-world on the pixels most likely neutral: mid-luma and low-saturation."""
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)
    value, sat = hsv[..., 2], hsv[..., 1]
    neutral = (value > 40) & (value < 245) & (sat < 90)
    sample = pixels[neutral] if neutral.sum() > 0.02 * neutral.size else pixels.reshape(-1, 3)
    means = sample.reshape(-1, 3).astype(np.float64).mean(axis=0)
    gains = means.mean() / np.maximum(means, 1.0)
    return np.asarray(np.clip(gains, 1 / MAX_CHANNEL_GAIN, MAX_CHANNEL_GAIN), dtype=np.float64)


def _luma(pixels: NDArray[np.float32]) -> NDArray[np.uint8]:
    return np.asarray(
        cv2.cvtColor(np.clip(pixels, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY), dtype=np.uint8
    )


def skin_mask(pixels: RGB) -> NDArray[np.bool_]:
    """Skin-like pixels by the classic YCrCb box (Chai & Ngan 1999)."""
    ycrcb = cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return np.asarray((cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127))


def _skin_hue(pixels: RGB, mask: NDArray[np.bool_]) -> float | None:
    if mask.sum() < 50:
        return None
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV_FULL)
    # Skin hue sits near red (0/255 wrap): centre on 128 to average without the wrap.
    hue = (hsv[..., 0][mask].astype(np.float64) + 128) % 256 - 128
    return float(hue.mean() * 360 / 256)


# Plausible skin hue (degrees); a correction that pushes skin outside it is scaled back.
SKIN_HUE_RANGE = (0.0, 50.0)


def adjust_image(image: Image.Image, settings: AdjustSettings | None = None) -> AdjustResult:
    """Correct white balance, then exposure, then contrast. When skin is visible and the full
    correction would push its hue out of SKIN_HUE_RANGE, the correction is halved, then
    dropped."""
    settings = settings or AdjustSettings()
    pixels = to_array(image)
    report: dict[str, Any] = {}
    for strength in (1.0, 0.5, 0.0):
        result, report = _adjust(pixels, settings, strength)
        skin = skin_mask(pixels) & skin_mask(result)
        hue_before, hue_after = _skin_hue(pixels, skin), _skin_hue(result, skin)
        if hue_before is None or hue_after is None:
            break
        report["skin_hue_degrees"] = {"before": round(hue_before, 2), "after": round(hue_after, 2)}
        low, high = SKIN_HUE_RANGE
        if low <= hue_after <= high or not low <= hue_before <= high:
            break
    report["strength"] = strength
    return AdjustResult(to_image(result), report)


def _adjust(pixels: RGB, settings: AdjustSettings, strength: float) -> tuple[RGB, dict[str, Any]]:
    report: dict[str, Any] = {}
    out = pixels.astype(np.float32)

    if settings.white_balance:
        gains = 1.0 + (_white_balance_gains(pixels) - 1.0) * strength
        out *= gains.astype(np.float32)
        report["white_balance_gains"] = [round(float(g), 4) for g in gains]

    if settings.exposure:
        # Exposure: put the highlights (the bright backdrop of a studio shot, or the brightest
        # garment) at the white point; a median target would darken every light-backdrop shot.
        highlight = max(1.0, float(np.percentile(_luma(out), 99.5)))
        gain = float(np.clip(WHITE_POINT / highlight, MIN_EXPOSURE_GAIN, MAX_EXPOSURE_GAIN))
        gain = 1.0 + (gain - 1.0) * strength
        out *= gain
        report["exposure_gain"] = round(gain, 4)

    if settings.contrast:
        # Contrast: pull the black point down to BLACK_POINT, keeping the white point fixed
        # (equal on all channels, so no hue change).
        low = float(np.percentile(_luma(out), 0.5))
        stretch = float(
            np.clip((WHITE_POINT - BLACK_POINT) / max(1.0, WHITE_POINT - low), 1.0, MAX_STRETCH)
        )
        stretch = 1.0 + (stretch - 1.0) * strength
        out = WHITE_POINT - (WHITE_POINT - out) * stretch
        report["contrast_stretch"] = round(stretch, 4)

    return np.asarray(np.clip(out + 0.5, 0, 255), dtype=np.uint8), report
