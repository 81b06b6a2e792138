"""No-reference quality measures of a result image, each mapped to a 0-1 score.

* sharpness: variance of the Laplacian (Pech-Pacheco et al. 2000) on a luma copy at most
  512 px long, mapped by 1 - exp(-v / 60): a crisp render scores ~1, a 2 px Gaussian blur ~0.06;
* exposure: the share of clipped pixels (luma <= 4 or >= 251) on the subject only, since a
  pure white studio backdrop is what e-commerce asks for; free up to 2 %, 0 from 30 %;
* garment colour: CIE76 delta E between the garment region (found as the garment fixer finds
  it: person box, the product family's band, narrowed to the figure) and the product image;
  1 up to delta E 6 (a barely visible shift), 0 from delta E 36.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.imaging.color import foreground_mask, mean_lab, to_lab
from app.imaging.detection import GarmentFamily, parse_family
from app.imaging.garment_fixer import NoGarmentRegion, colour_fidelity, locate_garment
from app.imaging.io import RGB

WORK_SIDE = 512
SHARPNESS_SCALE = 60.0
CLIP_LOW, CLIP_HIGH = 4, 251
CLIP_FREE, CLIP_ZERO = 0.02, 0.30
DELTA_E_FREE, DELTA_E_ZERO = 6.0, 36.0

# Named colours for prompt reinforcement ("burgundy (#7A1F2B)" reads better than a hex alone).
PALETTE: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "ivory": (240, 234, 214),
    "beige": (215, 196, 160),
    "camel": (193, 154, 107),
    "brown": (110, 70, 45),
    "black": (20, 20, 20),
    "charcoal": (60, 60, 64),
    "grey": (140, 140, 140),
    "navy": (30, 40, 90),
    "blue": (40, 90, 200),
    "light blue": (150, 190, 230),
    "teal": (0, 128, 128),
    "green": (40, 140, 60),
    "olive": (110, 110, 50),
    "yellow": (235, 210, 60),
    "mustard": (200, 160, 40),
    "orange": (235, 120, 40),
    "red": (200, 30, 30),
    "burgundy": (120, 25, 40),
    "pink": (240, 160, 190),
    "purple": (120, 60, 150),
    "lilac": (190, 160, 210),
}


@dataclass
class Criterion:
    name: str
    score: float | None
    weight: float
    value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "weight": self.weight,
            "value": self.value,
            "detail": self.detail,
            "skipped": self.skipped,
        }


def _work_gray(pixels: RGB) -> np.ndarray[Any, np.dtype[np.float32]]:
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    factor = min(1.0, WORK_SIDE / max(h, w))
    if factor < 1.0:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.asarray(gray, dtype=np.float32)


def sharpness(pixels: RGB) -> Criterion:
    variance = float(cv2.Laplacian(_work_gray(pixels), cv2.CV_32F).var())
    score = 1.0 - math.exp(-variance / SHARPNESS_SCALE)
    return Criterion("sharpness", round(score, 4), 0.0, round(variance, 3))


def exposure(pixels: RGB) -> Criterion:
    luma = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    subject = foreground_mask(pixels)
    region = luma[subject] if subject.mean() > 0.02 else luma.ravel()
    shadows = float(np.mean(region <= CLIP_LOW))
    highlights = float(np.mean(region >= CLIP_HIGH))
    clipped = shadows + highlights
    score = 1.0 - min(1.0, max(0.0, clipped - CLIP_FREE) / (CLIP_ZERO - CLIP_FREE))
    return Criterion(
        "exposure",
        round(score, 4),
        0.0,
        round(clipped, 4),
        {
            "clipped_shadows": round(shadows, 4),
            "clipped_highlights": round(highlights, 4),
            "measured_on": "subject" if subject.mean() > 0.02 else "whole image",
        },
    )


def colour_name(rgb: tuple[int, int, int]) -> str:
    lab = to_lab(np.asarray([[rgb]], dtype=np.uint8))[0, 0]
    names = list(PALETTE)
    refs = to_lab(np.asarray([list(PALETTE.values())], dtype=np.uint8))[0]
    return names[int(np.argmin(np.linalg.norm(refs - lab, axis=1)))]


def product_colour(product: RGB) -> tuple[int, int, int]:
    """The product's mean colour (its foreground against the backdrop) in sRGB."""
    mask = foreground_mask(product)
    chosen = product[mask] if mask.any() else product.reshape(-1, 3)
    mean = chosen.reshape(-1, 3).astype(np.float64).mean(axis=0)
    r, g, b = (round(float(v)) for v in mean)
    return (r, g, b)


def garment_colour(pixels: RGB, product: RGB | None, family: str | None) -> Criterion:
    if product is None:
        return Criterion("garment_colour", None, 0.0, skipped="no product image to compare with")
    try:
        parsed = parse_family(family) if family else GarmentFamily.FULL
    except ValueError:
        parsed = GarmentFamily.FULL
    try:
        box, how = locate_garment(pixels, None, parsed)
    except NoGarmentRegion as exc:
        return Criterion("garment_colour", None, 0.0, skipped=str(exc))
    box = box.clamp(pixels.shape[1], pixels.shape[0])
    if box.width < 4 or box.height < 4:
        return Criterion("garment_colour", None, 0.0, skipped="garment region is empty")
    region = np.ascontiguousarray(pixels[box.y0 : box.y1, box.x0 : box.x1])
    distance = colour_fidelity(region, product)
    score = 1.0 - min(1.0, max(0.0, distance - DELTA_E_FREE) / (DELTA_E_ZERO - DELTA_E_FREE))
    wanted = product_colour(product)
    h, w = region.shape[:2]
    core = region[h // 5 : h - h // 5 or h, w // 5 : w - w // 5 or w]
    seen = mean_lab(core)
    return Criterion(
        "garment_colour",
        round(score, 4),
        0.0,
        distance,
        {
            "metric": "delta_e_cie76",
            "garment_box": box.as_list(),
            "located_by": how.get("source"),
            "family": parsed.value,
            "product_colour": "#{:02X}{:02X}{:02X}".format(*wanted),
            "product_colour_name": colour_name(wanted),
            "garment_lab": [round(float(v), 2) for v in seen],
        },
    )


@dataclass
class QualityReport:
    score: float
    criteria: list[Criterion]

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "criteria": [c.as_dict() for c in self.criteria]}


CRITERIA = ("garment_colour", "sharpness", "exposure")
# Colour fidelity is what no other check catches, so it weighs as much as the other two.
WEIGHTS_WITH_PRODUCT = {"garment_colour": 0.5, "sharpness": 0.25, "exposure": 0.25}
WEIGHTS_WITHOUT_PRODUCT = {"sharpness": 0.5, "exposure": 0.5}


def assess(pixels: RGB, product: RGB | None = None, family: str | None = None) -> QualityReport:
    """Weighted mean of the criteria that could be measured (CPU work: run in a thread)."""
    criteria = [garment_colour(pixels, product, family), sharpness(pixels), exposure(pixels)]
    measured = {c.name for c in criteria if c.score is not None}
    weights = WEIGHTS_WITH_PRODUCT if "garment_colour" in measured else WEIGHTS_WITHOUT_PRODUCT
    for criterion in criteria:
        criterion.weight = weights.get(criterion.name, 0.0)
    total = sum(c.weight for c in criteria if c.score is not None)
    score = sum((c.score or 0.0) * c.weight for c in criteria if c.score is not None) / total
    return QualityReport(round(score, 4), criteria)
