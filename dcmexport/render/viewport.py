"""What part of the stored image is shown, turned and scaled how: crop, rotation, flip, output size.

One :class:`Viewport` per object serves ``--crop``/``--crop-mm``/``--zoom``, the
Spatial Transformation and Displayed Area of a presentation state (PS3.3
C.10.6, C.10.4) and aspect correction, and maps stored-pixel coordinates to
output pixels, so masks, annotations and the review page's outlines follow
the same geometry as the pixels. Coordinates are continuous: ``(0, 0)`` is the
top-left corner of the top-left pixel, ``(columns, rows)`` the bottom-right
corner of the last (the PIXEL convention of PS3.3 C.10.5.1.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcmexport.render.aspect import PixelSpacing, apply_aspect, aspect_size

__all__ = ["Viewport", "apply_viewport", "plan_viewport"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Viewport:
    """Stored image -> output image.

    Attributes:
        stored: the stored image's ``(rows, columns)``.
        box: the region shown, ``(x0, y0, x1, y1)`` in stored pixels (x1/y1 exclusive); it may
            reach beyond the image (a displayed area larger than the image), which is then filled.
        rotation: clockwise degrees, 0/90/180/270, applied after the crop.
        flip: horizontal flip, after the rotation (PS3.3 C.10.6.1.1).
        out_size: the output's ``(rows, columns)``.
    """

    stored: tuple[int, int]
    box: Box
    out_size: tuple[int, int]
    rotation: int = 0
    flip: bool = False

    @property
    def view_size(self) -> tuple[int, int]:
        """``(rows, columns)`` of the cropped and rotated region before resampling."""
        x0, y0, x1, y1 = self.box
        h, w = y1 - y0, x1 - x0
        return (w, h) if self.rotation in (90, 270) else (h, w)

    @property
    def is_identity(self) -> bool:
        """True when the output is the stored image itself."""
        rows, cols = self.stored
        return (self.box == (0, 0, cols, rows) and not self.rotation and not self.flip
                and self.out_size == self.stored)

    def map_point(self, x: float, y: float) -> tuple[float, float]:
        """A stored-pixel position (continuous) -> output position."""
        x0, y0, x1, y1 = self.box
        u, v = x - x0, y - y0
        w, h = x1 - x0, y1 - y0
        if self.rotation == 90:
            u, v = h - v, u
        elif self.rotation == 180:
            u, v = w - u, h - v
        elif self.rotation == 270:
            u, v = v, w - u
        view_rows, view_cols = self.view_size
        if self.flip:
            u = view_cols - u
        return u * self.out_size[1] / view_cols, v * self.out_size[0] / view_rows

    def map_box(self, box: Box) -> Box | None:
        """A stored-pixel box (x1/y1 exclusive) -> the output box covering it, clipped; None when outside."""
        ax, ay = self.map_point(box[0], box[1])
        bx, by = self.map_point(box[2], box[3])
        rows, cols = self.out_size
        x0, x1 = max(0, math.floor(min(ax, bx))), min(cols, math.ceil(max(ax, bx)))
        y0, y1 = max(0, math.floor(min(ay, by))), min(rows, math.ceil(max(ay, by)))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def output_spacing(self, spacing: PixelSpacing) -> tuple[float, float]:
        """``(row, column)`` millimetres per output pixel, from the stored pixels' spacing."""
        row_mm, col_mm = spacing.row, spacing.column
        if self.rotation in (90, 270):
            row_mm, col_mm = col_mm, row_mm
        view_rows, view_cols = self.view_size
        return row_mm * view_rows / self.out_size[0], col_mm * view_cols / self.out_size[1]


def plan_viewport(
    rows: int,
    columns: int,
    *,
    box: Box | None = None,
    rotation: int = 0,
    flip: bool = False,
    spacing: PixelSpacing | None = None,
    zoom: float = 1.0,
    max_side: int | None = None,
) -> Viewport:
    """Plan the output geometry: crop ``box``, square pixels from ``spacing``, ``zoom``, rotation, cap.

    :param rows: stored rows.
    :param columns: stored columns.
    :param box: the region shown (stored pixels, x1/y1 exclusive); None: the whole image.
    :param rotation: clockwise degrees (0, 90, 180, 270).
    :param flip: horizontal flip after the rotation.
    :param spacing: the pixels' sampling; the coarser axis is enlarged (see :func:`aspect_size`).
    :param zoom: a factor on both axes after aspect correction.
    :param max_side: cap on the output's long side (after the zoom).
    :returns: the viewport.
    """
    x0, y0, x1, y1 = box if box is not None else (0, 0, columns, rows)
    h, w = aspect_size(y1 - y0, x1 - x0, spacing) if spacing is not None else (y1 - y0, x1 - x0)
    h, w = max(1, round(h * zoom)), max(1, round(w * zoom))
    if max_side and max(h, w) > max_side:
        factor = max_side / max(h, w)
        h, w = max(1, round(h * factor)), max(1, round(w * factor))
    out = (w, h) if rotation in (90, 270) else (h, w)
    return Viewport((rows, columns), (x0, y0, x1, y1), out, rotation, flip)


def apply_viewport(image: np.ndarray, viewport: Viewport, fill: int = 0) -> np.ndarray:
    """Crop, rotate, flip and resample a display image to the viewport's output.

    :param image: ``(rows, cols)`` or ``(rows, cols, 3)`` display values in stored geometry.
    :param viewport: from :func:`plan_viewport`.
    :param fill: the value of output pixels beyond the image (a displayed area larger than it).
    :returns: the output image (Lanczos resampling, as aspect correction).
    """
    x0, y0, x1, y1 = viewport.box
    rows, cols = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= cols and y1 <= rows:
        region = image[y0:y1, x0:x1]
    else:
        region = np.full((y1 - y0, x1 - x0, *image.shape[2:]), fill, dtype=image.dtype)
        sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(cols, x1), min(rows, y1)
        if sx1 > sx0 and sy1 > sy0:
            region[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    if viewport.rotation:
        region = np.rot90(region, k=-(viewport.rotation // 90))
    if viewport.flip:
        region = region[:, ::-1]
    return apply_aspect(np.ascontiguousarray(region), *viewport.out_size)
