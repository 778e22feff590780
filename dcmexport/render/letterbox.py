"""``--size WxH``: fit an image in a fixed box, aspect kept, centred, padded with black (0).

For fixed-size model input. Applied last, to the finished output image (after aspect
correction, crop, figure and scale bar): the image is resampled (Lanczos, as for
aspect correction) so that it fits ``W x H`` exactly on one side, then padded with 0
(black, in every channel and bit depth) to the box, centred; an odd margin puts the
extra pixel on the bottom / right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcmexport.render.aspect import apply_aspect

#: The padding value of ``--size``: black (0) in every channel, 8 or 16 bits.
PAD_VALUE = 0


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``rows`` x ``cols`` lands in a ``width`` x ``height`` box."""

    width: int
    height: int
    inner_rows: int
    inner_cols: int
    top: int
    left: int

    def map_box(self, box: tuple[int, int, int, int], rows: int, cols: int) -> tuple[int, int, int, int]:
        """Map ``(x0, y0, x1, y1)`` in an image of ``rows`` x ``cols`` to box pixels."""
        sy, sx = self.inner_rows / rows, self.inner_cols / cols
        x0, y0, x1, y1 = box
        return (self.left + round(x0 * sx), self.top + round(y0 * sy),
                self.left + round(x1 * sx), self.top + round(y1 * sy))


def letterbox_geometry(rows: int, cols: int, width: int, height: int) -> Letterbox:
    """The fitted size and offsets of a ``rows`` x ``cols`` image in a ``width`` x ``height`` box (aspect kept)."""
    factor = min(width / cols, height / rows)
    inner_rows = min(height, max(1, round(rows * factor)))
    inner_cols = min(width, max(1, round(cols * factor)))
    return Letterbox(width, height, inner_rows, inner_cols, (height - inner_rows) // 2, (width - inner_cols) // 2)


def apply_letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample ``image`` to fit ``width`` x ``height`` (aspect kept) and pad it with :data:`PAD_VALUE`, centred.

    Args:
        image: ``(rows, cols)`` or ``(rows, cols, C)`` display image, any dtype.
        width: the box's columns.
        height: the box's rows.

    Returns:
        A ``(height, width[, C])`` image of the input's dtype.
    """
    rows, cols = image.shape[:2]
    box = letterbox_geometry(rows, cols, width, height)
    inner = apply_aspect(image, box.inner_rows, box.inner_cols)
    out = np.full((height, width, *image.shape[2:]), PAD_VALUE, dtype=image.dtype)
    out[box.top:box.top + box.inner_rows, box.left:box.left + box.inner_cols] = inner
    return out
