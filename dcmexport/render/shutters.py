"""Display shutters: which stored pixels a presentation state hides (PS3.3 C.7.6.11, C.7.6.15; PS3.4 N.2.3).

A pixel is displayed only inside every shutter opening: the rectangle, the
circle and the polygon given (an intersection), and only where the bitmap
shutter's overlay bit is 0. Shuttered pixels show the Shutter Presentation
Value. Positions are 1-based pixel centres, as the attributes give them.
"""

from __future__ import annotations

import numpy as np

from dcmexport.render.gsps import Shutters

__all__ = ["shutter_mask"]


def _inside_polygon(rows: np.ndarray, cols: np.ndarray, vertices: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Even-odd rule for points (row, col) against a polygon of (row, col) vertices."""
    inside = np.zeros(np.broadcast(rows, cols).shape, dtype=bool)
    n = len(vertices)
    for i in range(n):
        r1, c1 = vertices[i]
        r2, c2 = vertices[(i + 1) % n]
        if r1 == r2:
            continue
        crosses = (rows >= min(r1, r2)) & (rows < max(r1, r2))
        col_at = c1 + (rows - r1) * (c2 - c1) / (r2 - r1)
        inside ^= crosses & (cols < col_at)
    return inside


def shutter_mask(shape: tuple[int, int], shutters: Shutters, bitmap: np.ndarray | None = None) -> np.ndarray:
    """True where a stored pixel is shuttered.

    :param shape: the image's ``(rows, columns)``.
    :param shutters: the state's shutters.
    :param bitmap: the bitmap shutter's bits in image geometry (True = shuttered), when it has one.
    :returns: a ``(rows, columns)`` bool array.
    """
    rows, cols = shape
    r = np.arange(1, rows + 1, dtype=np.float64)[:, None]
    c = np.arange(1, cols + 1, dtype=np.float64)[None, :]
    shut = np.zeros(shape, dtype=bool)
    if shutters.rect is not None:
        left, right, upper, lower = shutters.rect
        shut |= ~((c >= left) & (c <= right) & (r >= upper) & (r <= lower))
    if shutters.circle is not None:
        centre_row, centre_col, radius = shutters.circle
        shut |= (r - centre_row) ** 2 + (c - centre_col) ** 2 > radius**2
    if shutters.polygon:
        shut |= ~_inside_polygon(np.broadcast_to(r, shape), np.broadcast_to(c, shape), shutters.polygon)
    if bitmap is not None:
        shut |= bitmap
    return shut
