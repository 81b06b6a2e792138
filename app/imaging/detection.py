"""Face, person and garment regions, with OpenCV's bundled detectors (no model download)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from app.imaging.color import foreground_mask

RGB = NDArray[np.uint8]


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels, x1/y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def elongation(self) -> float:
        """Long side over short side (>= 1)."""
        return max(self.width, self.height) / max(1, min(self.width, self.height))

    def expand(self, fraction: float) -> Box:
        """Grow each side by fraction/2 of the size (0.5 -> a box 50% larger in each direction)."""
        dx = self.width * fraction / 2
        dy = self.height * fraction / 2
        return Box(
            round(self.x0 - dx), round(self.y0 - dy), round(self.x1 + dx), round(self.y1 + dy)
        )

    def clamp(self, width: int, height: int) -> Box:
        return Box(max(0, self.x0), max(0, self.y0), min(width, self.x1), min(height, self.y1))

    def scale(self, sx: float, sy: float) -> Box:
        return Box(
            round(self.x0 * sx), round(self.y0 * sy), round(self.x1 * sx), round(self.y1 * sy)
        )

    def iou(self, other: Box) -> float:
        inter = Box(
            max(self.x0, other.x0),
            max(self.y0, other.y0),
            min(self.x1, other.x1),
            min(self.y1, other.y1),
        )
        if inter.width <= 0 or inter.height <= 0:
            return 0.0
        return inter.area / (self.area + other.area - inter.area)

    def split(self, overlap: int) -> tuple[Box, Box]:
        """Two halves along the long side, each reaching `overlap` px into the other."""
        if self.width >= self.height:
            mid = (self.x0 + self.x1) // 2
            return (
                Box(self.x0, self.y0, min(self.x1, mid + overlap), self.y1),
                Box(max(self.x0, mid - overlap), self.y0, self.x1, self.y1),
            )
        mid = (self.y0 + self.y1) // 2
        return (
            Box(self.x0, self.y0, self.x1, min(self.y1, mid + overlap)),
            Box(self.x0, max(self.y0, mid - overlap), self.x1, self.y1),
        )

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def parse(cls, value: Any) -> Box:
        """From [x0, y0, x1, y1] or {x, y, width, height} (pixels)."""
        if isinstance(value, dict):
            try:
                x, y = int(value["x"]), int(value["y"])
                return cls(x, y, x + int(value["width"]), y + int(value["height"]))
            except (KeyError, TypeError, ValueError):
                raise ValueError("box must have integer x, y, width and height") from None
        if isinstance(value, list | tuple) and len(value) == 4:
            try:
                x0, y0, x1, y1 = (int(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError("box must be four integers [x0, y0, x1, y1]") from None
            return cls(x0, y0, x1, y1)
        raise ValueError("box must be [x0, y0, x1, y1] or {x, y, width, height}")


# CascadeClassifier.detectMultiScale is not documented as thread-safe: one instance per thread.
_local = threading.local()


def _face_cascade() -> Any:
    cascade = getattr(_local, "face_cascade", None)
    if cascade is None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"face cascade could not be loaded from {path}")
        _local.face_cascade = cascade
    return cascade


@lru_cache(maxsize=1)
def _people_detector_weights() -> Any:
    return cv2.HOGDescriptor.getDefaultPeopleDetector()


def _people_hog() -> Any:
    hog = getattr(_local, "hog", None)
    if hog is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(_people_detector_weights())
        _local.hog = hog
    return hog


def _work_copy(image: RGB, max_side: int) -> tuple[RGB, float]:
    h, w = image.shape[:2]
    factor = min(1.0, max_side / max(h, w))
    if factor >= 1.0:
        return image, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA)), factor


def detect_faces(image: RGB, *, max_side: int = 1024, min_fraction: float = 0.03) -> list[Box]:
    """Frontal faces, largest first. Detection runs on a copy at most `max_side` px long."""
    work, factor = _work_copy(image, max_side)
    gray = cv2.equalizeHist(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY))
    min_side = max(20, round(min(gray.shape) * min_fraction))
    found = _face_cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    boxes = [
        Box(int(x), int(y), int(x + w), int(y + h)).scale(1 / factor, 1 / factor)
        for x, y, w, h in (found if len(found) else [])
    ]
    return sorted(boxes, key=lambda box: box.area, reverse=True)


class PersonSource(StrEnum):
    HOG = "hog"
    FOREGROUND = "foreground"


def detect_person(image: RGB, *, max_side: int = 800) -> tuple[Box, PersonSource] | None:
    """The main person: HOG people detection, else the foreground against the backdrop.

    HOG finds upright pedestrians in photos; studio and generated fashion shots often defeat it
    (cropped figures, plain backdrops), so the fallback takes the bounding box of everything
    that differs from the border colour, which on a studio backdrop is the subject.
    """
    work, factor = _work_copy(image, max_side)
    h, w = work.shape[:2]
    if h >= 128 and w >= 64:
        rects, weights = _people_hog().detectMultiScale(work, winStride=(8, 8), scale=1.05)
        if len(rects):
            best = int(np.argmax(np.asarray(weights).ravel()))
            x, y, bw, bh = (int(v) for v in rects[best])
            box = Box(x, y, x + bw, y + bh).scale(1 / factor, 1 / factor)
            return box.clamp(image.shape[1], image.shape[0]), PersonSource.HOG
    fallback = foreground_box(work)
    if fallback is None:
        return None
    return fallback.scale(1 / factor, 1 / factor).clamp(image.shape[1], image.shape[0]), (
        PersonSource.FOREGROUND
    )


def foreground_box(image: RGB, *, min_fraction: float = 0.01) -> Box | None:
    """Bounding box of the pixels that differ from the backdrop, ignoring specks."""
    mask = np.asarray(
        cv2.morphologyEx(
            foreground_mask(image).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ),
        dtype=np.uint8,
    )
    if mask.sum() < min_fraction * mask.size:
        return None
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 0.002 * mask.size]
    if not keep:
        return None
    x0 = min(int(stats[i, cv2.CC_STAT_LEFT]) for i in keep)
    y0 = min(int(stats[i, cv2.CC_STAT_TOP]) for i in keep)
    x1 = max(int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]) for i in keep)
    y1 = max(int(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT]) for i in keep)
    return Box(x0, y0, x1, y1)


class GarmentFamily(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    FULL = "full"


_FAMILY_ALIASES = {
    "upper": GarmentFamily.UPPER,
    "upper_garment": GarmentFamily.UPPER,
    "upper_body": GarmentFamily.UPPER,
    "top": GarmentFamily.UPPER,
    "tops": GarmentFamily.UPPER,
    "outerwear": GarmentFamily.UPPER,
    "lower": GarmentFamily.LOWER,
    "lower_garment": GarmentFamily.LOWER,
    "lower_body": GarmentFamily.LOWER,
    "bottom": GarmentFamily.LOWER,
    "bottoms": GarmentFamily.LOWER,
    "trousers": GarmentFamily.LOWER,
    "pants": GarmentFamily.LOWER,
    "skirt": GarmentFamily.LOWER,
    "full": GarmentFamily.FULL,
    "full_length": GarmentFamily.FULL,
    "full_body": GarmentFamily.FULL,
    "dress": GarmentFamily.FULL,
    "dresses": GarmentFamily.FULL,
    "jumpsuit": GarmentFamily.FULL,
}


def parse_family(value: str | None) -> GarmentFamily:
    if value is None:
        return GarmentFamily.FULL
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return _FAMILY_ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown product family {value!r}; use one of: {', '.join(sorted(_FAMILY_ALIASES))}"
        ) from None


# Vertical extent of each family as fractions of a standing figure's height (head at 0),
# from the usual ~7.5-head fashion proportions: shoulders ~0.17, hips ~0.5, ankles ~0.95.
_FAMILY_SPAN = {
    GarmentFamily.UPPER: (0.15, 0.56),
    GarmentFamily.LOWER: (0.46, 0.98),
    GarmentFamily.FULL: (0.15, 0.98),
}


def garment_box(person: Box, family: GarmentFamily) -> Box:
    top, bottom = _FAMILY_SPAN[family]
    return Box(
        person.x0,
        round(person.y0 + top * person.height),
        person.x1,
        round(person.y0 + bottom * person.height),
    )
