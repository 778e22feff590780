"""Input discovery, reading one DICOM object, and iterating its frames one at a time.

Nothing here modifies an input: files are opened read-only by pydicom and the
dataset is changed only in memory by later stages.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import stat
import warnings
from collections.abc import Iterator, Sequence
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import iter_pixels
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
)

from dcmexport.errors import InputError, NoPixelDataError, NotDicomError, UnsupportedError
from dcmexport.jpeg import SEQUENTIAL_SOF, JpegHeader, read_jpeg_header, trim_jpeg_frame

#: Pixel Data, Float Pixel Data, Double Float Pixel Data
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

#: Refuse objects whose decoded size would exceed this many bytes per frame or in
#: total before any allocation (a hostile header can claim terabytes).
MAX_FRAME_BYTES = 1 << 30
MAX_OBJECT_BYTES = 64 << 30

_HASH_CHUNK = 1 << 20


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings and log records while an object is processed.

    pydicom's messages can quote element values (PHI); dcmexport reports its own
    keyword-only reasons instead.
    """
    logger = logging.getLogger("pydicom")
    previous, previous_propagate = logger.disabled, logger.propagate
    settings = pydicom.config.settings
    modes = settings.reading_validation_mode, settings.writing_validation_mode
    logger.disabled = True
    logger.propagate = False  # `disabled` does not cover pydicom.pixels.decoders.* (child loggers)
    # pydicom's value validation (a regex per converted or assigned element) can only
    # warn in its default mode, and the warnings are discarded here: skip the work.
    # ~0.6 ms of ~7 ms per CT slice in `deid` (issue #3's throughput target).
    if modes == (pydicom.config.WARN, pydicom.config.WARN):
        settings.reading_validation_mode = settings.writing_validation_mode = pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = previous
        logger.propagate = previous_propagate
        settings.reading_validation_mode, settings.writing_validation_mode = modes


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` read-only, refusing FIFOs, devices and sockets before reading a byte.

    O_NONBLOCK: opening a FIFO with no writer would otherwise block forever.

    Raises:
        InputError: not a regular file, or it cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise InputError("permission denied; check the file's read permission") from None
    except OSError as exc:
        raise InputError(f"cannot be opened ({type(exc).__name__}: {exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError("not a regular file (a FIFO, device or socket); nothing was read")
    return os.fdopen(fd, "rb")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes (read in chunks, file opened read-only)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


#: Files up to this size may be read into memory once (see :func:`read_small_file`).
PRELOAD_MAX_BYTES = 64 * 1024 * 1024


def read_small_file(path: Path) -> bytes | None:
    """Return the bytes of a regular file of at most :data:`PRELOAD_MAX_BYTES`, None for a larger one.

    ``deid`` hashes and parses a typical object from one read (a 512x512 CT slice:
    one ``read`` instead of a hashing pass, a header parse and a deferred Pixel Data
    read from the file); large multi-frame objects keep the streaming path.

    Raises:
        InputError: a directory, not a regular file, or unreadable.
    """
    if path.is_dir():
        raise InputError("is a directory, not a DICOM file")
    try:
        with open_regular(path) as fh:
            if os.fstat(fh.fileno()).st_size > PRELOAD_MAX_BYTES:
                return None
            return fh.read()
    except OSError as exc:
        raise InputError(f"cannot be read ({type(exc).__name__}: {exc.strerror})") from None


def _transfer_syntax_of_bare(ds: Dataset) -> UID:
    """The transfer syntax pydicom inferred for a file without File Meta Information."""
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def read_dataset(path: Path, data: bytes | None = None) -> Dataset:
    """Read one DICOM object, pixel data deferred (loaded from the file only when needed).

    Files without the Part 10 preamble (legacy, PS3.10 7.1) are accepted when a
    forced read finds an SOP Class UID or pixel data; the inferred transfer syntax
    is recorded in a new ``file_meta`` so later stages can decode them.

    Args:
        path: the file to read.
        data: the file's bytes, already read (:func:`read_small_file`); parsed from
            memory, nothing deferred.

    Returns:
        The dataset (``PixelData`` deferred for large objects read from ``path``).

    Raises:
        InputError: not a file, unreadable, not DICOM, or truncated header.
    """
    if data is None:
        if path.is_dir():
            raise InputError("is a directory, not a DICOM file")
        open_regular(path).close()  # FIFOs and devices are refused before pydicom reads them

    def source() -> Path | BytesIO:
        return path if data is None else BytesIO(data)

    defer = "256 KB" if data is None else None
    try:
        try:
            ds = pydicom.dcmread(source(), defer_size=defer)
        except InvalidDicomError:
            try:
                ds = pydicom.dcmread(source(), defer_size=defer, force=True)
            except Exception:  # a forced parse of non-DICOM bytes fails in many ways
                raise NotDicomError("not a DICOM file (no DICM prefix and no parsable DICOM attributes)") from None
            if "SOPClassUID" not in ds and not any(t in ds for t in PIXEL_TAGS):
                raise NotDicomError("not a DICOM file (no DICM prefix and no DICOM attributes found)") from None
            ds.file_meta = pydicom.dataset.FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = _transfer_syntax_of_bare(ds)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = _transfer_syntax_of_bare(ds)
    except InputError:
        raise
    except PermissionError:
        raise InputError("permission denied; check the file's read permission") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read ({type(exc).__name__}; truncated or damaged file?)") from None
    except Exception as exc:  # pydicom raises many types on malformed headers; never echo its text (may hold values)
        raise InputError(f"not a readable DICOM file ({type(exc).__name__} while parsing the header)") from None
    return ds


def raw_signature(ds: Dataset, tags: Sequence[int]) -> tuple[object, ...] | None:
    """A hashable record of the elements ``tags`` of ``ds`` (None for an absent one); None if one cannot be recorded.

    Two datasets with equal signatures hold equal elements for these tags: the
    same VR, encoding and bytes for an element still raw, the same VR, type and
    value for one already converted. A result computed only from those elements
    can therefore be reused for the second dataset without converting its
    values again (pydicom converts a raw element in ~20-40 us here;
    ``burnedin.plan_masks`` reads a dozen per object). Sequences, deferred values
    and unhashable values give None: compute, do not reuse.
    """
    elems: dict[int, DataElement | RawDataElement] = ds._dict  # type: ignore[assignment]  # BaseTag is an int
    found: list[object] = []
    for tag in tags:
        elem = elems.get(tag)
        if elem is None:
            found.append(None)
        elif isinstance(elem, RawDataElement):
            if elem.value is None:
                return None  # deferred
            found.append((elem.VR, elem.is_implicit_VR, elem.is_little_endian, elem.value))
        else:
            value = elem.value
            if isinstance(value, MultiValue):
                value = tuple(value)
            try:
                hash(value)
            except TypeError:  # a Sequence, an array ...
                return None
            found.append((elem.VR, type(value), value))
    return tuple(found)


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
        if len(_GEOMETRY_MEMO) >= 256:
            _GEOMETRY_MEMO.clear()
        _GEOMETRY_MEMO[key] = frames
    return frames


#: Frame counts of headers already checked, by :func:`_geometry_key`: a series repeats one
#: geometry, whose check converted five elements per object (~0.25 ms per CT slice in `deid`).
_GEOMETRY_MEMO: dict[tuple[object, ...], int] = {}
_GEOMETRY_TAGS = (0x00280002, 0x00280008, 0x00280010, 0x00280011, 0x00280100)  # Samples, Frames, Rows, Cols, Bits


def _geometry_key(ds: Dataset) -> tuple[object, ...] | None:
    """Everything :func:`_check_pixel_geometry` decides on, as a hashable record; None when unsure."""
    pixel = ds._dict.get(BaseTag(0x7FE00010))
    if not isinstance(pixel, RawDataElement) or any(t in ds._dict for t in _OTHER_PIXEL_TAGS):
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
    # Encapsulated frames vary in size: only native pixel data can be checked this way.
    if not compressed and length is not None and length != 0xFFFFFFFF and frame_bytes * frames > length * bits_scale:
        raise InputError(f"(0028,0008) NumberOfFrames is {frames} but (7FE0,0010) PixelData holds fewer frames")
    return frames


#: 8-bit JPEG syntaxes whose YCbCr frames go through :func:`_iter_ybr_jpeg_as_rgb`.
_YBR_JPEG_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})
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
            ts in _YBR_JPEG_SYNTAXES
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


def iter_frames(path: Path, ds: Dataset, indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Yield decoded frames one at a time (memory independent of the frame count).

    Frames come from :func:`pydicom.pixels.iter_pixels` with ``as_rgb=True``:
    YBR data arrive as RGB exactly once (never convert again), palette colour
    arrives as indices. Part 10 files are streamed from ``path``; objects without
    File Meta Information are decoded from ``ds``. 8-bit YBR_FULL(_422) JPEG is
    decoded by Pillow and converted in C (see :func:`_iter_ybr_jpeg_as_rgb`).

    Args:
        path: the file the dataset was read from.
        ds: the dataset (used for legacy files without file meta).
        indices: 0-based frames to decode; None for all.

    Raises:
        InputError: the pixel data cannot be decoded (truncated, unsupported transfer syntax).
    """
    bare = getattr(ds, "preamble", None) is None or not ds.file_meta.get("MediaStorageSOPClassUID")
    src: Path | Dataset = ds if bare else path
    kwargs: dict[str, object] = {"as_rgb": True}
    if bare:
        kwargs["transfer_syntax_uid"] = ds.file_meta.TransferSyntaxUID
    try:
        if _is_ybr_jpeg(ds):
            yield from _iter_ybr_jpeg_as_rgb(src, indices, kwargs)
        else:
            yield from iter_pixels(src, indices=indices, **kwargs)  # type: ignore[arg-type]
    except (NotImplementedError, RuntimeError) as exc:
        from dcmexport.decoders import describe_decode_failure

        raise InputError(describe_decode_failure(exc, str(ds.file_meta.get("TransferSyntaxUID", "unknown")))) from None
    except BaseException as exc:  # decoders fail in many ways on damaged bytes (struct.error, pyo3 panics)
        if not isinstance(exc, Exception) and type(exc).__module__ != "pyo3_runtime":
            raise  # KeyboardInterrupt, GeneratorExit, the --timeout alarm
        raise InputError(f"pixel data could not be decoded ({type(exc).__name__}; truncated or inconsistent Image Pixel module?)") from None


#: Transfer syntaxes whose frames may be handed to ffmpeg undecoded: the DCT sequential
#: Huffman processes (PS3.5 A.4.1), whose 8-bit frames ffmpeg decodes like libjpeg.
JPEG_BITSTREAM_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})


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
