"""Contact sheets: many equally sized images tiled into one (``--series --montage``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def montage_shape(count: int) -> tuple[int, int]:
    """Rows and columns of a contact sheet for ``count`` tiles: as square as possible, wider than tall."""
    if count < 1:
        raise ValueError("a montage needs at least one tile")
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def apply_montage(tiles: Sequence[np.ndarray]) -> np.ndarray:
    """Lay equally sized tiles out on a black grid, row by row (pure array function)."""
    rows, columns = montage_shape(len(tiles))
    first = tiles[0]
    h, w = first.shape[:2]
    sheet = np.zeros((rows * h, columns * w, *first.shape[2:]), dtype=first.dtype)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return sheet
