"""Colour objects: RGB / YBR scaling to 8 bits and PALETTE COLOR lookup.

Frames arrive from the read stage as produced by
``pydicom.pixels.iter_pixels(..., as_rgb=True)``: YBR_FULL and YBR_FULL_422
(including JPEG baseline ultrasound) are *already* RGB, and YBR_ICT / YBR_RCT
come out of the JPEG 2000 decoder as RGB. Converting them again here would
turn grey ultrasound green, so the only colour maths left is bit-depth scaling
and the palette lookup. PS3.3 C.7.6.3.1.2 (Photometric Interpretation).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from dcmexport.errors import RenderError

__all__ = [
    "RGB_LIKE",
    "apply_rgb_scaling",
    "palette_table_from_dataset",
    "rgb_scaling_table",
]

#: Photometric Interpretations whose frames reach us as RGB triplets.
RGB_LIKE = frozenset(
    {
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "YBR_PARTIAL_420",
        "YBR_PARTIAL_422",
        "YBR_ICT",
        "YBR_RCT",
    }
)


def rgb_scaling_table(bits_stored: int) -> np.ndarray:
    """Return a ``uint8`` table mapping stored sample values ``0..2**bits_stored-1`` to ``0..255``.

    :param bits_stored: Bits Stored (0028,0101), 1..16.
    :returns: ``uint8`` array of length ``2**bits_stored``; identity for 8 bits.
    :raises RenderError: for ``bits_stored`` outside 1..16 (use :func:`apply_rgb_scaling`).
    """
    if not 1 <= bits_stored <= 16:
        raise RenderError(f"(0028,0101) BitsStored must be 1..16 for a colour table, got {bits_stored}")
    top = (1 << bits_stored) - 1
    values = np.arange(top + 1, dtype=np.float64)
    return np.rint(values * (255.0 / top)).astype(np.uint8)


def apply_rgb_scaling(frame: np.ndarray, bits_stored: int) -> np.ndarray:
    """Scale RGB samples of any depth to ``uint8`` (``v * 255 / (2**bits_stored - 1)``, rounded).

    The direct float32 path; :class:`~dcmexport.render.renderer.FrameRenderer`
    uses :func:`rgb_scaling_table` for integer data of up to 16 bits instead.

    :param frame: ``(rows, cols, 3)`` samples, integer or float.
    :param bits_stored: Bits Stored (0028,0101), 1..32.
    :returns: ``(rows, cols, 3)`` ``uint8``; values above the stored range clip to 255.
    """
    if frame.dtype == np.uint8 and bits_stored == 8:
        return frame
    top = float((1 << bits_stored) - 1)
    out = frame.astype(np.float32) * np.float32(255.0 / top)
    np.clip(np.rint(out), 0, 255, out=out)
    return out.astype(np.uint8)


_PALETTE_DATA = (
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "AlphaPaletteColorLookupTableData",
)


def _is_big_endian(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if tsyntax is not None:
        return not tsyntax.is_little_endian
    return ds.original_encoding[1] is False


def _little_endian_palette(ds: Dataset, entries: int) -> Dataset:
    """A dataset whose 16-bit (non-segmented) palette data are little-endian bytes.

    pydicom 3.0 reads non-segmented Palette Color LUT Data with ``np.frombuffer`` in
    native (little-endian) order, ignoring the transfer syntax, so a big-endian
    file (e.g. OBXXXX1A_expb.dcm) renders almost black. Swap the bytes here and
    hand pydicom a shallow stand-in; segmented data are decoded with the right
    endianness by pydicom and are left alone.
    """
    if not _is_big_endian(ds) or "RedPaletteColorLookupTableData" not in ds:
        return ds
    shadow = Dataset()
    for elem in ds.group_dataset(0x0028):
        shadow.add(elem)
    for kw in _PALETTE_DATA:
        raw = ds.get(kw)
        if isinstance(raw, bytes) and len(raw) == 2 * entries:
            swapped = np.frombuffer(raw, dtype=">u2").astype("<u2").tobytes()
            # A new element: the caller's dataset (and its element objects) stay untouched.
            shadow[kw] = DataElement(ds[kw].tag, ds[kw].VR, swapped)
    return shadow


def palette_table_from_dataset(ds: Dataset, min_index: int, max_index: int) -> np.ndarray:
    """Build the RGB table for palette indices ``min_index..max_index`` (inclusive).

    Runs :func:`pydicom.pixels.apply_color_lut` once over every possible index, so
    that rendering a frame is one table lookup. 16-bit palette entries are scaled
    to 8 bits (``/257``, rounded, which maps 0xFFFF to 255 exactly); an alpha
    channel, if any, is dropped. PS3.3 C.7.6.3.1.5 and C.7.9 (segmented palettes).

    :param ds: dataset with the Palette Color Lookup Table Module.
    :param min_index: smallest possible stored index.
    :param max_index: largest possible stored index.
    :returns: ``uint8`` array of shape ``(max_index - min_index + 1, 3)``.
    :raises RenderError: when the palette descriptors or data are missing or malformed.
    """
    indices = np.arange(min_index, max_index + 1, dtype=np.int64)
    try:
        entries, first_map = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor[:2])
        entries = entries or 65536
        # pydicom writes the shifted index into an array of the *entry* dtype, where an
        # index beyond the table would wrap around instead of clamping: clamp first.
        indices = np.clip(indices, first_map, first_map + entries - 1)
        rgb = apply_color_lut(indices, _little_endian_palette(ds, entries))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise RenderError(
            f"(0028,1201) RedPaletteColorLookupTableData and its descriptor (0028,1101) cannot be "
            f"applied for PALETTE COLOR ({type(exc).__name__}); the palette is missing or malformed"
        ) from None
    rgb = rgb[..., :3]
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    scaled = np.rint(rgb.astype(np.float64) / 257.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)
