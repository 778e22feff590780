"""A cheap, dependency-free detector of text-like rows (a warning light, not a guarantee).

Burned-in annotations are rows of small, high-contrast glyphs on a flat
background: along one pixel row they produce many sharp light/dark
transitions, and such rows stack into short horizontal bands (one text line is
typically 6-60 pixels high). This module looks for exactly that pattern in the
parts of a frame that a mask plan does *not* keep (the border around the
ultrasound regions, or the whole frame when nothing is kept), so a summary can
flag a file as "may still carry text" when OCR is not installed.

Limits (by design, it runs on every file): it misses low-contrast, very small
or very large text and text inside the kept regions; it can fire on
graphics such as dense tick marks or callipers. It never replaces a visual
check or ``--ocr-check``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dcmexport.mask.rects import Box, clip_box, keep_mask


def apply_channel_max(image: np.ndarray) -> np.ndarray:
    """Return a ``(rows, columns)`` array: the image itself, or the maximum over its samples.

    Max over channels keeps coloured text (yellow, cyan annotations) bright where
    a luma conversion would dim it; used by this detector and by the OCR check.

    Raises:
        ValueError: the image is not 2-D or 3-D.
    """
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.ndim != 2:
        raise ValueError(
            f"expected a (rows, columns) or (rows, columns, samples) image, got shape {arr.shape}"
        )
    return arr


def _gray(image: np.ndarray) -> np.ndarray:
    return apply_channel_max(image).astype(np.float64)


def _runs(flags: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Return ``[start, stop)`` runs of True in ``flags``, bridging gaps up to ``max_gap``."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    runs: list[tuple[int, int]] = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > max_gap + 1:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs


def find_text_like_rows(
    image: np.ndarray,
    keep: Sequence[Box] | None = None,
    *,
    contrast: float = 0.25,
    min_transitions: int = 4,
    min_height: int = 5,
    max_height: int = 64,
) -> list[Box]:
    """Return boxes around bands of glyph-like, high-contrast rows outside ``keep``.

    Args:
        image: ``(rows, columns)`` or ``(rows, columns, samples)`` frame, any dtype
            (stored values or rendered display values).
        keep: boxes ``(x0, y0, x1, y1)`` to ignore (the regions a mask plan keeps);
            None examines the whole frame.
        contrast: a transition is a step between horizontal neighbours larger than
            this fraction of the frame's value range.
        min_transitions: transitions one row of a band must reach (per segment) to
            look like glyphs rather than lines.
        min_height: shortest band considered a text line, in rows.
        max_height: tallest band considered a text line, in rows (taller bands are
            graphics such as scales or callipers).

    Returns:
        Boxes (x1/y1 exclusive) in image coordinates, top to bottom; empty when
        nothing text-like is found. Heuristic: see the module docstring.

    Raises:
        ValueError: ``image`` is not 2-D or 3-D.
    """
    gray = _gray(image)
    rows, columns = gray.shape
    if rows == 0 or columns < 2:
        return []
    value_range = float(gray.max() - gray.min())
    if value_range <= 0:
        return []

    steps = np.abs(np.diff(gray, axis=1)) > contrast * value_range
    if keep is not None:
        inside = keep_mask(keep, rows, columns)
        # A step touching a kept pixel belongs to the kept content (or its edge), not the border.
        steps &= ~(inside[:, 1:] | inside[:, :-1])

    found: list[Box] = []
    candidate_rows = steps.sum(axis=1) >= min_transitions
    for y0, y1 in _runs(candidate_rows, max_gap=1):
        height = y1 - y0
        if not min_height <= height <= max_height:
            continue
        band = steps[y0:y1]
        # Split the band into horizontal segments (words / text blocks) at wide empty gaps.
        for x0, x1 in _runs(np.asarray(band.any(axis=0)), max_gap=max(8, 2 * height)):
            per_row = band[:, x0:x1].sum(axis=1)
            # Glyphs: several rows of the band are busy, not one stray line.
            if int((per_row >= min_transitions).sum()) < max(2, height // 4):
                continue
            if x1 - x0 < min(height, 8):
                continue
            margin = 2
            box = clip_box((x0 - margin, y0 - margin, x1 + 1 + margin, y1 + margin), rows, columns)
            if box is not None:
                found.append(box)
    return found
