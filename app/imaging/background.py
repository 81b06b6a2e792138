"""Background fixer: GrabCut separates the subject, the backdrop becomes a plain colour with a
soft matte edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.imaging.blending import composite
from app.imaging.detection import Box, detect_person
from app.imaging.io import to_array, to_image

BACKGROUND_PRESETS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "off_white": (245, 244, 240),
    "light_grey": (235, 235, 235),
    "studio_grey": (200, 200, 200),
    "warm_beige": (232, 220, 200),
    "black": (0, 0, 0),
}

# GrabCut is iterative graph cuts: run it at this size, then upsample a soft matte.
WORK_SIDE = 512
GRABCUT_ITERATIONS = 4
# GrabCut seeds its colour models with k-means++ drawn from OpenCV's per-thread RNG, whose
# state carries over between jobs run by the same worker thread: reseeding it before every
# cut makes the matte depend on the image alone, so replays are byte-identical.
GRABCUT_RNG_SEED = 0x5EED
# Below this many working pixels on a side GrabCut may find no backdrop or no subject sample
# and asserts; such slivers keep the box it would have started from instead.
GRABCUT_MIN_SIDE = 16


@dataclass
class BackgroundResult:
    image: Image.Image
    report: dict[str, Any]


def parse_background(color: Any = None, preset: str | None = None) -> tuple[int, int, int]:
    """A colour from `#RRGGBB`, `[r, g, b]` or a preset name (default: white)."""
    if color is not None:
        if isinstance(color, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", color.strip()):
            value = color.strip().lstrip("#")
            return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
        if (
            isinstance(color, list | tuple)
            and len(color) == 3
            and all(isinstance(c, int) and 0 <= c <= 255 for c in color)
        ):
            return (int(color[0]), int(color[1]), int(color[2]))
        raise ValueError(
            f"background colour {color!r} is not '#RRGGBB' or [r, g, b] with values 0-255"
        )
    if preset is not None:
        key = preset.strip().lower().replace(" ", "_").replace("-", "_")
        if key not in BACKGROUND_PRESETS:
            raise ValueError(
                f"unknown background preset {preset!r}; use one of: "
                f"{', '.join(sorted(BACKGROUND_PRESETS))}"
            )
        return BACKGROUND_PRESETS[key]
    return BACKGROUND_PRESETS["white"]


def parse_background_text(text: str) -> tuple[int, int, int]:
    """A generation's free-text `background` as the fixer reads it: a colour code or a preset
    name. Descriptions ("sunny beach") are refused: the fixer paints a plain colour."""
    try:
        return parse_background(text)
    except ValueError:
        pass
    try:
        return parse_background(None, text)
    except ValueError:
        raise ValueError(
            f"background {text!r} is not a colour ('#RRGGBB') or a preset name; use one of: "
            f"{', '.join(sorted(BACKGROUND_PRESETS))}"
        ) from None


def subject_matte(
    pixels: NDArray[np.uint8], subject: Box | None = None, *, feather_px: float = 2.0
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Alpha in [0, 1] (1 = subject) and how it was found."""
    height, width = pixels.shape[:2]
    factor = min(1.0, WORK_SIDE / max(height, width))
    small = (
        np.asarray(
            cv2.resize(
                pixels,
                (round(width * factor), round(height * factor)),
                interpolation=cv2.INTER_AREA,
            )
        )
        if factor < 1
        else pixels
    )
    info: dict[str, Any] = {}
    if subject is None:
        found = detect_person(pixels)
        if found is None:
            # Nothing stands out from the border: assume a centred subject.
            subject = Box(width // 10, height // 20, width - width // 10, height)
            info["subject_from"] = "centre_default"
        else:
            subject, how = found
            info["subject_from"] = how.value
    else:
        info["subject_from"] = "request"
    seed = subject.expand(0.06).clamp(width, height).scale(factor, factor)
    sh, sw = small.shape[:2]
    seed = seed.clamp(sw, sh)
    if min(sh, sw) < GRABCUT_MIN_SIDE:
        hard = np.zeros((sh, sw), np.float32)
        hard[seed.y0 : seed.y1, seed.x0 : seed.x1] = 1.0
        info["method"] = "subject_box"
        info["matte_note"] = (
            f"{sw}x{sh} px at working size is too thin for GrabCut; the subject box is the matte"
        )
    else:
        hard = _grabcut(small, seed)
    # Keep the largest connected blob: GrabCut can leave islands of backdrop inside the rect.
    binary: NDArray[np.uint8] = hard.astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count > 2:
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        hard = (labels == largest).astype(np.float32)
    soft = cv2.GaussianBlur(hard, (0, 0), max(0.5, feather_px))
    alpha = np.asarray(
        cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
    )
    info["subject_box"] = subject.as_list()
    info["foreground_fraction"] = round(float(alpha.mean()), 4)
    return np.clip(alpha, 0.0, 1.0), info


def _grabcut(small: NDArray[Any], seed: Box) -> NDArray[np.float32]:
    """1 where GrabCut, started from the `seed` box, finds the subject."""
    sh, sw = small.shape[:2]
    # Leave at least a 1 px frame of definite background, which GrabCut requires.
    rect = (
        max(1, seed.x0),
        max(1, seed.y0),
        max(2, min(sw - 2, seed.x1) - max(1, seed.x0)),
        max(2, min(sh - 2, seed.y1) - max(1, seed.y0)),
    )
    mask = np.zeros((sh, sw), np.uint8)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(GRABCUT_RNG_SEED)
    cv2.grabCut(
        np.ascontiguousarray(small[..., ::-1]),
        mask,
        rect,
        bgd,
        fgd,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    return np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)


def replace_background(
    image: Image.Image,
    *,
    color: Any = None,
    preset: str | None = None,
    subject: Box | None = None,
) -> BackgroundResult:
    rgb = parse_background(color, preset)
    pixels = to_array(image)
    alpha, info = subject_matte(pixels, subject)
    backdrop = np.empty_like(pixels)
    backdrop[...] = rgb
    result = composite(pixels, backdrop, alpha)
    report = {"method": "grabcut", "background_rgb": list(rgb), **info}
    if alpha.mean() < 0.005:
        report["warning"] = "no subject separated; the result is the plain background"
    return BackgroundResult(to_image(result), report)
