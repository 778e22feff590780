"""Grayscale value transforms: Modality LUT, VOI window / VOI LUT, MONOCHROME1 inversion.

Pure array functions (``apply_*``) take every parameter explicitly; the small
``*_from_dataset`` adapters read those parameters from a Dataset and raise
:class:`~dcmexport.errors.RenderError` naming the tag and keyword (never a
value) when the file holds something we cannot use.

The pipeline is the one of PS3.4 N.2.1.1 (grayscale transformations):
stored value -> Modality LUT (PS3.3 C.11.1) -> VOI LUT (PS3.3 C.11.2) ->
display value, with MONOCHROME1 inverted so that 0 is always black.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from dcmexport.errors import RenderError
from dcmexport.options import VoiFunction, Window

__all__ = [
    "apply_inversion",
    "apply_modality",
    "apply_range",
    "apply_voi_lut_sequence",
    "apply_voi_window",
    "output_max",
    "stored_value_range",
    "to_output_dtype",
    "voi_function_from_dataset",
    "voi_lut_bits_from_dataset",
    "voi_lut_count_from_dataset",
    "window_count_from_dataset",
    "window_from_dataset",
]


# --------------------------------------------------------------------------- pure maths


def stored_value_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """Return the inclusive range of stored values that ``bits_stored`` bits can hold.

    :param bits_stored: Bits Stored (0028,0101), 1..32.
    :param signed: True when Pixel Representation (0028,0103) is 1 (two's complement).
    :returns: ``(min_stored, max_stored)``, e.g. ``(-2048, 2047)`` for 12-bit signed.
    :raises RenderError: when ``bits_stored`` is outside 1..32.

    PS3.5 8.1.1 (Pixel Data encoding) and PS3.3 C.7.6.3.1.
    """
    if not 1 <= bits_stored <= 32:
        raise RenderError(f"(0028,0101) BitsStored must be 1..32 (PS3.3 C.7.6.3), got {bits_stored}")
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


def output_max(bit_depth: int) -> int:
    """Return the white level for an output bit depth: 255 for 8, 65535 for 16.

    :param bit_depth: 8 or 16.
    :returns: ``2**bit_depth - 1``.
    :raises RenderError: for any other depth.
    """
    if bit_depth not in (8, 16):
        raise RenderError(f"output bit depth must be 8 or 16, got {bit_depth}; use --bit-depth 8 or 16")
    return (1 << bit_depth) - 1


def _as_float(array: np.ndarray) -> np.ndarray:
    """Float view for the maths: float32 stays float32 (speed), anything else becomes float64."""
    arr = np.asarray(array)
    if arr.dtype == np.float32:
        return arr
    return arr.astype(np.float64)


def apply_voi_window(
    array: np.ndarray,
    center: float,
    width: float,
    function: VoiFunction = VoiFunction.LINEAR,
    y_min: float = 0.0,
    y_max: float = 255.0,
) -> np.ndarray:
    """Apply a VOI window to modality values, producing floats in ``[y_min, y_max]``.

    Hand-written because :func:`pydicom.pixels.apply_windowing` only reads its
    parameters from a Dataset and maps into the *stored-value* range of that
    Dataset, while we need explicit parameters (``--window`` overrides) and an
    output range chosen by the encoder (0..255 or 0..65535).

    :param array: modality values (output of the Modality LUT), any real dtype.
    :param center: Window Center (0028,1050).
    :param width: Window Width (0028,1051); >= 1 for LINEAR, > 0 otherwise.
    :param function: VOI LUT Function (0028,1056).
    :param y_min: output value for the bottom of the window.
    :param y_max: output value for the top of the window.
    :returns: float array (float32 if ``array`` is float32, else float64), same shape.
    :raises RenderError: when ``width`` is invalid for ``function``.

    Formulas exactly as PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT)
    and C.11.2.1.3.1 (SIGMOID).
    """
    x = _as_float(array)
    dt = x.dtype.type
    span = y_max - y_min
    if function is VoiFunction.LINEAR:
        if not width >= 1:
            raise RenderError(
                "(0028,1051) WindowWidth must be >= 1 for LINEAR (PS3.3 C.11.2.1.2.1); "
                "pass --window CENTER,WIDTH to override"
            )
        lower = center - 0.5 - (width - 1) / 2
        upper = center - 0.5 + (width - 1) / 2
        if width == 1:
            # Degenerate window: the ramp is empty, only the two clamps apply.
            out = np.where(x <= lower, dt(y_min), dt(y_max))
        else:
            out = ((x - dt(center - 0.5)) / dt(width - 1) + dt(0.5)) * dt(span) + dt(y_min)
            out = np.where(x <= lower, dt(y_min), np.where(x > upper, dt(y_max), out))
    elif function is VoiFunction.LINEAR_EXACT:
        if not width > 0:
            raise RenderError(
                "(0028,1051) WindowWidth must be > 0 for LINEAR_EXACT (PS3.3 C.11.2.1.3.2); "
                "pass --window CENTER,WIDTH to override"
            )
        out = ((x - dt(center)) / dt(width) + dt(0.5)) * dt(span) + dt(y_min)
        out = np.where(x <= center - width / 2, dt(y_min), np.where(x > center + width / 2, dt(y_max), out))
    elif function is VoiFunction.SIGMOID:
        if not width > 0:
            raise RenderError(
                "(0028,1051) WindowWidth must be > 0 for SIGMOID (PS3.3 C.11.2.1.3.1); "
                "pass --window CENTER,WIDTH to override"
            )
        # exp overflows to inf for far-below-window values, which correctly gives y_min.
        with np.errstate(over="ignore"):
            out = dt(span) / (dt(1) + np.exp(dt(-4) * (x - dt(center)) / dt(width))) + dt(y_min)
    else:  # pragma: no cover - VoiFunction is a closed enum
        raise RenderError("Unsupported (0028,1056) VOI LUT Function value")
    return np.asarray(out, dtype=x.dtype)


def apply_range(array: np.ndarray, low: float, high: float, y_max: float) -> np.ndarray:
    """Map ``[low, high]`` linearly onto ``[0, y_max]``, clipping outside values.

    Used when the object has no window and no VOI LUT (see
    :mod:`dcmexport.render.renderer` for when the range is the full stored range
    and when it is the min-max of the first frame). A flat range (``high <= low``)
    renders black rather than dividing by zero.

    :param array: modality values.
    :param low: value shown black.
    :param high: value shown white.
    :param y_max: output white level.
    :returns: float array in ``[0, y_max]``.
    """
    x = _as_float(array)
    dt = x.dtype.type
    if not high > low:
        return np.zeros(x.shape, dtype=x.dtype)
    out = (x - dt(low)) * dt(y_max / (high - low))
    return np.clip(out, dt(0), dt(y_max))


def apply_inversion(array: np.ndarray, y_max: float) -> np.ndarray:
    """Invert display values, ``y_max - array``, for MONOCHROME1 (PS3.3 C.7.6.3.1.2).

    :param array: display values in ``[0, y_max]``.
    :param y_max: output white level.
    :returns: inverted array, same dtype as the float input.
    """
    x = _as_float(array)
    return x.dtype.type(y_max) - x


def to_output_dtype(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round display values and store them as ``uint8`` (8) or ``uint16`` (16).

    NaN (possible with float pixel data) becomes 0 so that garbage renders black.

    :param array: float display values in ``[0, 2**bit_depth - 1]``.
    :param bit_depth: 8 or 16.
    :returns: ``uint8`` or ``uint16`` array.
    :raises RenderError: for an unsupported bit depth.
    """
    top = output_max(bit_depth)
    x = _as_float(array)
    out = np.rint(np.nan_to_num(x, nan=0.0, posinf=top, neginf=0.0))
    np.clip(out, 0, top, out=out)
    return out.astype(np.uint8 if bit_depth == 8 else np.uint16)


def apply_modality(array: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the Modality LUT (PS3.3 C.11.1): Modality LUT Sequence or Rescale Slope/Intercept.

    Delegates to :func:`pydicom.pixels.apply_modality_lut`, except for float input
    with a rescale, which is done here in the input's own precision: pydicom always
    promotes to float64, which doubles time and memory on 32-bit and float frames.

    :param array: stored values (or float pixel data).
    :param ds: dataset (or render view) holding the Modality LUT Module attributes.
    :returns: modality values; integer input without any modality transform is returned unchanged.
    :raises RenderError: when the Modality LUT Sequence cannot be applied.
    """
    if array.dtype == np.float32 and not ds.get("ModalityLUTSequence"):
        slope, intercept = rescale_from_dataset(ds)
        if (slope, intercept) == (1.0, 0.0):
            return array
        return array * np.float32(slope) + np.float32(intercept)
    try:
        return apply_modality_lut(array, ds)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise RenderError(
            f"(0028,3000) ModalityLUTSequence cannot be applied ({type(exc).__name__}); "
            "the LUT Descriptor (0028,3002) or LUT Data (0028,3006) is malformed"
        ) from None


def apply_voi_lut_sequence(array: np.ndarray, ds: Dataset, index: int, y_max: float) -> np.ndarray:
    """Apply item ``index`` of the VOI LUT Sequence (0028,3010) and scale to ``[0, y_max]``.

    The entries are looked up here and then scaled from their nominal range
    ``0..2**bits-1`` (third value of the LUT Descriptor (0028,3002), PS3.3
    C.11.2.1.1) to the output range; modality values are rounded and clipped to
    the table's input range first. Not pydicom's :func:`pydicom.pixels.apply_voi`:
    it writes the shifted index into an array of the *entries'* dtype, so with
    8-bit entries every index above 255 wraps around (an 8-bit table of 2048
    entries rendered black).

    :param array: modality values.
    :param ds: dataset (or render view) holding the VOI LUT Sequence.
    :param index: which VOI LUT item to use.
    :param y_max: output white level.
    :returns: float64 display values in ``[0, y_max]``.
    :raises RenderError: when the LUT item is missing or malformed.
    """
    try:
        item = ds.VOILUTSequence[index]
        entries, first_map, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536
        if bits not in (8, *range(10, 17)):
            raise NotImplementedError(bits)  # PS3.3 C.8.11.3.1.5: 8 or 10..16 bits per entry
        table = _lut_entries(item, ds, entries)
        iv = np.rint(np.asarray(array, dtype=np.float64))
        iv = np.clip(iv, first_map, first_map + entries - 1).astype(np.int64) - first_map
        mapped = np.take(table, iv)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, NotImplementedError) as exc:
        raise RenderError(
            f"(0028,3010) VOILUTSequence item #{index} cannot be applied ({type(exc).__name__}); "
            "check its LUT Descriptor (0028,3002) and LUT Data (0028,3006), or pass --window CENTER,WIDTH"
        ) from None
    top = float((1 << bits) - 1)
    return np.clip(mapped.astype(np.float64) * (y_max / top), 0.0, y_max)


def _lut_entries(item: Dataset, ds: Dataset, entries: int) -> np.ndarray:
    """The first ``entries`` values of an item's LUT Data (0028,3006), US (a list) or OW (bytes)."""
    element = item["LUTData"]
    raw = element.value
    if isinstance(raw, bytes | bytearray):
        little = ds.original_encoding[1] if ds.original_encoding[1] is not None else True
        values = np.frombuffer(bytes(raw[: 2 * (len(raw) // 2)]), dtype="<u2" if little else ">u2")
    else:
        values = np.asarray(_values(raw), dtype=np.int64)
    if values.size < entries:
        raise ValueError("LUT Data shorter than its descriptor")
    return values[:entries].astype(np.int64)


# --------------------------------------------------------------------------- dataset adapters


def _values(elem_value: Any) -> list[Any]:
    """A DICOM value as a list: multi-valued stays, single becomes [v], empty becomes []."""
    if elem_value is None or elem_value == "":
        return []
    if isinstance(elem_value, str | bytes) or not isinstance(elem_value, Sequence):
        return [elem_value]
    return list(elem_value)


def _finite_floats(elem_value: Any) -> list[float] | None:
    """Convert a DS/IS/FD value to finite floats, or None when any entry is garbage."""
    try:
        out = [float(v) for v in _values(elem_value)]
    except (TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(v) for v in out):
        return None
    return out


def rescale_from_dataset(ds: Dataset) -> tuple[float, float]:
    """Return ``(slope, intercept)`` from Rescale Slope/Intercept (0028,1053)/(0028,1052).

    :param ds: dataset or render view.
    :returns: ``(1.0, 0.0)`` when either attribute is absent (identity, as pydicom does).
    :raises RenderError: when a present value is not a finite number.

    PS3.3 C.11.1.1.2.
    """
    if "RescaleSlope" not in ds or "RescaleIntercept" not in ds:
        return 1.0, 0.0
    slope = _finite_floats(ds.RescaleSlope)
    intercept = _finite_floats(ds.RescaleIntercept)
    if not slope or not intercept:
        raise RenderError(
            "(0028,1053) RescaleSlope / (0028,1052) RescaleIntercept is not a finite number; "
            "the modality values cannot be computed"
        )
    return slope[0], intercept[0]


def voi_function_from_dataset(ds: Dataset) -> VoiFunction | None:
    """Return VOI LUT Function (0028,1056) as an enum, or None when absent/empty.

    :param ds: dataset or render view.
    :returns: the function, or None (callers default to LINEAR, PS3.3 C.11.2.1.3).
    :raises RenderError: for a value outside LINEAR / LINEAR_EXACT / SIGMOID.
    """
    value = ds.get("VOILUTFunction")
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().upper()
    try:
        return VoiFunction(text)
    except ValueError:
        # Not quoted: a damaged or hostile file can put any text in a CS element.
        raise RenderError(
            "Unsupported (0028,1056) VOI LUT Function value; "
            "expected LINEAR, LINEAR_EXACT or SIGMOID, or pass --window CENTER,WIDTH"
        ) from None


def window_count_from_dataset(ds: Dataset) -> int:
    """Return how many usable windows (0028,1050)/(0028,1051) pairs the dataset holds.

    :param ds: dataset or render view.
    :returns: ``min(len(WindowCenter), len(WindowWidth))``; 0 when either is absent or empty.
    """
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return 0
    return min(len(_values(ds.WindowCenter)), len(_values(ds.WindowWidth)))


def window_from_dataset(ds: Dataset, index: int = 0) -> Window | None:
    """Return window ``index`` of the dataset as a :class:`Window`, or None when it has none.

    :param ds: dataset or render view.
    :param index: 0-based window number (Window Center and Width are multi-valued in step).
    :returns: the window with the dataset's VOI LUT Function (LINEAR if absent), or None
        when the dataset has no window at all.
    :raises RenderError: when ``index`` is out of range, a value is not a number, or the
        VOI LUT Function is unsupported.

    PS3.3 C.11.2.1.2.
    """
    count = window_count_from_dataset(ds)
    if count == 0:
        if index != 0:
            raise RenderError(
                f"window index {index} is out of range: (0028,1050) WindowCenter holds 0 windows; "
                "pass --window CENTER,WIDTH instead"
            )
        return None
    if not 0 <= index < count:
        raise RenderError(
            f"window index {index} is out of range: (0028,1050) WindowCenter holds {count} window(s); "
            f"choose a window index 0..{count - 1} or pass --window CENTER,WIDTH"
        )
    centers = _finite_floats(_values(ds.WindowCenter)[index])
    widths = _finite_floats(_values(ds.WindowWidth)[index])
    if not centers or not widths:
        raise RenderError(
            f"(0028,1050) WindowCenter / (0028,1051) WindowWidth #{index} is not a finite number; "
            "pass --window CENTER,WIDTH to override"
        )
    function = voi_function_from_dataset(ds) or VoiFunction.LINEAR
    return Window(centers[0], widths[0], function)


def voi_lut_count_from_dataset(ds: Dataset) -> int:
    """Return the number of items in VOI LUT Sequence (0028,3010); 0 when absent.

    :param ds: dataset or render view.
    :returns: item count.
    """
    seq = ds.get("VOILUTSequence")
    return len(seq) if seq else 0


def voi_lut_bits_from_dataset(ds: Dataset, index: int) -> int:
    """Return the bits per entry (third LUT Descriptor value) of VOI LUT item ``index``.

    :param ds: dataset or render view.
    :param index: item number.
    :returns: 8..16.
    :raises RenderError: when the descriptor is missing or not 8 or 10..16 (PS3.3 C.11.2.1.1).
    """
    try:
        bits = int(ds.VOILUTSequence[index].LUTDescriptor[2])
    except (AttributeError, IndexError, TypeError, ValueError, KeyError):
        raise RenderError(
            f"(0028,3010) VOILUTSequence item #{index} has no usable (0028,3002) LUTDescriptor"
        ) from None
    if bits != 8 and not 10 <= bits <= 16:
        raise RenderError(
            f"(0028,3010) VOILUTSequence item #{index}: (0028,3002) LUTDescriptor bits per entry "
            f"must be 8 or 10..16 (PS3.3 C.11.2.1.1), got {bits}"
        )
    return bits
