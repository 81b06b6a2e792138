"""Face fixer: enhance each detected face in place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from app.imaging.blending import blend_patch
from app.imaging.consistency import ConsistencyChecker, Thresholds
from app.imaging.detection import Box, detect_faces
from app.imaging.enhance import Enhancer, LocalEnhancer
from app.imaging.io import to_array, to_image
from app.imaging.patch import ColourCorrection, DebugSink, refine_patch


@dataclass(frozen=True)
class FaceFixerSettings:
    expand_percent: float = 0.5
    feather_px: int = 24
    max_retries: int = 2
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass
class FaceFixResult:
    image: Image.Image
    report: dict[str, Any]


def fix_faces(
    image: Image.Image,
    settings: FaceFixerSettings,
    *,
    enhancer: Enhancer | None = None,
    faces: list[Box] | None = None,
    prompt: str | None = None,
    cancel: threading.Event | None = None,
    debug: DebugSink | None = None,
) -> FaceFixResult:
    """`faces` (pixel boxes) replaces detection when given. An image without a face comes back
    unchanged, with the reason in the report."""
    enhancer = enhancer or LocalEnhancer()
    pixels = to_array(image)
    height, width = pixels.shape[:2]
    found = faces if faces is not None else detect_faces(pixels)
    checker = ConsistencyChecker(settings.thresholds)
    report: dict[str, Any] = {
        "detection": "given" if faces is not None else "haar_frontalface",
        "consistency": checker.describe(),
        "faces": [],
    }
    if not found:
        report["unchanged"] = True
        report["reason"] = "no face detected"
        return FaceFixResult(image.convert("RGB"), report)
    result = pixels
    for index, face in enumerate(found):
        box = face.expand(settings.expand_percent).clamp(width, height)
        if box.width < 8 or box.height < 8:
            report["faces"].append(
                {"detected": face.as_list(), "box": box.as_list(), "skipped": "too small"}
            )
            continue
        outcome = refine_patch(
            np.ascontiguousarray(pixels[box.y0 : box.y1, box.x0 : box.x1]),
            enhancer,
            checker,
            max_retries=settings.max_retries,
            colour=ColourCorrection.LAB,
            kind="face",
            prompt=prompt,
            cancel=cancel,
            debug=debug,
            name=f"face{index:02d}",
        )
        if outcome.accepted:
            result = blend_patch(result, outcome.pixels, (box.x0, box.y0), settings.feather_px)
        report["faces"].append(
            {"detected": face.as_list(), "box": box.as_list(), **outcome.summary()}
        )
    report["faces_enhanced"] = sum(1 for f in report["faces"] if f.get("accepted"))
    report["unchanged"] = report["faces_enhanced"] == 0
    if report["unchanged"]:
        report["reason"] = "no face passed the consistency check"
    return FaceFixResult(to_image(result), report)
