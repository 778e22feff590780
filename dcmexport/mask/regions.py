"""Ultrasound image regions: what a plan keeps of an ultrasound frame (PS3.3 C.8.5.5).

The Sequence of Ultrasound Regions (0018,6011) says where the acquired image
data lie; everything around them (the text, graphics and parameter columns of
an ultrasound screen) is blanked by a plan that keeps only these regions.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from dcmexport.mask.attributes import read_attribute
from dcmexport.mask.rects import Box, clip_box

#: The attributes this module reads (declared in the plan's key, dcmexport.mask.plan). Pixel
#: Representation is read by pydicom when it converts the sequence: it passes it to the items,
#: to decode their "US or SS" elements.
US_REGION_ATTRIBUTES: tuple[str, ...] = (
    "Modality", "Rows", "Columns", "SequenceOfUltrasoundRegions", "PixelRepresentation",
)  # fmt: skip


def use_us_regions(ds: Dataset, setting: bool | None) -> bool:
    """Return True when the ultrasound regions of ``ds`` decide what is kept.

    Args:
        ds: the object.
        setting: ``MaskOptions.us_regions``: True or False forces the choice;
            None means on for Modality (0008,0060) US.

    Returns:
        Whether to keep only the regions of :func:`us_regions_from_dataset`.
    """
    if setting is not None:
        return setting
    return str(read_attribute(ds, "Modality", "") or "").strip().upper() == "US"


def us_regions_from_dataset(ds: Dataset) -> tuple[Box, ...]:
    """Return the image-data regions of the Sequence of Ultrasound Regions, as boxes.

    Items whose Region Spatial Format (0018,6012) is not 0 (2D, M-mode,
    spectral, waveform... PS3.3 C.8.5.5.1.1) hold acquired image data; items
    with format 0 (none: text, graphics) and items with missing or non-numeric
    Region Location (0018,6018..601E) are left out, so garbage can only make
    the kept area smaller. Region Location Max X1/Y1 are inclusive
    (PS3.3 C.8.5.5.1.2), hence the +1 for exclusive boxes.

    Args:
        ds: the ultrasound object.

    Returns:
        Boxes ``(x0, y0, x1, y1)`` clipped to Rows x Columns; empty when there is
        no sequence, no image region or no usable item.
    """
    items = read_attribute(ds, "SequenceOfUltrasoundRegions")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return ()
    if not items:
        return ()
    boxes: list[Box] = []
    for item in items:
        try:
            if int(item.RegionSpatialFormat) == 0:
                continue
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            x1, y1 = int(item.RegionLocationMaxX1) + 1, int(item.RegionLocationMaxY1) + 1
        except (AttributeError, TypeError, ValueError):
            continue
        box = clip_box((x0, y0, x1, y1), rows, columns)
        if box is not None and box not in boxes:
            boxes.append(box)
    return tuple(boxes)

