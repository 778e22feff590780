"""Overlay planes (groups 60xx): read them from a dataset and burn them into display frames.

An overlay plane (PS3.3 C.9.2) is a bitmap beside the pixel data: graphics
(Overlay Type ``G``: arrows, text, measurements) or a region of interest
(``R``). They are off by default in dcmexport because graphics overlays can
carry identifying text (the Clean Graphics Option, PS3.15 E.3.3); ``--overlays``
burns them in.

* Graphics planes set every pixel whose bit is 1 to the chosen value, like
  dcmtk's "Replace" mode (its default for graphics).
* ROI planes are drawn as their outline (bit-1 pixels with a bit-0 or
  off-plane 4-neighbour), so the region's content stays visible. dcmtk's
  default "Region of Interest" mode instead darkens everything *outside* the
  region (value >> half the bit depth); a figure is better served by an outline.
* A multi-frame plane (Number of Frames in Overlay (60xx,0015)) covers the
  image frames from Image Frame Origin (60xx,0051); a plane without it covers
  every frame (CP-1974, as dcmtk).

Overlay data embedded in unused high bits of the pixel data (retired since
2004) is not read: such a plane is reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["OverlayPlane", "apply_overlays", "overlay_mask", "overlay_planes_from_dataset"]

#: The 16 overlay groups: 6000, 6002, ... 601E (PS3.5 7.6).
OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))


@dataclass(frozen=True, eq=False)
class OverlayPlane:
    """One overlay plane: its position on the image and its bits.

    ``origin`` is Overlay Origin (60xx,0050) as (row, column), 1-based (the
    image's top-left pixel is 1\\1); ``first_frame`` is Image Frame Origin
    (1-based); ``bits`` is ``(frames, rows, columns)`` bool. ``all_frames``
    marks a single-frame plane that covers every image frame.
    """

    group: int
    origin: tuple[int, int]
    kind: str
    first_frame: int
    all_frames: bool
    bits: np.ndarray

    @property
    def is_roi(self) -> bool:
        return self.kind == "R"

    def frame_bits(self, frame: int) -> np.ndarray | None:
        """The plane's bits over image frame ``frame`` (0-based), or None when it does not cover that frame."""
        if self.all_frames:
            return self.bits[0]
        k = frame - (self.first_frame - 1)
        return self.bits[k] if 0 <= k < self.bits.shape[0] else None


def _int(ds: Dataset, tag: int, default: int | None = None) -> int | None:
    """An integer element's (first) value; ``default`` when absent or empty, None when not a number."""
    element = ds.get(tag)
    if element is None:
        return default
    value = element.value
    if isinstance(value, list | tuple | MultiValue):
        value = value[0] if len(value) else None
    if value is None or value in ("", b""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def overlay_planes_from_dataset(ds: Dataset) -> tuple[list[OverlayPlane], list[str]]:
    """Read every overlay plane of ``ds`` with its own Overlay Data (60xx,3000).

    :param ds: an image or a presentation state.
    :returns: the planes, and PHI-free notes on planes that could not be read
        (embedded in the pixel data, malformed), naming the group.

    PS3.3 C.9.2 (Overlay Plane Module).
    """
    planes: list[OverlayPlane] = []
    notes: list[str] = []
    for group in OVERLAY_GROUPS:
        if (group << 16 | 0x0010) not in ds:
            continue
        label = f"overlay group {group:04X}"
        rows, cols = _int(ds, group << 16 | 0x0010), _int(ds, group << 16 | 0x0011)
        data = ds.get(group << 16 | 0x3000)
        if data is None or not data.value:
            notes.append(f"{label}: no ({group:04X},3000) OverlayData (embedded in the pixel data, retired): not drawn")
            continue
        origin = ds.get(group << 16 | 0x0050)
        try:
            origin_rc = (int(origin.value[0]), int(origin.value[1])) if origin is not None else (1, 1)
        except (TypeError, ValueError, IndexError):
            origin_rc = (1, 1)
        bits_allocated = _int(ds, group << 16 | 0x0100, 1)
        bit_position = _int(ds, group << 16 | 0x0102, 0)
        if not rows or not cols or rows < 1 or cols < 1 or bits_allocated != 1 or bit_position != 0:
            notes.append(f"{label}: ({group:04X},0010-0102) geometry or bit layout unusable: not drawn")
            continue
        frames_in_overlay = _int(ds, group << 16 | 0x0015)
        frames = max(1, frames_in_overlay or 1)
        raw = np.frombuffer(bytes(data.value), dtype=np.uint8)
        needed = frames * rows * cols
        unpacked = np.unpackbits(raw, bitorder="little")
        if unpacked.size < needed:
            notes.append(f"{label}: ({group:04X},3000) OverlayData is shorter than Rows x Columns x frames: not drawn")
            continue
        kind_el = ds.get(group << 16 | 0x0040)
        kind = str(kind_el.value).strip().upper() if kind_el is not None and kind_el.value else "G"
        planes.append(OverlayPlane(
            group=group,
            origin=origin_rc,
            kind="R" if kind == "R" else "G",
            first_frame=max(1, _int(ds, group << 16 | 0x0051, 1) or 1),
            all_frames=frames_in_overlay is None,
            bits=unpacked[:needed].astype(bool).reshape(frames, rows, cols),
        ))
    return planes, notes


def _outline(bits: np.ndarray) -> np.ndarray:
    """Bit-1 pixels with a 4-neighbour that is 0 or off the plane."""
    padded = np.pad(bits, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return bits & ~inner


def overlay_mask(planes: Sequence[OverlayPlane], frame: int, shape: tuple[int, int]) -> np.ndarray | None:
    """The union of the planes' drawn pixels over image frame ``frame`` (0-based), in image geometry.

    :param planes: overlay planes (graphics drawn whole, ROI as outlines).
    :param frame: the image frame.
    :param shape: the image's ``(rows, columns)``.
    :returns: a ``(rows, columns)`` bool array, or None when no plane draws anything on that frame.
    """
    rows, cols = shape
    out: np.ndarray | None = None
    for plane in planes:
        bits = plane.frame_bits(frame)
        if bits is None:
            continue
        if plane.is_roi:
            bits = _outline(bits)
        top, left = plane.origin[0] - 1, plane.origin[1] - 1
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(rows, top + bits.shape[0]), min(cols, left + bits.shape[1])
        if y1 <= y0 or x1 <= x0:
            continue
        if out is None:
            out = np.zeros(shape, dtype=bool)
        out[y0:y1, x0:x1] |= bits[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def apply_overlays(
    image: np.ndarray, planes: Sequence[OverlayPlane], frame: int, value: int | tuple[int, int, int]
) -> np.ndarray:
    """Burn the overlay planes covering ``frame`` into a display image.

    :param image: ``(rows, cols)`` grey (uint8/uint16) or ``(rows, cols, 3)`` uint8 RGB, image geometry.
    :param planes: from :func:`overlay_planes_from_dataset`.
    :param frame: the image frame (0-based) the image shows.
    :param value: a grey level in the image's range, or an RGB triple (a grey image then becomes RGB).
    :returns: a new image, or ``image`` itself when nothing is drawn.
    """
    mask = overlay_mask(planes, frame, image.shape[:2])
    if mask is None or not mask.any():
        return image
    out = image.copy()
    if isinstance(value, tuple):
        if out.ndim == 2:
            grey = out if out.dtype == np.uint8 else (out >> 8).astype(np.uint8)
            out = np.repeat(grey[..., None], 3, axis=2)
        out[mask] = value
    else:
        out[mask] = value
    return out
