"""Overlapping tile grids that follow an image's aspect ratio."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Tile:
    index: int
    row: int
    col: int
    # The region this tile owns (the grid cells partition the image) ...
    core: tuple[int, int, int, int]
    # ... and the region it is cut from: the core grown by the overlap on interior sides.
    box: tuple[int, int, int, int]

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class TileGrid:
    width: int
    height: int
    cols: int
    rows: int
    overlap: int
    tiles: tuple[Tile, ...]

    def core_edges_x(self) -> list[int]:
        """Interior vertical borders between tile cores (x of the first column right of each)."""
        return sorted({tile.core[0] for tile in self.tiles if tile.core[0] > 0})

    def core_edges_y(self) -> list[int]:
        return sorted({tile.core[1] for tile in self.tiles if tile.core[1] > 0})


def grid_shape(width: int, height: int, num_tiles: int) -> tuple[int, int]:
    """(cols, rows) with cols/rows close to width/height and cols*rows close to num_tiles."""
    if num_tiles <= 1:
        return 1, 1
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_tiles + 1):
        cols = max(1, round(num_tiles / rows))
        # Cells as square as possible, then a count as close as possible to the target.
        cell_aspect = (width / cols) / (height / rows)
        score = abs(math.log(cell_aspect)) + 0.5 * abs(math.log(cols * rows / num_tiles))
        if best is None or score < best[0]:
            best = (score, cols, rows)
    assert best is not None
    _, cols, rows = best
    # Never cut cells thinner than 16 px (tiny images with many tiles).
    cols = max(1, min(cols, width // 16 or 1))
    rows = max(1, min(rows, height // 16 or 1))
    return cols, rows


def plan_tiles(width: int, height: int, num_tiles: int, overlap: int) -> TileGrid:
    """Split width x height into about num_tiles cells; each tile reaches `overlap` px into
    its neighbours so the blend has room to feather."""
    cols, rows = grid_shape(width, height, num_tiles)
    xs = [round(i * width / cols) for i in range(cols + 1)]
    ys = [round(j * height / rows) for j in range(rows + 1)]
    # Overlap cannot exceed a cell, or a tile would reach past its neighbour's core.
    cell = min(
        min(b - a for a, b in pairwise(xs)),
        min(b - a for a, b in pairwise(ys)),
    )
    overlap = max(0, min(overlap, cell // 2))
    tiles: list[Tile] = []
    for row in range(rows):
        for col in range(cols):
            x0, x1, y0, y1 = xs[col], xs[col + 1], ys[row], ys[row + 1]
            box = (
                max(0, x0 - overlap),
                max(0, y0 - overlap),
                min(width, x1 + overlap),
                min(height, y1 + overlap),
            )
            tiles.append(Tile(len(tiles), row, col, (x0, y0, x1, y1), box))
    return TileGrid(width, height, cols, rows, overlap, tuple(tiles))
