"""Grouping single-frame images into series and ordering them along the slice normal.

Used by ``--series``: a folder of CT/MR slices becomes one scroll-through clip
(or one contact sheet with ``--montage``). Ordering follows PS3.3 C.7.6.2.1.1:
the slice position is the projection of Image Position (Patient) onto the
normal of Image Orientation (Patient) (row direction x column direction);
Instance Number is the fallback when the geometry is missing or inconsistent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from dcmexport.sources import InputItem

T = TypeVar("T")

#: Geometry attributes that must agree across a series before its slices share one clip.
GEOMETRY_KEYWORDS = ("Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "PixelSpacing")


@dataclass(frozen=True)
class SliceInfo:
    """What ordering needs from one slice header (no PHI)."""

    series_uid: str
    position: float | None
    instance: int | None
    frames: int


def slice_normal(orientation: Sequence[float]) -> np.ndarray | None:
    """Unit normal of Image Orientation (Patient) (0020,0037); None when it is not two unit-ish vectors."""
    try:
        values = np.asarray([float(v) for v in orientation], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if values.shape != (6,):
        return None
    normal = np.cross(values[:3], values[3:])
    norm = float(np.linalg.norm(normal))
    return normal / norm if norm > 1e-6 else None


def slice_position(ds: Dataset) -> float | None:
    """Position of the slice along its normal (mm), from (0020,0032) and (0020,0037); None if unknown."""
    normal = slice_normal(ds.get("ImageOrientationPatient") or ())
    ipp = ds.get("ImagePositionPatient")
    if normal is None or not ipp or len(ipp) != 3:
        return None
    try:
        position = float(np.dot(np.asarray([float(v) for v in ipp]), normal))
    except (TypeError, ValueError):
        return None
    return position if math.isfinite(position) else None


def slice_info_from_dataset(ds: Dataset) -> SliceInfo:
    """Read what ordering needs from a header."""
    try:
        instance = int(ds.get("InstanceNumber")) if ds.get("InstanceNumber") not in (None, "") else None
    except (TypeError, ValueError):
        instance = None
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        frames = 1
    return SliceInfo(str(ds.get("SeriesInstanceUID", "") or ""), slice_position(ds), instance, frames)


def order_slices(items: Sequence[tuple[T, SliceInfo]]) -> list[T]:
    """Order slices by position along the normal when every slice has one, else by Instance Number.

    Ties and missing numbers keep the input order (the sort is stable).
    """
    if items and all(info.position is not None for _, info in items):
        return [item for item, _ in sorted(items, key=lambda pair: pair[1].position)]  # type: ignore[arg-type,return-value]
    return [item for item, _ in sorted(items, key=lambda pair: (pair[1].instance is None, pair[1].instance or 0))]


def group_series(items: Iterable[InputItem]) -> tuple[list[list[InputItem]], list[InputItem]]:
    """Split inputs into ordered single-frame series and everything else.

    Headers are read without pixel data. Multi-frame objects, unreadable files
    and images without a Series Instance UID are returned as singles, to be
    exported one by one (their errors are reported there).

    Returns:
        ``(series, singles)``: each series is a list of items in slice order;
        series appear in the order their first file was found.
    """
    groups: dict[str, list[tuple[InputItem, SliceInfo]]] = {}
    singles: list[InputItem] = []
    for item in items:
        try:
            ds = pydicom.dcmread(item.path, stop_before_pixels=True)
            info = slice_info_from_dataset(ds)
        except Exception:  # unreadable here: the single-object path reports it properly
            singles.append(item)
            continue
        if info.frames > 1 or not info.series_uid:
            singles.append(item)
        else:
            groups.setdefault(info.series_uid, []).append((item, info))
    return [order_slices(members) for members in groups.values()], singles


def geometry_mismatch(datasets: Sequence[Dataset]) -> str | None:
    """Name the first geometry attribute that differs across a series (keywords only), or None."""
    first = datasets[0]
    for keyword in GEOMETRY_KEYWORDS:
        reference = _geometry_value(first, keyword)
        for ds in datasets[1:]:
            if _geometry_value(ds, keyword) != reference:
                return keyword
    return None


def _geometry_value(ds: Dataset, keyword: str) -> object:
    value = ds.get(keyword)
    if keyword == "PixelSpacing" and value:
        try:
            return tuple(round(float(v), 4) for v in value)
        except (TypeError, ValueError):
            return None
    return value if not isinstance(value, pydicom.multival.MultiValue) else tuple(value)


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
