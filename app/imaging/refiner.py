"""The ultimate refiner: upscale, enhance overlapping tiles, check each, blend them back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image

from app.imaging.blending import TileCanvas, blend_patch
from app.imaging.consistency import ConsistencyChecker, Thresholds
from app.imaging.detection import Box, detect_faces
from app.imaging.enhance import Enhancer, LocalEnhancer
from app.imaging.io import RGB, to_array, to_image
from app.imaging.patch import ColourCorrection, DebugSink, PatchOutcome, refine_patch
from app.imaging.tiling import plan_tiles

FOUR_K_LONG_EDGE = 4096
DEFAULT_SCALE = 2.0


@dataclass(frozen=True)
class SizeLimits:
    """The model's output limits (generation model max_output_width/height/max_size_pixels)."""

    max_width: int = 4096
    max_height: int = 4096
    max_pixels: int = 4096 * 4096


@dataclass(frozen=True)
class RefinerSettings:
    version: Literal["1", "2"] = "2"
    num_tiles: int = 16
    max_workers: int = 2
    feather_px: int = 32
    face_expand_percent: float = 0.5
    max_retries: int = 2
    thresholds: Thresholds = field(default_factory=Thresholds)
    limits: SizeLimits = field(default_factory=SizeLimits)


def target_size(
    width: int,
    height: int,
    settings: RefinerSettings,
    *,
    scale_factor: float | None = None,
    target_width: int | None = None,
    target_height: int | None = None,
) -> tuple[int, int]:
    """v2: a 4K long edge. v1: enough pixels for the requested size or scale (x2 when nothing
    is asked), within the model's limits. The aspect ratio is always kept."""
    if settings.version == "2":
        factor = FOUR_K_LONG_EDGE / max(width, height)
    else:
        if target_width and target_height:
            factor = max(target_width / width, target_height / height)
        elif target_width:
            factor = target_width / width
        elif target_height:
            factor = target_height / height
        else:
            factor = scale_factor if scale_factor and scale_factor > 0 else DEFAULT_SCALE
        limits = settings.limits
        factor = min(
            factor,
            limits.max_width / width,
            limits.max_height / height,
            (limits.max_pixels / (width * height)) ** 0.5,
        )
    return max(1, round(width * factor)), max(1, round(height * factor))


@dataclass
class RefineResult:
    image: Image.Image
    report: dict[str, Any]


def refine(
    image: Image.Image,
    settings: RefinerSettings,
    *,
    enhancer: Enhancer | None = None,
    scale_factor: float | None = None,
    target_width: int | None = None,
    target_height: int | None = None,
    prompt: str | None = None,
    face_prompt: str | None = None,
    faces: list[Box] | None = None,
    cancel: threading.Event | None = None,
    debug: DebugSink | None = None,
) -> RefineResult:
    """Refine `image`. `faces` (source pixel boxes) replaces face detection in v1 when given."""
    enhancer = enhancer or LocalEnhancer()
    source = to_array(image)
    width, height = image.size
    out_w, out_h = target_size(
        width,
        height,
        settings,
        scale_factor=scale_factor,
        target_width=target_width,
        target_height=target_height,
    )
    upscaled = to_array(image.resize((out_w, out_h), Image.Resampling.LANCZOS))
    if debug is not None:
        debug("upscaled", upscaled)
    scale = out_w / width
    colour = ColourCorrection.LAB if settings.version == "1" else ColourCorrection.HISTOGRAM
    checker = ConsistencyChecker(settings.thresholds)
    grid = plan_tiles(out_w, out_h, settings.num_tiles, settings.feather_px)
    canvas = TileCanvas(grid)

    def work(index: int) -> PatchOutcome:
        x0, y0, x1, y1 = grid.tiles[index].box
        return refine_patch(
            np.ascontiguousarray(upscaled[y0:y1, x0:x1]),
            enhancer,
            checker,
            max_retries=settings.max_retries,
            colour=colour,
            kind="tile",
            scale=scale,
            prompt=prompt,
            cancel=cancel,
            debug=debug,
            name=f"tile{index:03d}",
        )

    tile_reports: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=settings.max_workers) as pool:
        # map() keeps the tile order, so the blend (and the result) is deterministic.
        for tile, outcome in zip(grid.tiles, pool.map(work, range(len(grid.tiles))), strict=True):
            canvas.add(tile, outcome.pixels)
            tile_reports.append({"index": tile.index, "box": list(tile.box), **outcome.summary()})
    result = canvas.result()

    face_reports: list[dict[str, Any]] = []
    if settings.version == "1":
        result, face_reports = _face_pass(
            result,
            upscaled,
            source,
            faces,
            scale,
            settings,
            enhancer,
            checker,
            face_prompt or prompt,
            cancel,
            debug,
        )
    if debug is not None:
        debug("result", result)

    accepted = sum(1 for t in tile_reports if t["accepted"])
    report: dict[str, Any] = {
        "version": settings.version,
        "source_size": [width, height],
        "output_size": [out_w, out_h],
        "grid": {"cols": grid.cols, "rows": grid.rows, "overlap_px": grid.overlap},
        "colour_correction": colour.value,
        "consistency": checker.describe(),
        "tiles_total": len(tile_reports),
        "tiles_enhanced": accepted,
        "tiles_fallback": len(tile_reports) - accepted,
        "attempts": sum(t["attempts"] for t in tile_reports),
        "tiles": tile_reports,
    }
    if settings.version == "1":
        report["faces"] = face_reports
    return RefineResult(to_image(result), report)


def _face_pass(
    result: RGB,
    upscaled: RGB,
    source: RGB,
    faces: list[Box] | None,
    scale: float,
    settings: RefinerSettings,
    enhancer: Enhancer,
    checker: ConsistencyChecker,
    prompt: str | None,
    cancel: threading.Event | None,
    debug: DebugSink | None,
) -> tuple[RGB, list[dict[str, Any]]]:
    """A dedicated pass per face, from the plain upscale (not the tile output), so faces get the
    gentler face enhancement and, with a remote enhancer, a face-specific prompt."""
    found = faces if faces is not None else detect_faces(source)
    height, width = result.shape[:2]
    reports: list[dict[str, Any]] = []
    for index, face in enumerate(found):
        box = face.scale(scale, scale).expand(settings.face_expand_percent).clamp(width, height)
        if box.width < 8 or box.height < 8:
            continue
        outcome = refine_patch(
            np.ascontiguousarray(upscaled[box.y0 : box.y1, box.x0 : box.x1]),
            enhancer,
            checker,
            max_retries=settings.max_retries,
            colour=ColourCorrection.LAB,
            kind="face",
            scale=scale,
            prompt=prompt,
            cancel=cancel,
            debug=debug,
            name=f"face{index:02d}",
        )
        if outcome.accepted:
            result = blend_patch(result, outcome.pixels, (box.x0, box.y0), settings.feather_px)
        reports.append({"box": box.as_list(), **outcome.summary()})
    return result, reports
