"""Small, local image analysis for prompt writing: colours in words, pattern, brightness,
orientation and framing. Pure functions on Pillow images (CPU: call them in a thread)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

ANALYSIS_SIZE = 96
# Named colours (sRGB); the nearest one names a pixel cluster.
NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "charcoal": (60, 60, 62),
    "grey": (128, 128, 128),
    "light grey": (200, 200, 200),
    "white": (245, 245, 245),
    "cream": (240, 230, 200),
    "beige": (215, 195, 160),
    "khaki": (175, 160, 110),
    "brown": (110, 70, 40),
    "camel": (190, 140, 85),
    "red": (200, 30, 35),
    "burgundy": (110, 20, 40),
    "pink": (240, 150, 180),
    "hot pink": (230, 40, 140),
    "coral": (250, 120, 95),
    "orange": (240, 130, 30),
    "mustard": (210, 170, 40),
    "yellow": (245, 220, 50),
    "olive": (110, 115, 45),
    "green": (40, 150, 60),
    "dark green": (25, 75, 40),
    "mint": (165, 225, 190),
    "teal": (20, 125, 125),
    "light blue": (150, 195, 235),
    "blue": (40, 90, 200),
    "denim blue": (75, 105, 145),
    "navy": (25, 35, 80),
    "purple": (110, 50, 150),
    "lavender": (190, 170, 225),
}
_NAMES = list(NAMED_COLOURS)
_PALETTE = np.array([NAMED_COLOURS[name] for name in _NAMES], dtype=np.float64)


@dataclass(frozen=True)
class ColourShare:
    name: str
    share: float  # of the garment's pixels, 0..1


@dataclass(frozen=True)
class GarmentAnalysis:
    colours: list[ColourShare]
    patterned: bool
    brightness: str  # light | mid-tone | dark
    mean_luminance: float
    texture: float  # mean luminance gradient of the garment pixels

    @property
    def colour_words(self) -> str:
        names = [c.name for c in self.colours]
        if len(names) <= 1:
            return names[0] if names else "neutral"
        return ", ".join(names[:-1]) + " and " + names[-1]

    def as_dict(self) -> dict[str, object]:
        return {
            "colours": [{"name": c.name, "share": round(c.share, 3)} for c in self.colours],
            "pattern": "patterned" if self.patterned else "solid",
            "brightness": self.brightness,
        }


@dataclass(frozen=True)
class SceneAnalysis:
    width: int
    height: int
    orientation: str  # portrait | landscape | square
    framing: str  # estimated from the aspect ratio
    brightness: str
    colours: list[ColourShare]

    def as_dict(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "orientation": self.orientation,
            "framing": self.framing,
            "brightness": self.brightness,
            "colours": [{"name": c.name, "share": round(c.share, 3)} for c in self.colours],
        }


def _rgb_array(image: Image.Image) -> NDArray[np.float64]:
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(backdrop, rgba)
    small = image.convert("RGB")
    small.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE))
    if min(small.size) < 2:
        # Gradients need two pixels along each axis; a one-pixel line is read as a strip.
        small = small.resize((max(small.width, 2), max(small.height, 2)), Image.Resampling.NEAREST)
    return np.asarray(small, dtype=np.float64)


def _luminance(pixels: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = pixels @ np.array([0.299, 0.587, 0.114])
    return result


def _brightness(luma: float) -> str:
    if luma < 85:
        return "dark"
    if luma > 170:
        return "light"
    return "mid-tone"


def _colour_shares(pixels: NDArray[np.float64], min_share: float = 0.08) -> list[ColourShare]:
    if len(pixels) == 0:
        return []
    distances = ((pixels[:, None, :] - _PALETTE[None, :, :]) ** 2).sum(axis=2)
    nearest = distances.argmin(axis=1)
    counts = np.bincount(nearest, minlength=len(_NAMES)) / len(pixels)
    order = np.argsort(counts)[::-1]
    shares = [ColourShare(_NAMES[i], float(counts[i])) for i in order if counts[i] >= min_share]
    return shares[:4] or [ColourShare(_NAMES[int(order[0])], float(counts[order[0]]))]


def _foreground_mask(rgb: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pixels that differ from the border colour (product shots sit on a plain backdrop)."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    backdrop = np.median(border, axis=0)
    distance = np.sqrt(((rgb - backdrop) ** 2).sum(axis=2))
    mask: NDArray[np.bool_] = distance > 40
    # A garment filling the frame (or no backdrop at all): analyse everything.
    if mask.mean() < 0.05:
        mask = np.ones(rgb.shape[:2], dtype=bool)
    return mask


def analyse_garment(image: Image.Image) -> GarmentAnalysis:
    rgb = _rgb_array(image)
    mask = _foreground_mask(rgb)
    pixels = rgb[mask]
    luma_map = _luminance(rgb)
    gy, gx = np.gradient(luma_map)
    gradient = np.hypot(gx, gy)
    # Edges of the garment's silhouette are not texture: only the inside counts.
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    texture = float(gradient[inner].mean()) if inner.any() else 0.0
    colours = _colour_shares(pixels)
    significant = [c for c in colours if c.share >= 0.15]
    patterned = texture > 12.0 or len(significant) >= 3
    luma = float(_luminance(pixels).mean()) if len(pixels) else 0.0
    return GarmentAnalysis(colours, patterned, _brightness(luma), luma, texture)


def _framing(width: int, height: int) -> str:
    ratio = height / width
    if ratio >= 1.45:
        return "full-length"
    if ratio >= 1.15:
        return "three-quarter length"
    if ratio >= 0.9:
        return "half-body"
    return "wide"


def analyse_scene(image: Image.Image) -> SceneAnalysis:
    width, height = image.size
    if abs(width - height) <= 0.05 * max(width, height):
        orientation = "square"
    else:
        orientation = "portrait" if height > width else "landscape"
    rgb = _rgb_array(image)
    pixels = rgb.reshape(-1, 3)
    luma = float(_luminance(pixels).mean())
    return SceneAnalysis(
        width,
        height,
        orientation,
        _framing(width, height),
        _brightness(luma),
        _colour_shares(pixels, min_share=0.12),
    )
