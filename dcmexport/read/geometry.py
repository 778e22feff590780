"""The Image Pixel module checked before any pixel is decoded: frame count, sizes, and what the data can hold.

A hostile or damaged header can claim terabytes of pixels or more frames than
the Pixel Data holds; :func:`check_pixel_geometry` refuses both before any
allocation (PS3.3 C.7.6.3). A series repeats one geometry, so the answer is
memoised by the raw header elements it depends on.
"""

from __future__ import annotations

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

from dcmexport.errors import InputError, NoPixelDataError
from dcmexport.memo import Memo
from dcmexport.read.dataset import PIXEL_TAGS, raw_signature
from dcmexport.read.pydicom_adapter import elements

#: Refuse objects whose decoded size would exceed this many bytes per frame or in
#: total before any allocation (a hostile header can claim terabytes).
MAX_FRAME_BYTES = 1 << 30
MAX_OBJECT_BYTES = 64 << 30


def has_pixels(ds: Dataset) -> bool:
    """True when the dataset has Pixel Data, Float Pixel Data or Double Float Pixel Data."""
    return any(t in ds for t in PIXEL_TAGS)


def number_of_frames(ds: Dataset) -> int:
    """Number of Frames (0028,0008), 1 when absent; garbage or < 1 raises InputError."""
    value = ds.get("NumberOfFrames", 1)
    try:
        frames = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        raise InputError("(0028,0008) NumberOfFrames is not a whole number") from None
    if frames < 1:
        raise InputError(f"(0028,0008) NumberOfFrames is {frames}; expected 1 or more")
    return frames


def check_pixel_geometry(ds: Dataset) -> int:
    """Validate the Image Pixel module enough to decode safely; return the frame count.

    Refuses, before any allocation, headers whose decoded size exceeds
    :data:`MAX_FRAME_BYTES` per frame or :data:`MAX_OBJECT_BYTES` in all (PS3.3 C.7.6.3).

    Raises:
        InputError: no pixel data, missing or impossible Rows/Columns/Bits Allocated/Samples.
    """
    if not has_pixels(ds):
        raise NoPixelDataError("no pixel data (7FE0,0010): nothing to render; `dcmexport deid` can still de-identify it")
    key = _geometry_key(ds)
    if key is not None and (frames := _GEOMETRY_MEMO.get(key)) is not None:
        return frames
    frames = _check_pixel_geometry(ds)
    if key is not None:
        _GEOMETRY_MEMO.put(key, frames)
    return frames


#: Frame counts of headers already checked, by :func:`_geometry_key`: a series repeats one
#: geometry, whose check converted five elements per object (~0.25 ms per CT slice in `deid`).
_GEOMETRY_MEMO: Memo[tuple[object, ...], int] = Memo("pixel geometry checks", 256)
#: Samples, Photometric Interpretation, Frames, Rows, Columns, Bits Allocated.
_GEOMETRY_TAGS = (0x00280002, 0x00280004, 0x00280008, 0x00280010, 0x00280011, 0x00280100)


def _geometry_key(ds: Dataset) -> tuple[object, ...] | None:
    """Everything :func:`_check_pixel_geometry` decides on, as a hashable record; None when unsure."""
    elems = elements(ds)
    pixel = elems.get(BaseTag(0x7FE00010))
    if not isinstance(pixel, RawDataElement) or any(t in elems for t in _OTHER_PIXEL_TAGS):
        return None
    signature = raw_signature(ds, _GEOMETRY_TAGS)
    meta = ds.get("file_meta")
    syntax = meta.get("TransferSyntaxUID", ExplicitVRLittleEndian) if meta is not None else None
    if signature is None or not isinstance(syntax, str):
        return None
    return signature, pixel.length, str(syntax)


_OTHER_PIXEL_TAGS = (BaseTag(0x7FE00008), BaseTag(0x7FE00009))  # Float and Double Float Pixel Data


def _check_pixel_geometry(ds: Dataset) -> int:
    dims = {}
    for keyword, tag in (("Rows", "(0028,0010)"), ("Columns", "(0028,0011)"), ("BitsAllocated", "(0028,0100)")):
        try:
            dims[keyword] = int(ds[keyword].value)
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{tag} {keyword} is missing or not a number; cannot decode the pixels") from None
        if dims[keyword] <= 0:
            raise InputError(f"{tag} {keyword} is {dims[keyword]}; expected a positive value")
    try:
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
    except (TypeError, ValueError):
        raise InputError("(0028,0002) SamplesPerPixel is not a number") from None
    if samples not in (1, 3):
        raise InputError(f"(0028,0002) SamplesPerPixel is {samples}; only 1 or 3 are defined")
    if dims["BitsAllocated"] not in (1, 8, 16, 32, 64):
        raise InputError(f"(0028,0100) BitsAllocated is {dims['BitsAllocated']}; expected 1, 8, 16, 32 or 64")
    frames = number_of_frames(ds)
    frame_bytes = dims["Rows"] * dims["Columns"] * samples * max(1, dims["BitsAllocated"] // 8)
    if frame_bytes > MAX_FRAME_BYTES or frame_bytes * frames > MAX_OBJECT_BYTES:
        raise InputError(
            f"(0028,0010)/(0028,0011)/(0028,0008) claim {frame_bytes * frames / 2**30:.1f} GiB of pixels; "
            "refused before allocation"
        )
    try:  # Number of Frames must fit in the Pixel Data actually present (before planning per-frame work)
        # keep_deferred: only the length is needed; a plain get_item would read a deferred
        # Pixel Data value into memory (262 MB for a 1,000-frame 512x512 clip).
        elem = ds.get_item(0x7FE00010, keep_deferred=True)
        length = getattr(elem, "length", None)
        if length is None and elem is not None and elem.value is not None:
            length = len(elem.value)
    except Exception as exc:
        raise InputError(f"(7FE0,0010) PixelData cannot be read ({type(exc).__name__}); the header is damaged") from None
    bits_scale = 8 if dims["BitsAllocated"] == 1 else 1
    try:
        compressed = UID(ds.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian)).is_compressed
    except ValueError:  # an unknown transfer syntax: decoding reports it
        compressed = True
    stored_frame_bytes = frame_bytes
    if samples == 3 and str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        # Native YBR_FULL_422 stores two Y, one Cb and one Cr per pair of pixels (PS3.3 C.7.6.3.1.2).
        stored_frame_bytes = frame_bytes // 3 * 2
    # Encapsulated frames vary in size: only native pixel data can be checked this way.
    if (not compressed and length is not None and length != 0xFFFFFFFF
            and stored_frame_bytes * frames > length * bits_scale):
        raise InputError(f"(0028,0008) NumberOfFrames is {frames} but (7FE0,0010) PixelData holds fewer frames")
    return frames
