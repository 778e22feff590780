"""Reading one DICOM object: the file opened safely, hashed, parsed by pydicom with its noise silenced.

Nothing here modifies an input: files are opened read-only by pydicom and the
dataset is changed only in memory by later stages.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import warnings
from collections.abc import Iterator, Sequence
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dcmexport.errors import InputError, NotDicomError
from dcmexport.read.pydicom_adapter import elements

#: Pixel Data, Float Pixel Data, Double Float Pixel Data
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

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
                _refuse_damaged_dicom(path, data)
                raise NotDicomError("not a DICOM file (no DICM prefix and no parsable DICOM attributes)") from None
            if "SOPClassUID" not in ds and not any(t in ds for t in PIXEL_TAGS):
                _refuse_damaged_dicom(path, data)
                raise NotDicomError("not a DICOM file (no DICM prefix and no DICOM attributes found)") from None
            ds.file_meta = pydicom.dataset.FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = _transfer_syntax_of_bare(ds)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = _transfer_syntax_of_bare(ds)
        size = len(data) if data is not None else path.stat().st_size
    except InputError:
        raise
    except PermissionError:
        raise InputError("permission denied; check the file's read permission") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read ({type(exc).__name__}; truncated or damaged file?)") from None
    except Exception as exc:  # pydicom raises many types on malformed headers; never echo its text (may hold values)
        raise InputError(f"not a readable DICOM file ({type(exc).__name__} while parsing the header)") from None
    _check_complete(ds, size)
    return ds


#: How much of a file that does not parse as DICOM is searched for a Pixel Data element.
_DAMAGE_SCAN_BYTES = 16 << 20
#: (7FE0,0010) Pixel Data with an explicit VR of OB or OW, little endian, as a Part 10 dataset writes it.
_PIXEL_DATA_HEADERS = (b"\xe0\x7f\x10\x00OW\x00\x00", b"\xe0\x7f\x10\x00OB\x00\x00")


def _refuse_damaged_dicom(path: Path, data: bytes | None) -> None:
    """Raise when bytes that do not parse as DICOM still hold a Pixel Data element: damaged, not foreign.

    A file that lost or gained bytes at its start (or its header) cannot be read
    from the beginning, yet is an image: it must fail, not be skipped as a
    stranger in the folder. Only the first :data:`_DAMAGE_SCAN_BYTES` are searched.

    Raises:
        InputError: a Pixel Data element header was found; the message gives its byte offset.
    """
    if data is None:
        try:
            with open_regular(path) as fh:
                data = fh.read(_DAMAGE_SCAN_BYTES)
        except (InputError, OSError):
            return
    found = [at for at in (data.find(h, 0, _DAMAGE_SCAN_BYTES) for h in _PIXEL_DATA_HEADERS) if at >= 0]
    if found:
        raise InputError(
            f"damaged DICOM: (7FE0,0010) PixelData found at byte {min(found)}, but the file does not parse "
            "from its start (no DICM prefix, no readable attributes); bytes are missing or added before it"
        )


_UNDEFINED_LENGTH = 0xFFFFFFFF
_DELIMITER_BYTES = 8  # (FFFE,E0DD) and a zero length


def _check_complete(ds: Dataset, size: int) -> None:
    """Refuse a dataset whose file ends inside an element (pydicom reads such files without a word).

    pydicom keeps a last value cut short (or, deferred, never looks), silently
    drops an element whose header or value the file cuts, and returns an empty
    dataset when the file ends before an undefined-length element's delimiter.
    Here the last element read must end exactly where the file does: at
    ``value_tell + length`` of a raw element (plus the delimiter for an
    undefined length read into memory). Elements pydicom converted while
    reading (sequences) and deflated files (offsets in the inflated stream) are
    not checked this way; pydicom raises for a sequence that the file cuts.

    Args:
        ds: the dataset as :func:`pydicom.dcmread` returned it.
        size: the file's size in bytes.

    Raises:
        InputError: the file is truncated; the message says where, in bytes, and names the element.
    """
    elems = elements(ds)
    if not elems:
        start = _dataset_start(ds)
        if start is not None and size > start:
            raise InputError(
                f"truncated: the file ends at byte {size} inside an element of undefined length (a sequence or "
                f"encapsulated Pixel Data without its delimiter); nothing after byte {start} could be read"
            )
        return
    last = next(reversed(elems.values()))  # type: ignore[call-overload]  # a dict: file order
    if not isinstance(last, RawDataElement):
        return
    if last.length == _UNDEFINED_LENGTH:
        if last.value is None:
            return  # deferred: pydicom found the delimiter, or it would have raised
        end, short = last.value_tell + len(last.value) + _DELIMITER_BYTES, False
    else:
        end = last.value_tell + last.length
        short = last.value is not None and len(last.value) < last.length
    if end == size and not short:
        return
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if isinstance(syntax, UID) and syntax.is_transfer_syntax and syntax.is_deflated:
        return  # offsets in the inflated stream: not comparable with the file's size
    label = _element_label(int(last.tag))
    if end > size or short:
        raise InputError(
            f"truncated: the file ends at byte {size}, inside {label}, whose value needs "
            f"{last.length} bytes from byte {last.value_tell} (up to byte {end})"
        )
    raise InputError(
        f"truncated: the file ends at byte {size}, inside an element that starts at byte {end} "
        f"(after {label}); its header or value is cut"
    )


def _element_label(tag: int) -> str:
    keyword = keyword_for_tag(tag) if not (tag >> 16) & 1 else ""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword or 'element'}"


def _dataset_start(ds: Dataset) -> int | None:
    """Byte offset where the dataset of a Part 10 file begins (after the preamble and the file meta); None if unknown."""
    if getattr(ds, "preamble", None) is None:
        return None
    try:
        group_length = int(ds.file_meta[0x00020000].value)
    except (KeyError, TypeError, ValueError):
        return None
    return 128 + 4 + 12 + group_length  # preamble, "DICM", (0002,0000) UL element, the rest of the group


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
    elems = elements(ds)
    found: list[object] = []
    for tag in tags:
        elem = elems.get(tag)  # type: ignore[call-overload]  # BaseTag is an int
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


def read_encoding(ds: Dataset) -> tuple[bool, bool]:
    """(implicit VR, little endian): the encoding the elements of ``ds`` were read in.

    Usually ``ds.original_encoding``. But pydicom reads a dataset written in
    another encoding than its transfer syntax declares (implicit VR under an
    explicit VR syntax) as it finds it, and records the declared encoding in
    ``original_encoding`` all the same; its raw elements carry the true one.
    pydicom decides once per dataset, so the first raw element tells.
    """
    for elem in elements(ds).values():
        if isinstance(elem, RawDataElement):
            return elem.is_implicit_VR, elem.is_little_endian
    implicit, little = ds.original_encoding
    return bool(implicit), bool(little)


def native_encoding(ds: Dataset) -> bool | None:
    """True for implicit, False for explicit VR little endian: the encoding ``ds`` was read in and will be written in.

    None when its file meta names no transfer syntax pydicom knows (or a private
    one), a big endian one, or one other than the encoding the dataset was read
    in (:func:`read_encoding`): pydicom then re-encodes raw elements when writing
    (VR lookup, ambiguous VRs), so raw bytes may not be copied into the output as they are.
    """
    file_meta = getattr(ds, "file_meta", None)
    tsyntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if not isinstance(tsyntax, UID) or tsyntax.is_private or not tsyntax.is_transfer_syntax:
        return None
    if not tsyntax.is_little_endian:
        return None
    implicit = bool(tsyntax.is_implicit_VR)
    return implicit if ds.original_encoding == (implicit, True) and read_encoding(ds) == (implicit, True) else None
