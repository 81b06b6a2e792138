"""Garment fixer: enhance the garment region, split into two tiles when it is elongated."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from app.imaging.blending import blend_patch
from app.imaging.color import delta_e, foreground_mask, mean_lab
from app.imaging.consistency import ConsistencyChecker, Thresholds
from app.imaging.detection import Box, GarmentFamily, detect_person, garment_box
from app.imaging.enhance import Enhancer, LocalEnhancer
from app.imaging.io import RGB, to_array, to_image
from app.imaging.patch import ColourCorrection, DebugSink, refine_patch


@dataclass(frozen=True)
class GarmentFixerSettings:
    bbox_expand_percent: float = 0.05
    split_threshold: float = 1.8
    feather_px: int = 32
    max_retries: int = 2
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass
class GarmentFixResult:
    image: Image.Image
    report: dict[str, Any]


class NoGarmentRegion(ValueError):
    """Neither a box was given nor a person found to derive one from."""


def locate_garment(
    pixels: RGB, box: Box | None, family: GarmentFamily
) -> tuple[Box, dict[str, Any]]:
    """The garment box before expansion, and how it was found."""
    if box is not None:
        return box, {"source": "request"}
    found = detect_person(pixels)
    if found is None:
        raise NoGarmentRegion(
            "no garment box given and no person found to derive one from; pass options.garment_box"
        )
    person, how = found
    box = _tighten_to_foreground(pixels, garment_box(person, family))
    return box, {
        "source": "person_detection",
        "person_detector": how.value,
        "person_box": person.as_list(),
        "family": family.value,
    }


def _tighten_to_foreground(pixels: RGB, box: Box) -> Box:
    """Narrow the box to the columns where the figure actually is within its height band
    (trousers are narrower than the shoulders-and-arms width of the person box); a column
    counts when the figure fills at least 30% of it, so sleeves reaching into the band do not."""
    band = foreground_mask(pixels[box.y0 : box.y1, box.x0 : box.x1])
    if band.size == 0:
        return box
    columns = np.nonzero(band.mean(axis=0) > 0.3)[0]
    if columns.size == 0:
        return box
    return Box(box.x0 + int(columns[0]), box.y0, box.x0 + int(columns[-1]) + 1, box.y1)


def colour_fidelity(region: RGB, product: RGB) -> float:
    """Delta E (CIE76) between the garment's mean colour (central part of its box, where the
    garment is most surely) and the product's (its foreground against the backdrop)."""
    h, w = region.shape[:2]
    core = region[h // 5 : h - h // 5 or h, w // 5 : w - w // 5 or w]
    product_mask = foreground_mask(product)
    garment = mean_lab(core)
    reference = mean_lab(product, product_mask if product_mask.any() else None)
    return round(delta_e(garment, reference), 3)


def fix_garment(
    image: Image.Image,
    settings: GarmentFixerSettings,
    *,
    enhancer: Enhancer | None = None,
    box: Box | None = None,
    family: GarmentFamily = GarmentFamily.FULL,
    product: Image.Image | None = None,
    prompt: str | None = None,
    cancel: threading.Event | None = None,
    debug: DebugSink | None = None,
) -> GarmentFixResult:
    enhancer = enhancer or LocalEnhancer()
    pixels = to_array(image)
    height, width = pixels.shape[:2]
    found, how = locate_garment(pixels, box, family)
    region = found.expand(settings.bbox_expand_percent).clamp(width, height)
    if region.width < 8 or region.height < 8:
        raise NoGarmentRegion(f"garment box {found.as_list()} is empty inside the image")
    tiles = (
        list(region.split(settings.feather_px))
        if region.elongation > settings.split_threshold
        else [region]
    )
    checker = ConsistencyChecker(settings.thresholds)
    result = pixels
    tile_reports: list[dict[str, Any]] = []
    for index, tile in enumerate(tiles):
        outcome = refine_patch(
            np.ascontiguousarray(pixels[tile.y0 : tile.y1, tile.x0 : tile.x1]),
            enhancer,
            checker,
            max_retries=settings.max_retries,
            colour=ColourCorrection.LAB,
            kind="garment",
            prompt=prompt,
            cancel=cancel,
            debug=debug,
            name=f"garment{index}",
        )
        if outcome.accepted:
            result = blend_patch(result, outcome.pixels, (tile.x0, tile.y0), settings.feather_px)
        tile_reports.append({"box": tile.as_list(), **outcome.summary()})
    report: dict[str, Any] = {
        "garment_box": found.as_list(),
        "region": region.as_list(),
        "located_by": how,
        "split": len(tiles) == 2,
        "consistency": checker.describe(),
        "tiles": tile_reports,
        "tiles_enhanced": sum(1 for t in tile_reports if t["accepted"]),
    }
    if product is not None:
        product_pixels = to_array(product)
        crop = (slice(region.y0, region.y1), slice(region.x0, region.x1))
        report["colour_fidelity"] = {
            "metric": "delta_e_cie76",
            "before": colour_fidelity(pixels[crop], product_pixels),
            "after": colour_fidelity(result[crop], product_pixels),
        }
    return GarmentFixResult(to_image(result), report)
