"""The scale bar: which spacing can be trusted for one, a round length, and drawing it with its label.

A scale bar claims a size in the patient, so only spacings that measure the
patient qualify (PS3.3 10.7.1.1-10.7.1.3):

* Pixel Spacing (0028,0030), also from the Pixel Measures functional group;
* Imager Pixel Spacing (0018,1164) divided by Estimated Radiographic
  Magnification Factor (0018,1114): without the factor it measures at the
  detector, and the patient is magnified by an unknown amount;
* an ultrasound region (0018,6011) whose Physical Units X/Y Direction are
  centimetres (code 3);
* a presentation state's Presentation Pixel Spacing (0070,0101).

Pixel Aspect Ratio has no unit. Anything else is refused with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.render.annotate import BLACK, WHITE, Ink, Label, Shape, apply_annotations, text_width
from dcmexport.render.aspect import PixelSpacing, _first_item, _get, _positive_pair, _spacing_from_us_regions

__all__ = ["apply_scale_bar", "choose_length", "format_length", "scale_spacing_from_dataset"]

#: Round lengths a bar may take (mm), the 1-2-5 series.
_STEPS = (1.0, 2.0, 5.0)


def scale_spacing_from_dataset(ds: Dataset) -> tuple[PixelSpacing | None, str]:
    """The spacing a scale bar may rely on, or None and why not (PHI-free: tags and keywords only).

    :param ds: the image.
    :returns: ``(spacing, "")`` in millimetres, or ``(None, reason)``.
    """
    candidates = [_get(ds, "PixelSpacing")]
    for group_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        group = _first_item(ds, group_kw)
        measures = _first_item(group, "PixelMeasuresSequence") if group is not None else None
        if measures is not None:
            candidates.append(_get(measures, "PixelSpacing"))
    for value in candidates:
        pair = _positive_pair(value)
        if pair is not None:
            return PixelSpacing(pair[0], pair[1], "PixelSpacing"), ""
    imager = _positive_pair(_get(ds, "ImagerPixelSpacing"))
    if imager is not None:
        try:
            factor = float(_get(ds, "EstimatedRadiographicMagnificationFactor"))
        except (TypeError, ValueError):
            factor = float("nan")
        if math.isfinite(factor) and factor > 0:
            return (PixelSpacing(imager[0] / factor, imager[1] / factor,
                                 "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"), "")
        return None, ("(0018,1164) ImagerPixelSpacing measures at the detector and (0018,1114) "
                      "EstimatedRadiographicMagnificationFactor is missing: the size in the patient is unknown")
    us = _spacing_from_us_regions(ds)
    if us is not None:
        return us, ""
    if _get(ds, "SequenceOfUltrasoundRegions"):
        return None, ("no (0018,6011) SequenceOfUltrasoundRegions item has both Physical Units X/Y Direction "
                      "(0018,6024)/(0018,6026) in cm (code 3) and positive Physical Delta X/Y")
    if _positive_pair(_get(ds, "PixelAspectRatio")) is not None:
        return None, "only (0028,0034) PixelAspectRatio is present, which has no physical size"
    return None, "no (0028,0030) PixelSpacing (nor a calibrated imager or ultrasound spacing) in the file"


def choose_length(mm_per_pixel: float, width: int, fraction: float = 0.2) -> float:
    """The longest round length (1, 2, 5 x 10^k mm) not longer than ``fraction`` of the image width.

    :param mm_per_pixel: horizontal millimetres per output pixel.
    :param width: output columns.
    :param fraction: the most of the width the bar may take.
    """
    target = width * mm_per_pixel * fraction
    exponent = math.floor(math.log10(target)) if target > 0 else 0
    candidates = [step * 10.0**k for k in (exponent - 1, exponent) for step in _STEPS]
    fitting = [c for c in candidates if c <= target * (1 + 1e-9)]
    return float(f"{max(fitting) if fitting else min(candidates):.6g}")


def format_length(mm: float) -> str:
    """``10`` -> ``1 cm``, ``5`` -> ``5 mm``, ``0.5`` -> ``0.5 mm``, ``250`` -> ``25 cm``."""
    if mm >= 10 and abs(mm / 10 - round(mm / 10)) < 1e-9:
        return f"{mm / 10:g} cm"
    return f"{mm:g} mm"


def apply_scale_bar(
    image: np.ndarray,
    mm_per_pixel: float,
    length_mm: float,
    corner: str = "bottom-right",
    ink: Ink = WHITE,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Draw a horizontal bar of ``length_mm`` with its label in a corner of an output image.

    :param image: grey or RGB display image (output geometry); not changed.
    :param mm_per_pixel: horizontal millimetres per output pixel (after aspect, crop and zoom).
    :param length_mm: the bar's length.
    :param corner: ``bottom-right``, ``bottom-left``, ``top-right`` or ``top-left``.
    :param ink: the bar's colour (a dark halo keeps it visible on white).
    :returns: the new image and the bar's box ``(x0, y0, x1, y1)`` (label included) in output pixels.
    :raises ValueError: the bar does not fit in the image (longer than 90 % of its width).
    """
    rows, cols = image.shape[:2]
    length_px = length_mm / mm_per_pixel
    if length_px > 0.9 * cols or length_px < 2:
        raise ValueError(f"a {format_length(length_mm)} bar is {length_px:.0f} px on an image {cols} px wide")
    short = min(rows, cols)
    thickness = max(2, round(short / 100))
    margin = max(4, round(short / 25))
    font_px = max(10, round(short / 20))
    text_gap = max(2, thickness)
    right_side = corner.endswith("right")
    bottom = corner.startswith("bottom")
    x0 = cols - margin - length_px if right_side else float(margin)
    x1 = x0 + length_px
    label_height = font_px * 1.25
    if bottom:
        bar_y = rows - margin - thickness
        label_box = (x0 - cols, bar_y - text_gap - label_height, x1 + cols, bar_y - text_gap)
    else:
        bar_y = float(margin)
        label_box = (x0 - cols, bar_y + thickness + text_gap, x1 + cols, bar_y + thickness + text_gap + label_height)
    bar = ((x0, bar_y), (x1, bar_y), (x1, bar_y + thickness), (x0, bar_y + thickness))
    halo = ((x0 - 1, bar_y - 1), (x1 + 1, bar_y - 1), (x1 + 1, bar_y + thickness + 1), (x0 - 1, bar_y + thickness + 1))
    shapes: Sequence[Shape] = (Shape(halo, BLACK, filled=True), Shape(bar, ink, filled=True))
    text = format_length(length_mm)
    half_text = text_width(text, font_px) / 2 + 2
    centre = min(max((x0 + x1) / 2, half_text), cols - half_text)  # the label stays on the image
    label = Label(text, ink, box=(centre - cols, label_box[1], centre + cols, label_box[3]), justification="CENTER")
    out = apply_annotations(image, shapes, [label], font_size=font_px)
    top = min(bar_y, label_box[1])
    bottom_edge = max(bar_y + thickness, label_box[3])
    box = (max(0, math.floor(x0) - 1), max(0, math.floor(top) - 1), min(cols, math.ceil(x1) + 1),
           min(rows, math.ceil(bottom_edge) + 1))
    return out, box
