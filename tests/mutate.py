"""Seeded mutations of real DICOM files for the robustness tests (issue 6).

Every mutant is written to a new file; the seed files are only read. Two
families of mutation:

* byte level (:func:`mutate_bytes`): truncation, flipped bytes in the header or
  in the pixel data, sequence lengths changed to/from undefined length (FFFFFFFF),
  broken item / sequence delimiters;
* attribute level (:func:`mutate_attributes`): the Image Pixel module and the
  attributes that drive rendering set to wrong values through pydicom, then
  re-saved (PS3.3 C.7.6.3 is the module the wrong values contradict).

Everything is a pure function of ``random.Random(seed)``, so a failing mutant is
reproduced by its name alone (``<seed file>__<kind>__<n>.dcm``).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.filewriter import write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import UID

PIXEL_DATA = 0x7FE00010
_ITEM = b"\xfe\xff\x00\xe0"
_ITEM_DELIM = b"\xfe\xff\x0d\xe0"
_SEQ_DELIM = b"\xfe\xff\xdd\xe0"
_UNDEFINED = b"\xff\xff\xff\xff"


@dataclass(frozen=True)
class Mutant:
    """One malformed input: where it is, which seed it came from and what was done to it."""

    path: Path
    seed_name: str
    kind: str


def pixel_data_offset(path: Path) -> int | None:
    """Byte offset of the Pixel Data value in ``path`` (None when it cannot be found).

    pydicom records the offset of deferred (native) pixel data; encapsulated
    pixel data is read eagerly, so its element header is found in the bytes.
    """
    try:
        ds = pydicom.dcmread(path, force=True, defer_size=64)
        tell = getattr(ds.get_item(PIXEL_DATA), "value_tell", None)
    except Exception:  # the seed itself may be damaged (pydicom ships truncated test files)
        tell = None
    if tell is not None:
        return int(tell)
    data = path.read_bytes()
    for tag in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):  # (7FE0,0010) little / big endian
        at = data.rfind(tag)
        if at != -1:
            explicit = data[at + 4 : at + 6] in (b"OB", b"OW")
            return at + (12 if explicit else 8)  # tag, VR, 2 reserved, 4-byte length | tag, 4-byte length
    return None


# --- byte-level mutations ------------------------------------------------------


def _truncate(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    # Half the cuts land in the header (where the parser is), half in the pixel data.
    end = pix if pix and pix < len(data) else len(data)
    if rng.random() < 0.5 or end >= len(data):
        return data[: rng.randrange(0, max(1, end))]
    return data[: rng.randrange(end, len(data))]


def _flip(data: bytes, rng: random.Random, lo: int, hi: int, count: int) -> bytes:
    buf = bytearray(data)
    if hi <= lo:
        return bytes(buf)
    for _ in range(count):
        i = rng.randrange(lo, hi)
        buf[i] ^= rng.randrange(1, 256)  # never 0: the byte really changes
    return bytes(buf)


def _flip_header(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    # Skip the 128-byte preamble (its content is meaningless by definition, PS3.10 7.1).
    hi = pix if pix else len(data)
    return _flip(data, rng, min(132, hi - 1), hi, rng.randint(1, 8))


def _flip_pixels(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    lo = pix if pix else len(data) // 2
    return _flip(data, rng, lo, len(data), rng.randint(1, 64))


def _undefined_length(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    """Make a defined-length SQ (explicit VR) undefined, or an item/fragment length huge or undefined."""
    buf = bytearray(data)
    spots = [
        i + 4 for i in _find_all(data, b"SQ\x00\x00")
    ]  # explicit VR: tag, 'SQ', 2 reserved, 4-byte length
    spots += [i + 4 for i in _find_all(data, _ITEM)]
    if not spots:  # nothing to break: shorten the file instead so the mutant is still malformed
        return data[: len(data) // 2]
    at = rng.choice(spots)
    buf[at : at + 4] = rng.choice(
        [_UNDEFINED, struct.pack("<I", 0xFFFFFFF0), struct.pack("<I", rng.randrange(1, 64))]
    )
    return bytes(buf)


def _break_delimiters(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    """Remove, duplicate or corrupt item and sequence delimiters; cut the final sequence delimiter."""
    buf = bytearray(data)
    spots = list(_find_all(data, _ITEM_DELIM)) + list(_find_all(data, _SEQ_DELIM))
    if not spots:
        return data[:-8] if len(data) > 8 else b""
    at = rng.choice(spots)
    choice = rng.randrange(3)
    if choice == 0:
        del buf[at : at + 8]  # delimiter gone
    elif choice == 1:
        buf[at : at + 4] = b"\xfe\xff\xee\xe0"  # not a delimiter tag any more
    else:
        buf[at + 4 : at + 8] = struct.pack("<I", rng.randrange(1, 1 << 31))  # delimiters must have length 0
    return bytes(buf)


#: Transfer syntaxes that contradict most seeds' encoding: JPEG Baseline, RLE,
#: Deflated, an unknown one, Explicit VR Big Endian, and a non-UID string.
WRONG_TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99",
    "1.2.3.4", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2", "not-a-uid",
)  # fmt: skip


def _wrong_transfer_syntax(data: bytes, rng: random.Random, pix: int | None) -> bytes:
    """Rewrite the File Meta Information (PS3.10 7.1) with a Transfer Syntax UID the data is not in."""
    fp = DicomBytesIO(data)
    try:
        read_preamble(fp, force=False)  # type: ignore[arg-type]  # a DicomBytesIO is a binary file
        meta = _read_file_meta_info(fp)  # type: ignore[arg-type]
    except Exception:
        return data[: len(data) // 2]
    start = fp.tell()
    meta.TransferSyntaxUID = UID(
        rng.choice([u for u in WRONG_TRANSFER_SYNTAXES if u != meta.get("TransferSyntaxUID")])
    )
    out = DicomBytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=False)
    return out.getvalue() + data[start:]


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    start = data.find(needle)
    while start != -1:
        yield start
        start = data.find(needle, start + 1)


BYTE_MUTATIONS: dict[str, Callable[[bytes, random.Random, int | None], bytes]] = {
    "truncate": _truncate,
    "flip-header": _flip_header,
    "flip-pixels": _flip_pixels,
    "undefined-length": _undefined_length,
    "break-delimiters": _break_delimiters,
    "transfer-syntax": _wrong_transfer_syntax,
}


def mutate_bytes(
    seed_file: Path, out_dir: Path, rng: random.Random, per_kind: dict[str, int]
) -> list[Mutant]:
    """Write byte-level mutants of ``seed_file`` into ``out_dir``: ``per_kind[kind]`` of each kind."""
    data = seed_file.read_bytes()
    pix = pixel_data_offset(seed_file)
    mutants = []
    for kind, count in per_kind.items():
        for n in range(count):
            mutated = BYTE_MUTATIONS[kind](data, rng, pix)
            if mutated == data:  # e.g. nothing to flip: still produce a malformed file
                mutated = data[: len(data) - 1]
            path = out_dir / f"{seed_file.stem}__{kind}__{n}.dcm"
            path.write_bytes(mutated)
            mutants.append(Mutant(path, seed_file.name, kind))
    return mutants


# --- attribute-level mutations -------------------------------------------------

#: keyword -> VR and the wrong values to try; ``None`` deletes the element.
#: Strings are written as raw bytes so garbage such as "abc" or "nan" in a DS
#: reaches the file exactly as a broken writer would produce it.
ATTRIBUTE_VALUES: dict[str, tuple[str, list[object]]] = {
    "Rows": ("US", [0, 1, 2, 65535, None, "+1", "*2"]),
    "Columns": ("US", [0, 1, 3, 65535, None, "-1", "*2"]),
    "BitsAllocated": ("US", [0, 1, 7, 12, 24, 32, 48, 64, None]),
    "BitsStored": ("US", [0, 1, 17, 40, None]),
    "HighBit": ("US", [0, 99, None]),
    "NumberOfFrames": ("IS", ["0", "-3", "999999", "+1", "abc", "", "2.5"]),
    "SamplesPerPixel": ("US", [0, 2, 3, 4, 1, None]),
    "PixelRepresentation": ("US", [2, 1, 0, None]),
    "PhotometricInterpretation": (
        "CS",
        ["RGB", "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "YBR_FULL_422", "YBR_ICT", "FOO", "", None],
    ),
    "PlanarConfiguration": ("US", [1, 5]),
    "PixelData": ("OB", [None, b"", b"\x00", b"\x01\x02\x03"]),
    "WindowCenter": ("DS", ["0", "abc", "nan", "1e400", "40\\"]),
    "WindowWidth": ("DS", ["0", "-5", "nan", "1e-30", "abc"]),
    "RescaleSlope": ("DS", ["0", "-1", "nan", "inf", "abc", "1e300"]),
    "RescaleIntercept": ("DS", ["abc", "1e300", "nan"]),
    "PixelSpacing": ("DS", ["0\\0", "-1\\1", "nan\\1", "1", "1e-30\\1e30", "abc"]),
    "PixelAspectRatio": ("IS", ["0\\1", "1\\0", "-1\\2", "5"]),
    "FrameTime": ("DS", ["0", "-40", "nan", "1e-9", "abc"]),
    "CineRate": ("IS", ["0", "-5", "100000"]),
    "VOILUTFunction": ("CS", ["SIGMOID", "LINEAR_EXACT", "FOO"]),
}


def _current_int(ds: Dataset, keyword: str) -> int:
    try:
        return int(ds[keyword].value)
    except Exception:
        return 1


def _set(ds: Dataset, keyword: str, vr: str, value: object) -> None:
    if value is None:
        if keyword in ds:
            del ds[keyword]
        return
    if value in ("+1", "-1", "*2"):  # relative to the seed's own value: "one more row than the data has"
        base = _current_int(ds, keyword)
        new = {"+1": base + 1, "-1": max(0, base - 1), "*2": base * 2}[str(value)]
        value = min(new, 65535) if vr == "US" else str(new)
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag is not None, keyword
    if isinstance(value, str):
        # Raw bytes, not a DataElement: pydicom would refuse to *build* "abc" as DS,
        # but it reads such files (as broken writers produce them) and so must we.
        raw = value.encode("ascii")
        raw += b"\x00" if vr == "UI" and len(raw) % 2 else b" " * (len(raw) % 2)
        implicit, little = ds.original_encoding
        ds[tag] = RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, bool(implicit), little is not False)
    else:
        ds[tag] = DataElement(tag, vr, value)


def mutate_attributes(seed_file: Path, out_dir: Path, rng: random.Random, count: int) -> list[Mutant]:
    """Write ``count`` attribute-level mutants of ``seed_file`` (one to three wrong attributes each)."""
    mutants: list[Mutant] = []
    keywords = sorted(ATTRIBUTE_VALUES)
    for n in range(count):
        try:
            ds = pydicom.dcmread(seed_file, force=True)  # a fresh copy per mutant (cheap for small seeds)
        except Exception:
            return mutants
        picked = rng.sample(keywords, k=rng.choice([1, 1, 1, 2, 3]))
        for keyword in picked:
            vr, values = ATTRIBUTE_VALUES[keyword]
            _set(ds, keyword, vr, rng.choice(values))
        path = out_dir / f"{seed_file.stem}__attr-{'+'.join(picked)}__{n}.dcm"
        if not _save(ds, path):
            continue
        mutants.append(Mutant(path, seed_file.name, "attr:" + "+".join(picked)))
    return mutants


def _save(ds: Dataset, path: Path) -> bool:
    """Save as a broken writer would: no validation of values, file meta kept as it is."""
    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds.save_as(path, enforce_file_format=False)
        return True
    except Exception:
        # pydicom cannot encode this combination at all (e.g. an explicit-VR value
        # in a big-endian file it cannot re-encode): nothing to test.
        path.unlink(missing_ok=True)
        return False
    finally:
        config.settings.writing_validation_mode = previous
