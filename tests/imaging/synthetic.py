"""Synthetic test images: a studio portrait with a drawn face and garments, gradients, text."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.imaging.detection import Box

BACKDROP = (236, 236, 240)
SKIN = (215, 180, 150)
TOP = (160, 40, 45)  # red upper garment
TROUSERS = (35, 50, 110)  # navy lower garment


@dataclass(frozen=True)
class Portrait:
    image: Image.Image
    face: Box  # the drawn face ellipse's bounding box
    top: Box  # the upper garment
    trousers: Box  # the lower garment
    figure: Box  # everything drawn


def portrait(width: int = 384, height: int = 576, *, noise: float = 3.0, seed: int = 0) -> Portrait:
    """A standing figure on a plain backdrop: hair, a face with eyes/brows/nose/mouth (Haar's
    frontal-face cascade finds it), neck, a red top with arms, navy trousers, shoes.
    Proportions follow a ~7.5-head figure; all sizes scale with `height`."""
    u = height / 576

    def p(v: float) -> int:
        return round(v * u)

    img = np.full((height, width, 3), BACKDROP, np.uint8)
    cx = width // 2
    fig_top, fig_bottom = p(20), height - p(20)
    tall = fig_bottom - fig_top
    fh = round(tall / 7.5 * 0.95)
    fw = round(fh / 1.3)
    fcy = fig_top + p(6) + fh // 2
    head_top = fig_top

    top = Box(cx - p(60), fig_top + round(0.17 * tall), cx + p(60), fig_top + round(0.52 * tall))
    trousers = Box(cx - p(48), top.y1, cx + p(48), fig_top + round(0.95 * tall))
    # Arms, then torso, legs, shoes.
    cv2.rectangle(img, (top.x0 - p(20), top.y0 + p(6)), (top.x0, top.y1 - p(20)), TOP, -1)
    cv2.rectangle(img, (top.x1, top.y0 + p(6)), (top.x1 + p(20), top.y1 - p(20)), TOP, -1)
    cv2.rectangle(img, (top.x0, top.y0), (top.x1 - 1, top.y1 - 1), TOP, -1)
    cv2.rectangle(img, (trousers.x0, trousers.y0), (trousers.x1 - 1, trousers.y1 - 1), TROUSERS, -1)
    cv2.line(img, (cx, trousers.y0 + p(60)), (cx, trousers.y1), BACKDROP, max(1, p(8)))
    cv2.rectangle(img, (trousers.x0, trousers.y1), (trousers.x1 - 1, fig_bottom), (30, 30, 30), -1)
    # Neck, hair, face.
    cv2.rectangle(img, (cx - p(15), fcy + fh // 2 - p(5)), (cx + p(15), top.y0), SKIN, -1)
    cv2.ellipse(
        img, (cx, fcy - p(10)), (fw // 2 + p(8), fh // 2 + p(5)), 0, 180, 360, (40, 30, 25), -1
    )
    cv2.ellipse(img, (cx, fcy), (fw // 2, fh // 2), 0, 0, 360, SKIN, -1)
    ex, ey = fw // 5, fcy - fh // 10
    for s in (-1, 1):
        cv2.ellipse(img, (cx + s * ex, ey), (fw // 9, fw // 18), 0, 0, 360, (30, 30, 40), -1)
        cv2.line(
            img,
            (cx + s * ex - fw // 8, ey - fw // 7),
            (cx + s * ex + fw // 8, ey - fw // 7),
            (35, 40, 50),
            max(2, fw // 30),
        )
    cv2.line(
        img, (cx, ey + fw // 10), (cx - fw // 20, fcy + fh // 8), (170, 130, 110), max(1, p(2))
    )
    cv2.ellipse(img, (cx, fcy + fh // 4), (fw // 6, fw // 16), 0, 0, 360, (150, 60, 60), -1)
    # Texture on the garments (a knit pattern) so enhancement has detail to work on.
    rng = np.random.default_rng(seed)
    for box in (top, trousers):
        for y in range(box.y0 + p(6), box.y1, max(2, p(9))):
            cv2.line(
                img,
                (box.x0, y),
                (box.x1 - 1, y),
                tuple(int(c * 0.8) for c in img[y, box.x0 + 2]),
                1,
            )
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    if noise:
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    face = Box(cx - fw // 2, fcy - fh // 2, cx + fw // 2, fcy + fh // 2)
    figure = Box(top.x0 - p(20), head_top, top.x1 + p(20), fig_bottom)
    return Portrait(Image.fromarray(img), face, top, trousers, figure)


def textured_gradient(width: int, height: int, *, seed: int = 0, text: bool = True) -> Image.Image:
    """A diagonal colour gradient with text and mild noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 40 + 180 * x / max(1, width - 1)
    g = 60 + 150 * y / max(1, height - 1)
    b = 200 - 120 * (x + y) / max(1, width + height - 2)
    img = np.dstack([r, g, b])
    rng = np.random.default_rng(seed)
    img = np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
    rows = range(height // 8, height, max(12, height // 6)) if text else range(0)
    for i, row in enumerate(rows):
        cv2.putText(
            img,
            f"SARTIQ {i} refine",
            (width // 20, row),
            cv2.FONT_HERSHEY_SIMPLEX,
            max(0.3, width / 700),
            (20, 20, 20),
            max(1, width // 400),
            cv2.LINE_AA,
        )
    return Image.fromarray(img)


def noise(width: int, height: int, *, seed: int = 0) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
