"""Square display pixels: find the sampling of each axis and enlarge the coarser one.

Adapters read the sampling from, in order, Pixel Spacing (0028,0030), Imager
Pixel Spacing (0018,1164), Pixel Aspect Ratio (0028,0034) and the Sequence of
Ultrasound Regions (0018,6011). A broken or absurd value is never an error: the
image is simply left at its stored geometry (``None``), because a wrong
resample is worse than none and the export must not fail on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

__all__ = [
    "MAX_ASPECT_RATIO",
    "PixelSpacing",
    "apply_aspect",
    "aspect_size",
    "pixel_spacing_from_dataset",
]

#: Relative difference below which two spacings count as equal (no resample).
EQUAL_TOLERANCE = 1e-3
#: A row/column sampling ratio beyond this is treated as garbage (no resample):
#: real anisotropic pixels (scanned film, ultrasound, old CR) stay well below it,
#: and honouring e.g. 1000:1 would allocate an enormous image.
MAX_ASPECT_RATIO = 8.0
#: Physical Units X/Y Direction (0018,6024)/(0018,6026) code for centimetres (PS3.3 C.8.5.5.1.15).
_US_UNITS_CM = 3


@dataclass(frozen=True)
class PixelSpacing:
    """Sampling of the image: ``row`` = vertical distance between rows, ``column`` = horizontal.

    The ratio drives aspect correction; when ``physical`` is True the values are
    millimetres (ultrasound regions are converted from cm), so a physical
    resolution (TIFF DPI) can be derived. Pixel Aspect Ratio has no unit
    (``physical`` False). ``source`` is the keyword it came from.
    """

    row: float
    column: float
    source: str
    physical: bool = True


def _positive_pair(value: Any) -> tuple[float, float] | None:
    """Two finite, strictly positive numbers, or None for anything else."""
    try:
        items = list(value) if not isinstance(value, str | bytes) else []
        if len(items) != 2:
            return None
        a, b = float(items[0]), float(items[1])
    except Exception:  # garbage of any shape must not raise: no resample instead
        return None
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        return None
    return a, b


def _get(ds: Dataset, keyword: str) -> Any:
    """``ds.get(keyword)`` that swallows conversion errors raised by invalid stored values."""
    try:
        return ds.get(keyword)
    except Exception:  # pydicom converts lazily and may raise on a malformed DS/IS
        return None


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    seq = _get(ds, keyword)
    try:
        return seq[0] if seq else None
    except Exception:
        return None


def _spacing_from_us_regions(ds: Dataset) -> PixelSpacing | None:
    """First ultrasound region with both Physical Delta X/Y > 0 and spatial (cm) units."""
    regions = _get(ds, "SequenceOfUltrasoundRegions")
    if not regions:
        return None
    for region in regions:
        pair = _positive_pair([_get(region, "PhysicalDeltaY"), _get(region, "PhysicalDeltaX")])
        if pair is None:
            continue
        units = (_get(region, "PhysicalUnitsXDirection"), _get(region, "PhysicalUnitsYDirection"))
        # A Doppler spectrum region is seconds by cm/s: its deltas are not a pixel shape.
        if any(u is not None and u != _US_UNITS_CM for u in units):
            continue
        # Physical Delta X/Y are in cm (units code 3): millimetres like Pixel Spacing.
        return PixelSpacing(row=pair[0] * 10.0, column=pair[1] * 10.0, source="SequenceOfUltrasoundRegions")
    return None


def pixel_spacing_from_dataset(ds: Dataset) -> PixelSpacing | None:
    """Return the pixel sampling of ``ds``, or None when no usable value is present.

    Sources, first usable wins:

    1. Pixel Spacing (0028,0030) ``[row, column]``, also from the Pixel Measures
       Sequence of the shared / first per-frame functional group (enhanced objects);
    2. Imager Pixel Spacing (0018,1164), same order;
    3. Pixel Aspect Ratio (0028,0034) ``vertical\\horizontal``;
    4. the first Sequence of Ultrasound Regions (0018,6011) item with both Physical
       Delta X (0018,602C) and Physical Delta Y (0018,602E) > 0 (and, when given,
       centimetre units in both directions).

    A source that is missing, empty, zero, negative, non-finite or not two numbers
    is skipped. Never raises.

    :param ds: the dataset.
    :returns: the spacing and the keyword it came from, or None.

    PS3.3 10.7.1.3 (Pixel Spacing), C.7.6.3.1.7 (Pixel Aspect Ratio), C.8.5.5 (US regions).
    """
    candidates: list[tuple[str, Any]] = [("PixelSpacing", _get(ds, "PixelSpacing"))]
    for group_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        group = _first_item(ds, group_kw)
        measures = _first_item(group, "PixelMeasuresSequence") if group is not None else None
        if measures is not None:
            candidates.append(("PixelSpacing", _get(measures, "PixelSpacing")))
    candidates.append(("ImagerPixelSpacing", _get(ds, "ImagerPixelSpacing")))
    candidates.append(("PixelAspectRatio", _get(ds, "PixelAspectRatio")))
    for source, value in candidates:
        pair = _positive_pair(value)
        if pair is not None:
            return PixelSpacing(row=pair[0], column=pair[1], source=source, physical=source != "PixelAspectRatio")
    return _spacing_from_us_regions(ds)


def aspect_size(rows: int, columns: int, spacing: PixelSpacing | None) -> tuple[int, int]:
    """Return ``(out_rows, out_cols)`` giving square pixels by enlarging the coarser axis.

    The axis with the larger spacing (fewer samples per mm) is stretched to the
    finer one's sampling; the other axis keeps its size, so no detail is dropped.
    With spacing ``[0.5, 0.25]`` (rows 0.5 mm apart, columns 0.25 mm apart) a
    100 x 100 image becomes 200 rows x 100 columns.

    :param rows: stored rows.
    :param columns: stored columns.
    :param spacing: from :func:`pixel_spacing_from_dataset`, or None.
    :returns: the unchanged size when ``spacing`` is None, equal within 1e-3
        relative, not positive, or more anisotropic than :data:`MAX_ASPECT_RATIO`.
    """
    if spacing is None or rows <= 0 or columns <= 0:
        return rows, columns
    pair = _positive_pair([spacing.row, spacing.column])
    if pair is None:
        return rows, columns
    row_sp, col_sp = pair
    ratio = row_sp / col_sp
    if abs(ratio - 1.0) <= EQUAL_TOLERANCE or not (1 / MAX_ASPECT_RATIO <= ratio <= MAX_ASPECT_RATIO):
        return rows, columns
    if ratio > 1:
        return max(1, round(rows * ratio)), columns
    return rows, max(1, round(columns / ratio))


def apply_aspect(image: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """Resample ``image`` to ``out_rows`` x ``out_cols`` with Lanczos, keeping its dtype.

    ``uint8`` grey and RGB go through Pillow's ``L`` / ``RGB`` modes; anything else
    (``uint16``, floats) is resampled per channel in mode ``F`` (float32), then
    rounded and clipped back to the input dtype's range, since Lanczos overshoots.

    :param image: ``(rows, cols)`` or ``(rows, cols, C)`` display image.
    :param out_rows: target rows.
    :param out_cols: target columns.
    :returns: the resampled image (the input itself when the size is unchanged).
    """
    rows, cols = image.shape[:2]
    if (rows, cols) == (out_rows, out_cols):
        return image
    size = (out_cols, out_rows)  # Pillow sizes are (width, height)
    lanczos = Image.Resampling.LANCZOS
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] == 3):
        # Pillow infers mode L / RGB from the array (its ``mode=`` argument is deprecated).
        return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(size, lanczos))
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    out = []
    for chan in channels:
        pil = Image.fromarray(np.ascontiguousarray(chan, dtype=np.float32))
        res = np.asarray(pil.resize(size, lanczos), dtype=np.float32)
        if np.issubdtype(image.dtype, np.integer):
            info = np.iinfo(image.dtype)
            res = np.clip(np.rint(res), info.min, info.max)
        out.append(res.astype(image.dtype))
    return out[0] if image.ndim == 2 else np.stack(out, axis=-1)
