"""Feathered blending: tiles back into a canvas, patches back into an image."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from app.imaging.tiling import Tile, TileGrid

Weights = NDArray[np.float32]


def _ramp_up(length: int, start: int, width: int) -> NDArray[np.float32]:
    """0 before `start`, rising linearly to 1 over `width` px (pixel centres), 1 after."""
    positions = np.arange(length, dtype=np.float32) + 0.5
    if width <= 0:
        return (positions >= start).astype(np.float32)
    return np.clip((positions - start) / width, 0.0, 1.0)


def _band_weights(length: int, across: int, axis: int) -> Weights:
    """Weights rising from ~0 to ~1 over `length` px along `axis` (0 = rows, 1 = columns),
    for a band `across` px wide in the other direction."""
    ramp = (np.arange(length, dtype=np.float32) + 0.5) / length
    if axis == 1:
        return np.ascontiguousarray(np.broadcast_to(ramp[None, :], (across, length)))
    return np.ascontiguousarray(np.broadcast_to(ramp[:, None], (length, across)))


def _blend_band(old: NDArray[np.uint8], new: NDArray[np.uint8], axis: int) -> NDArray[np.uint8]:
    h, w = old.shape[:2]
    weights = _band_weights(w if axis == 1 else h, h if axis == 1 else w, axis)
    return np.asarray(cv2.blendLinear(old, new, 1.0 - weights, weights), dtype=np.uint8)


class TileCanvas:
    """Reassembles a grid of tiles with linear cross-fades across each 2*overlap band.

    Rows are assembled left to right, then the rows top to bottom, so each pixel ends up as
    sum(wx * wy * tile) with weights that sum to 1 (separable ramps), while only the overlap
    bands are ever computed in floating point.
    """

    def __init__(self, grid: TileGrid, channels: int = 3) -> None:
        self.grid = grid
        self.channels = channels
        self._tiles: dict[int, NDArray[np.uint8]] = {}

    def add(self, tile: Tile, pixels: NDArray[np.uint8]) -> None:
        x0, y0, x1, y1 = tile.box
        if pixels.shape[:2] != (y1 - y0, x1 - x0):
            raise ValueError(
                f"tile {tile.index} is {pixels.shape[1]}x{pixels.shape[0]}, "
                f"expected {x1 - x0}x{y1 - y0}"
            )
        self._tiles[tile.index] = pixels

    def result(self) -> NDArray[np.uint8]:
        grid = self.grid
        if len(self._tiles) != len(grid.tiles):
            raise ValueError(f"{len(grid.tiles) - len(self._tiles)} tile(s) missing")
        band = 2 * grid.overlap
        out = np.empty((grid.height, grid.width, self.channels), dtype=np.uint8)
        for row in range(grid.rows):
            row_tiles = [t for t in grid.tiles if t.row == row]
            ry0, ry1 = row_tiles[0].box[1], row_tiles[0].box[3]
            strip = np.empty((ry1 - ry0, grid.width, self.channels), dtype=np.uint8)
            for tile in row_tiles:
                pixels = self._tiles.pop(tile.index)
                bx0, bx1 = tile.box[0], tile.box[2]
                if tile.col > 0 and band:
                    strip[:, bx0 : bx0 + band] = _blend_band(
                        strip[:, bx0 : bx0 + band], pixels[:, :band], axis=1
                    )
                    strip[:, bx0 + band : bx1] = pixels[:, band:]
                else:
                    strip[:, bx0:bx1] = pixels
            if row > 0 and band:
                out[ry0 : ry0 + band] = _blend_band(out[ry0 : ry0 + band], strip[:band], axis=0)
                out[ry0 + band : ry1] = strip[band:]
            else:
                out[ry0:ry1] = strip
        return out


def blend_patch(
    base: NDArray[np.uint8],
    patch: NDArray[np.uint8],
    origin: tuple[int, int],
    feather: int,
    *,
    feather_image_edges: bool = False,
) -> NDArray[np.uint8]:
    """Paste `patch` at (x, y) over a copy of `base`, fading it in over `feather` px.

    Sides of the patch lying on the image border are not faded (there is nothing to blend
    with there) unless `feather_image_edges`.
    """
    x, y = origin
    h, w = patch.shape[:2]
    height, width = base.shape[:2]
    fx = min(feather, w // 2)
    fy = min(feather, h // 2)
    wx = np.ones(w, dtype=np.float32)
    wy = np.ones(h, dtype=np.float32)
    if x > 0 or feather_image_edges:
        wx = np.minimum(wx, _ramp_up(w, 0, fx))
    if x + w < width or feather_image_edges:
        wx = np.minimum(wx, _ramp_up(w, 0, fx)[::-1])
    if y > 0 or feather_image_edges:
        wy = np.minimum(wy, _ramp_up(h, 0, fy))
    if y + h < height or feather_image_edges:
        wy = np.minimum(wy, _ramp_up(h, 0, fy)[::-1])
    alpha = np.outer(wy, wx)[..., None]
    out = base.copy()
    region = out[y : y + h, x : x + w].astype(np.float32)
    out[y : y + h, x : x + w] = np.clip(
        region * (1.0 - alpha) + patch.astype(np.float32) * alpha + 0.5, 0, 255
    ).astype(np.uint8)
    return out


def composite(
    foreground: NDArray[np.uint8], background: NDArray[np.uint8], alpha: NDArray[np.float32]
) -> NDArray[np.uint8]:
    """foreground * alpha + background * (1 - alpha), alpha in [0, 1] per pixel."""
    a = alpha[..., None] if alpha.ndim == 2 else alpha
    out = foreground.astype(np.float32) * a + background.astype(np.float32) * (1.0 - a)
    return np.asarray(np.clip(out + 0.5, 0, 255), dtype=np.uint8)
