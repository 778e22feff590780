"""Frames of one object, one at a time: decoded arrays, or encapsulated JPEG codestreams left undecoded.

Memory does not grow with the number of frames: decoded frames come from
:func:`pydicom.pixels.iter_pixels`, encoded ones are streamed from the file at
the deferred Pixel Data's offset.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels import iter_pixels
from pydicom.uid import UID, JPEGBaseline8Bit, JPEGExtended12Bit

from dcmexport.errors import InputError, UnsupportedError
from dcmexport.read.dataset import open_regular, read_encoding
from dcmexport.read.geometry import number_of_frames
from dcmexport.read.jpeg import SEQUENTIAL_SOF, JpegHeader, read_jpeg_header, trim_jpeg_frame

#: The DCT sequential Huffman processes (PS3.5 A.4.1). Their 8-bit YCbCr frames are decoded
#: by Pillow (:func:`_is_ybr_jpeg`), and their frames may be handed to ffmpeg undecoded
#: (:func:`jpeg_header_from_dataset`), which decodes them like libjpeg.
JPEG_BITSTREAM_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})
_YBR_FULL = frozenset({"YBR_FULL", "YBR_FULL_422"})


def _pillow_decodes(transfer_syntax: str) -> bool:
    from pydicom.pixels import get_decoder

    try:
        return "pillow" in get_decoder(UID(transfer_syntax)).available_plugins
    except (NotImplementedError, ValueError):
        return False


def _is_ybr_jpeg(ds: Dataset) -> bool:
    """8-bit, 3-sample YBR_FULL(_422) JPEG that pydicom's Pillow plugin can decode."""
    ts = ds.file_meta.get("TransferSyntaxUID")
    try:
        simple = (
            ts in JPEG_BITSTREAM_SYNTAXES
            and str(ds.get("PhotometricInterpretation", "")).strip() in _YBR_FULL
            and int(ds.get("SamplesPerPixel", 1)) == 3
            and int(ds.get("BitsAllocated", 0)) == 8
            and int(ds.get("BitsStored", 8)) == 8
        )
    except (TypeError, ValueError):
        return False
    return simple and _pillow_decodes(ts)


def apply_ybr_full_to_rgb(frame: np.ndarray) -> np.ndarray:
    """Convert one ``(rows, cols, 3)`` uint8 YBR_FULL frame to RGB (PS3.3 C.7.6.3.1.2).

    Hand-written around Pillow rather than :func:`pydicom.pixels.convert_color_space`
    because pydicom converts in float64 numpy (~9.7 ms per 640x480 frame here)
    while Pillow's ``YCbCr -> RGB`` is the same JFIF full-range matrix in C fixed
    point (~2.9 ms); results differ by at most 1 level on ~2 % of samples
    (measured on pydicom-data ``color3d_jpeg_baseline.dcm``).

    Returns:
        A new writeable ``(rows, cols, 3)`` uint8 RGB array.
    """
    from PIL import Image

    rows, cols = frame.shape[:2]
    ybr = np.ascontiguousarray(frame, dtype=np.uint8)
    image = Image.frombuffer("YCbCr", (cols, rows), ybr, "raw", "YCbCr", 0, 1)
    return np.array(image.convert("RGB"))


def _iter_ybr_jpeg_as_rgb(
    src: Path | Dataset, indices: Sequence[int] | None, kwargs: dict[str, object]
) -> Iterator[np.ndarray]:
    """YBR JPEG frames decoded by Pillow (libjpeg-turbo) to YCbCr, then converted by Pillow.

    Why not the default: pydicom would pick pylibjpeg (libjpeg 9, ~13 ms per
    640x480 frame here, Pillow ~3.4 ms) and then convert colour in float64. The
    decoded YCbCr is what pydicom's own Pillow plugin returns; only the colour
    step differs (see :func:`apply_ybr_full_to_rgb`). Measured on
    ``color3d_jpeg_baseline.dcm`` (120 frames): 2.8 s -> 0.8 s.
    """
    options = {**kwargs, "as_rgb": False, "decoding_plugin": "pillow"}
    for frame in iter_pixels(src, indices=indices, **options):  # type: ignore[arg-type]
        yield apply_ybr_full_to_rgb(frame)


def _file_is_as_declared(ds: Dataset) -> bool:
    """True when the file holds the dataset encoded as its transfer syntax says.

    pydicom streams frames from a file by trusting the transfer syntax. That
    fails for a deflated syntax (the file holds the dataset compressed) and for
    a dataset written in another encoding than its syntax declares (implicit VR
    under an explicit VR syntax: pydicom's reader notices and reads it as it is,
    its frame streamer misreads the Pixel Data). An unknown syntax counts as
    declared: decoding reports it.
    """
    try:
        syntax = UID(ds.file_meta.get("TransferSyntaxUID", ""))
        if not syntax.is_transfer_syntax:
            return True
        if syntax.is_deflated:
            return False
        return read_encoding(ds) == (syntax.is_implicit_VR, syntax.is_little_endian)
    except (TypeError, ValueError):
        return True


def iter_frames(path: Path, ds: Dataset, indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Yield decoded frames one at a time (memory independent of the frame count).

    Frames come from :func:`pydicom.pixels.iter_pixels` with ``as_rgb=True``:
    YBR data arrive as RGB exactly once (never convert again), palette colour
    arrives as indices. Part 10 files are streamed from ``path``; objects without
    File Meta Information, deflated ones and ones not encoded as their transfer
    syntax says (:func:`_file_is_as_declared`) are decoded from ``ds``, with
    their Pixel Data in memory. 8-bit YBR_FULL(_422) JPEG is decoded by Pillow
    and converted in C (see :func:`_iter_ybr_jpeg_as_rgb`).

    Args:
        path: the file the dataset was read from.
        ds: the dataset (used for legacy files without file meta).
        indices: 0-based frames to decode; None for all.

    Raises:
        InputError: the pixel data cannot be decoded (truncated, unsupported transfer syntax).
    """
    bare = getattr(ds, "preamble", None) is None or not ds.file_meta.get("MediaStorageSOPClassUID")
    src: Path | Dataset = ds if bare or not _file_is_as_declared(ds) else path
    kwargs: dict[str, object] = {"as_rgb": True}
    if bare:
        kwargs["transfer_syntax_uid"] = ds.file_meta.TransferSyntaxUID
    try:
        if _is_ybr_jpeg(ds):
            yield from _iter_ybr_jpeg_as_rgb(src, indices, kwargs)
        else:
            yield from iter_pixels(src, indices=indices, **kwargs)  # type: ignore[arg-type]
    except (NotImplementedError, RuntimeError) as exc:
        from dcmexport.read.decoders import describe_decode_failure

        raise InputError(describe_decode_failure(exc, str(ds.file_meta.get("TransferSyntaxUID", "unknown")))) from None
    except BaseException as exc:  # decoders fail in many ways on damaged bytes (struct.error, pyo3 panics)
        if not isinstance(exc, Exception) and type(exc).__module__ != "pyo3_runtime":
            raise  # KeyboardInterrupt, GeneratorExit, the --timeout alarm
        raise InputError(f"pixel data could not be decoded ({type(exc).__name__}; truncated or inconsistent Image Pixel module?)") from None


def _iter_encoded_frames(path: Path, ds: Dataset) -> Iterator[bytes]:
    """Yield the (0028,0008) NumberOfFrames encoded frames of encapsulated Pixel Data, one at a time.

    A deferred Pixel Data value (the usual case: above the read's defer size)
    is streamed from ``path`` at its file offset, so memory does not grow with
    the clip; a value already in memory is used as it is. Frames are found as
    pydicom's decoders find them (:func:`pydicom.encaps.generate_frames`, with
    the Extended Offset Table when present).
    """
    frames = number_of_frames(ds)
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    not_encapsulated = InputError("(7FE0,0010) PixelData is not encapsulated; a JPEG transfer syntax requires it")
    elem: DataElement | RawDataElement | None = ds.get_item(0x7FE00010, keep_deferred=True)
    value: bytes
    if isinstance(elem, RawDataElement):
        if elem.length != 0xFFFFFFFF:
            raise not_encapsulated
        if elem.value is None:  # deferred: stream it from the file
            with open_regular(path) as fh:
                fh.seek(elem.value_tell)
                yield from itertools.islice(generate_frames(fh, number_of_frames=frames, extended_offsets=offsets), frames)
            return
        value = elem.value
    elif elem is not None and elem.is_undefined_length and isinstance(elem.value, bytes):
        value = elem.value
    else:
        raise not_encapsulated
    yield from itertools.islice(generate_frames(value, number_of_frames=frames, extended_offsets=offsets), frames)


def jpeg_header_from_dataset(path: Path, ds: Dataset) -> JpegHeader | None:
    """The JPEG header of frame 0 when the object's frames are JPEG bitstreams ffmpeg may decode, else None.

    Only the transfer syntaxes in :data:`JPEG_BITSTREAM_SYNTAXES` qualify, and
    only frames coded with a sequential Huffman SOF (baseline or extended).
    Reads frame 0 only. Whether the rest of the pipeline can take the frames
    undecoded is the orchestrator's decision.

    Args:
        path: the file the dataset was read from.
        ds: its dataset (Pixel Data may be deferred).

    Returns:
        The header, or None (other transfer syntax, not encapsulated, frame 0
        not parsable); None never means the file is bad: the decode path decides.
    """
    if ds.file_meta.get("TransferSyntaxUID") not in JPEG_BITSTREAM_SYNTAXES:
        return None
    try:
        first = next(_iter_encoded_frames(path, ds), None)
        header = read_jpeg_header(first) if first is not None else None
    except Exception:  # any doubt about frame 0: leave it to the decode path, which reports damage
        return None
    return header if header is not None and header.sof in SEQUENTIAL_SOF else None


def iter_jpeg_frames(path: Path, ds: Dataset, header: JpegHeader) -> Iterator[bytes]:
    """Yield every frame's JPEG codestream, undecoded, checked against frame 0's ``header``.

    Each frame must start with SOI, end with EOI (after DICOM's NUL padding,
    which is removed) and declare exactly ``header``; that is all that is read
    of it. The entropy-coded data is left to the decoder.

    Args:
        path: the file the dataset was read from.
        ds: its dataset.
        header: frame 0's header (:func:`jpeg_header_from_dataset`).

    Yields:
        (0028,0008) NumberOfFrames codestreams, SOI .. EOI.

    Raises:
        UnsupportedError: a frame is valid JPEG but unlike frame 0, or carries
            data after EOI: the decode path must handle the object (it also
            decides whether such a frame is damaged).
        InputError: fewer frames than NumberOfFrames, or a frame's header is damaged.
    """
    expected = number_of_frames(ds)
    count = 0
    try:
        for count, data in enumerate(_iter_encoded_frames(path, ds), start=1):
            frame = trim_jpeg_frame(data)
            if frame is None:
                raise UnsupportedError(f"JPEG frame {count - 1} does not end with an EOI marker")
            try:
                same = read_jpeg_header(frame) == header
            except ValueError as exc:
                raise InputError(f"JPEG frame {count - 1} of (7FE0,0010) PixelData is damaged: {exc}") from None
            if not same:
                raise UnsupportedError(f"JPEG frame {count - 1} is coded unlike frame 0")
            yield frame
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:  # pydicom's encapsulation parser fails in several ways on damaged items
        raise InputError(
            f"(7FE0,0010) PixelData fragments cannot be read ({type(exc).__name__}; truncated or damaged file?)"
        ) from None
    if count < expected:
        raise InputError(f"(0028,0008) NumberOfFrames is {expected} but (7FE0,0010) PixelData holds {count} frames")
