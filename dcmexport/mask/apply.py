"""Masking the stored Pixel Data of a DICOM output with a plan, in the value that displays black.

The rendered outputs (PNG, video ...) are masked frame by frame after rendering;
this module masks the de-identified DICOM itself, in stored values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dcmexport.errors import BurnedInError
from dcmexport.mask.rects import MaskPlan


def _black_value(ds: Dataset, photometric: str, bits_stored: int, signed: bool, dtype: np.dtype[Any]) -> int:
    """Return the stored value that displays black for this photometric interpretation.

    MONOCHROME2: the lowest storable value; MONOCHROME1: the highest (PS3.3
    C.7.6.3.1.2); RGB: 0; PALETTE COLOR: the index whose palette entry is
    darkest (found with pydicom's own apply_color_lut).
    """
    low = -(1 << (bits_stored - 1)) if signed else 0
    high = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
    if photometric == "MONOCHROME1":
        return high
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        indices = np.arange(low, high + 1).astype(dtype)
        rgb = apply_color_lut(indices, ds)[..., :3].astype(np.int64)
        return int(indices[int(np.argmin(rgb.sum(axis=-1)))])
    return low


def apply_plan_to_dataset(ds: Dataset, plan: MaskPlan) -> None:
    """Mask every frame of ``ds``'s Pixel Data in place and store it uncompressed.

    The pixels are decoded with pydicom (YBR colour spaces converted to RGB),
    each frame is masked in stored values with the value that displays black,
    and the result is written back as native Explicit VR Little Endian with
    pydicom's ``set_pixel_data`` (Photometric Interpretation RGB when decoded
    to RGB, Planar Configuration 0). SOP Instance UID is left alone: UID
    handling belongs to de-identification, and so does the marking: Burned In
    Annotation (0028,0301) and 113101 Clean Pixel Data say what masking did and
    what was checked (:mod:`dcmexport.deid.marking`), which a plan alone does not
    know. An empty plan leaves ``ds`` untouched.

    Args:
        ds: the dataset to modify (normally the de-identified copy).
        plan: the plan from :func:`plan_masks`.

    Raises:
        BurnedInError: no (7FE0,0010) Pixel Data, it cannot be decoded, or its
            photometric interpretation or bit depth cannot be written back.
    """
    plan.require_resolved()  # a refusal deferred to --redact-text that nothing cleared
    if plan.is_empty:
        return
    if "PixelData" not in ds:
        raise BurnedInError(
            "no (7FE0,0010) PixelData to mask (Float/Double Float Pixel Data are not supported); "
            "export without the DICOM output or pass --accept-burned-in"
        )
    from pydicom.pixels import get_decoder, pack_bits

    file_meta = getattr(ds, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if syntax is None:
        raise BurnedInError(
            "no (0002,0010) TransferSyntaxUID in the file meta; cannot decode PixelData to mask it"
        )
    if not syntax.is_little_endian:
        # Rewriting would need every OW/OF/UN value byte-swapped by hand (pydicom
        # refuses the conversion); fail closed rather than write a half-converted file.
        raise BurnedInError(
            "big-endian transfer syntax (retired Explicit VR Big Endian): the masked DICOM cannot be "
            "written safely; convert the file to little endian first or skip the DICOM output"
        )
    try:
        # as_rgb (the default) turns YBR_FULL/YBR_FULL_422 into RGB; meta says what came out.
        arr, meta = get_decoder(syntax).as_array(ds)
    except Exception as exc:  # any decoder failure means we cannot clean: fail closed
        raise BurnedInError(
            f"cannot decode (7FE0,0010) PixelData to mask it ({type(exc).__name__}); "
            "install the decoder plugin for its transfer syntax or skip the DICOM output"
        ) from None

    photometric = str(meta["photometric_interpretation"])
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB"):
        raise BurnedInError(
            f"cannot mask (0028,0004) PhotometricInterpretation {photometric} pixel data; "
            "skip the DICOM output for this object"
        )
    samples = int(meta["samples_per_pixel"])
    bits_allocated = int(meta["bits_allocated"])
    bits_stored = int(meta["bits_stored"])
    signed = int(meta["pixel_representation"]) == 1
    multi = "NumberOfFrames" in ds
    frames = arr if arr.ndim == (3 if samples == 1 else 4) else arr[np.newaxis]
    frames = np.ascontiguousarray(frames)

    fill = _black_value(ds, photometric, bits_stored, signed, frames.dtype)
    for i in range(frames.shape[0]):
        frames[i] = plan.apply(frames[i], fill)
    out = frames if multi else frames[0]

    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if bits_allocated in (8, 16) and out.dtype.itemsize * 8 == bits_allocated:
        ds.set_pixel_data(out, photometric, bits_stored, generate_instance_uid=False)
    elif bits_allocated in (1, 32):
        # Hand-written: set_pixel_data only takes 8/16-bit arrays (pydicom 3.0).
        data = pack_bits(out) if bits_allocated == 1 else out.tobytes()
        ds.PixelData = data if len(data) % 2 == 0 else data + b"\x00"
        ds["PixelData"].VR = "OB" if bits_allocated == 1 else "OW"
        ds["PixelData"].is_undefined_length = False
        ds.PhotometricInterpretation = photometric
        if samples > 1:
            ds.PlanarConfiguration = 0
    else:
        raise BurnedInError(
            f"cannot write back (0028,0100) BitsAllocated {bits_allocated} pixel data after masking; "
            "skip the DICOM output for this object"
        )
