"""Text inside compressed frames: find and strip comment and application segments, losslessly.

Encapsulated JPEG, JPEG-LS and JPEG 2000 frames are copied into de-identified DICOM as they
are, and some devices write names and IDs into their comment and application segments.
These functions rewrite only the marker segments, never the coded image data, so every
frame decodes to the same pixels (tests/test_jpeg_segments.py checks it with pydicom and
pylibjpeg):

* **JPEG and JPEG-LS** (ITU T.81 B.2, ITU T.87 C.1): COM segments and every APPn segment
  are removed, except those decoding needs: APP0 ``JFIF`` (its thumbnail, a small copy of
  the image, is dropped), APP14 ``Adobe`` (the colour transform) and, in JPEG-LS, APP8
  ``mrfx`` (the HP colour transform); in JPEG-LS the SPIFF header goes too. Bytes after
  EOI other than padding (NUL or 0xFF) are removed too.
  COM and APPn may appear before any scan, so the whole frame is walked, the entropy-coded
  data included (as a byte search for markers, not decoded).
* **JPEG 2000** (ISO/IEC 15444-1 A.3, A.9.2; HTJ2K alike): COM marker segments in the main
  header and in tile-part headers; a tile-part's length (Psot) is corrected, and a TLM
  segment (optional tile-part lengths) is dropped once a tile-part changes. Bytes after EOC
  are removed. A JP2 file wrapper (not conformant in DICOM, PS3.5 A.4.4, but seen) keeps
  only its signature, file type, header and codestream boxes.

:func:`strip_frame` and :func:`iter_frame_segments` work on one frame's bytes;
:func:`strip_pixel_data_text` and :func:`iter_pixel_data_text` on a dataset's encapsulated
Pixel Data (the DICOM writer and ``verify``).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes, JPEGTransferSyntaxes

#: Transfer syntaxes whose frames are JPEG, JPEG-LS or JPEG 2000 codestreams (retired JPEG ones too).
CODESTREAM_SYNTAXES = frozenset(
    {*JPEGTransferSyntaxes, *JPEGLSTransferSyntaxes, *JPEG2000TransferSyntaxes}
    | {f"1.2.840.10008.1.2.4.{n}" for n in range(52, 67)}
)
_PIXEL_DATA = 0x7FE00010
_SOI, _EOI, _SOS, _COM, _SOF55 = 0xD8, 0xD9, 0xDA, 0xFE, 0xF7
#: Markers without a length field: TEM, RSTn (ITU T.81 B.1.1.3).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: The next marker after entropy-coded data: 0xFF then a byte that is neither a stuffed 0x00,
#: a restart marker nor a fill byte (T.81 B.1.1.5); in JPEG-LS a marker's second byte has its
#: high bit set and data bytes after 0xFF never do (T.87 A.1).
_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_NEXT_MARKER_LS = re.compile(rb"\xff(?=[\x80-\xcf\xd8-\xff])")
_J2K_SOC, _J2K_SOT, _J2K_SOD, _J2K_EOC, _J2K_COM, _J2K_TLM = 0x4F, 0x90, 0x93, 0xD9, 0x64, 0x55
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: JP2 boxes a decoder needs (ISO/IEC 15444-1 I.5): signature, file type, header, codestream.
_JP2_KEEP = frozenset({b"jP  ", b"ftyp", b"jp2h", b"jp2c"})
_JFIF_HEADER = 16  # APP0 JFIF without thumbnail: length(2) + "JFIF\0"(5) + version .. Ythumbnail (9)


@dataclass(frozen=True)
class _Edit:
    """Replace ``data[start:end]`` by ``new``; ``kind`` names what was there (never its content)."""

    start: int
    end: int
    new: bytes
    kind: str


#: APPn identifiers named in reports; any other identifier is device-written text, not shown.
_KNOWN_APPS = frozenset({"JFIF", "JFXX", "Exif", "ICC_PROFILE", "http://ns.adobe.com/xap/1.0/", "Adobe",
                         "Photoshop 3.0", "Ducky", "SPIFF", "MPF", "mrfx", "Meta", "AVI1"})


def _is_padding(tail: bytes) -> bool:
    """Bytes after the end of a codestream that only pad it (NUL, as DICOM pads; 0xFF fill bytes)."""
    return not tail.strip(b"\0\xff")


def _app_kind(marker: int, body: bytes) -> str:
    ident = body.split(b"\0", 1)[0][:40].decode("latin-1", "replace").strip()
    return f"APP{marker - 0xE0} segment" + (f" {ident}" if ident in _KNOWN_APPS else "")


def _jpeg_edits(data: bytes) -> list[_Edit]:
    """The edits that remove text segments from one JPEG or JPEG-LS frame (empty: nothing to remove).

    Raises:
        ValueError: not a JPEG frame, or a segment runs past the end.
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("does not start with a JPEG SOI marker")
    edits: list[_Edit] = []
    pos, end, ls = 2, len(data), False
    while pos < end:
        if data[pos] != 0xFF:
            raise ValueError(f"expected a marker at byte {pos}")
        marker = data[pos + 1] if pos + 1 < end else -1
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker < 0:
            raise ValueError("frame ends inside a marker")
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == _EOI:
            if not _is_padding(data[pos + 2:]):
                edits.append(_Edit(pos + 2, end, b"", "data after EOI"))
            return edits
        if pos + 4 > end:
            raise ValueError(f"marker FF{marker:02X} is cut off")
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            raise ValueError(f"segment FF{marker:02X} runs past the end of the frame")
        body = data[pos + 4:pos + 2 + length]
        seg_end = pos + 2 + length
        if marker == _COM:
            edits.append(_Edit(pos, seg_end, b"", "COM segment"))
        elif 0xE0 <= marker <= 0xEF:
            if marker == 0xE0 and body.startswith(b"JFIF\0"):
                if length > _JFIF_HEADER and len(body) >= 14:  # a thumbnail follows the header
                    header = body[:12] + b"\0\0"  # X/Y thumbnail size 0
                    edits.append(_Edit(pos, seg_end, b"\xff\xe0" + struct.pack(">H", _JFIF_HEADER) + header,
                                       "JFIF thumbnail"))
            elif not ((marker == 0xEE and body.startswith(b"Adobe")) or (marker == 0xE8 and body.startswith(b"mrfx"))):
                edits.append(_Edit(pos, seg_end, b"", _app_kind(marker, body)))
        elif marker == _SOF55:
            ls = True  # JPEG-LS: markers in the scan data are found differently
        pos = seg_end
        if marker == _SOS:  # entropy-coded data up to the next marker
            found = (_NEXT_MARKER_LS if ls else _NEXT_MARKER).search(data, pos)
            if found is None:
                raise ValueError("no EOI marker after the scan")
            pos = found.start()
    raise ValueError("no EOI marker")


def _j2k_edits(data: bytes, base: int = 0) -> list[_Edit]:
    """The edits that remove COM segments from one JPEG 2000 codestream (``base``: its offset in a file).

    Raises:
        ValueError: not a codestream, or a marker segment runs past the end.
    """
    if data[:2] != b"\xff\x4f":
        raise ValueError("does not start with a JPEG 2000 SOC marker")
    edits: list[_Edit] = []
    tlm: list[_Edit] = []
    pos, end = 2, len(data)
    # Main header: marker segments up to the first SOT.
    while True:
        marker, length = _j2k_segment(data, pos)
        if marker == _J2K_SOT:
            break
        if marker == _J2K_COM:
            edits.append(_Edit(base + pos, base + pos + 2 + length, b"", "JPEG 2000 COM segment"))
        elif marker == _J2K_TLM:
            tlm.append(_Edit(base + pos, base + pos + 2 + length, b"", "JPEG 2000 TLM segment"))
        pos += 2 + length
    tiles_changed = False
    while pos < end:
        marker = data[pos + 1] if data[pos] == 0xFF and pos + 1 < end else -1
        if marker == _J2K_EOC:
            if not _is_padding(data[pos + 2:]):
                edits.append(_Edit(base + pos + 2, base + end, b"", "data after EOC"))
            break
        if marker != _J2K_SOT:
            raise ValueError(f"expected SOT or EOC at byte {pos}")
        _, lsot = _j2k_segment(data, pos)
        psot = int.from_bytes(data[pos + 6:pos + 10], "big")
        tile_start, head = pos, pos + 2 + lsot
        removed = 0
        tile_edits: list[_Edit] = []
        while True:  # tile-part header up to SOD
            marker, length = _j2k_segment(data, head, sod_ok=True)
            if marker == _J2K_SOD:
                break
            if marker == _J2K_COM:
                tile_edits.append(_Edit(base + head, base + head + 2 + length, b"", "JPEG 2000 COM segment"))
                removed += 2 + length
            head += 2 + length
        if tile_edits:
            tiles_changed = True
            if psot:
                new_psot = struct.pack(">I", psot - removed)
                tile_edits.insert(0, _Edit(base + tile_start + 6, base + tile_start + 10, new_psot, ""))
            edits.extend(tile_edits)
        if psot == 0:  # the last tile-part runs to EOC (DICOM may have padded the frame with NUL)
            last = len(data.rstrip(b"\0"))
            if data[last - 2:last] != b"\xff\xd9":
                break
            pos = last - 2
            continue
        pos = tile_start + psot
    if tiles_changed:
        edits.extend(tlm)  # its tile-part lengths are stale now; TLM is optional (A.7.1)
    return sorted(edits, key=lambda e: e.start)


def _j2k_segment(data: bytes, pos: int, *, sod_ok: bool = False) -> tuple[int, int]:
    """The marker at ``pos`` and its segment length (0 for SOD)."""
    if pos + 2 > len(data) or data[pos] != 0xFF:
        raise ValueError(f"expected a JPEG 2000 marker at byte {pos}")
    marker = data[pos + 1]
    if sod_ok and marker == _J2K_SOD:
        return marker, 0
    if pos + 4 > len(data):
        raise ValueError(f"marker FF{marker:02X} is cut off")
    length = int.from_bytes(data[pos + 2:pos + 4], "big")
    if length < 2 or pos + 2 + length > len(data):
        raise ValueError(f"segment FF{marker:02X} runs past the end of the codestream")
    return marker, length


def _jp2_edits(data: bytes) -> list[_Edit]:
    """The edits for a JP2-wrapped codestream: boxes other than those decoding needs, and COM inside."""
    edits: list[_Edit] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 8 > end or _is_padding(data[pos:]):
            if not _is_padding(data[pos:]):
                edits.append(_Edit(pos, end, b"", "data after the last JP2 box"))
            break
        size, box = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("a JP2 box runs past the end of the frame")
        if box == b"jp2c":
            edits.extend(_j2k_edits(data[pos + header:pos + size], base=pos + header))
            if any(e.start >= pos + header for e in edits) and size != end - pos:
                raise ValueError("a JP2 codestream box is not the last box")  # its length would change
        elif box not in _JP2_KEEP:
            name = box.decode("latin-1") if box.isascii() and box.decode("latin-1").isprintable() else "?"
            edits.append(_Edit(pos, pos + size, b"", f"JP2 box '{name}'"))
        pos += size
    return edits


def _edits(frame: bytes) -> list[_Edit]:
    if frame[:2] == b"\xff\xd8":
        return _jpeg_edits(frame)
    if frame[:2] == b"\xff\x4f":
        return _j2k_edits(frame)
    if frame.startswith(_JP2_SIGNATURE):
        return _jp2_edits(frame)
    raise ValueError("neither a JPEG nor a JPEG 2000 codestream")


def iter_frame_segments(frame: bytes) -> Iterator[str]:
    """Yield what :func:`strip_frame` would remove from ``frame``, by kind (never the content).

    Raises:
        ValueError: the frame is not a JPEG, JPEG-LS or JPEG 2000 codestream, or is damaged.
    """
    for edit in _edits(frame):
        if edit.kind and not edit.kind.endswith("TLM segment"):
            yield edit.kind


def strip_frame(frame: bytes) -> tuple[bytes, list[str]]:
    """Return ``frame`` without its comment and application segments, and the kinds removed.

    The coded image data is copied as it is: the frame decodes to the same pixels. When there
    is nothing to remove, ``frame`` itself is returned.

    Raises:
        ValueError: the frame is not a JPEG, JPEG-LS or JPEG 2000 codestream, or is damaged.
    """
    edits = _edits(frame)
    if not edits:
        return frame, []
    parts: list[bytes] = []
    pos = 0
    for edit in edits:
        parts += [frame[pos:edit.start], edit.new]
        pos = edit.end
    parts.append(frame[pos:])
    out = b"".join(parts)
    if frame.startswith(_JP2_SIGNATURE):
        out = _fix_jp2c_length(out)
    return out, [e.kind for e in edits if e.kind and not e.kind.endswith("TLM segment")]


def _fix_jp2c_length(data: bytes) -> bytes:
    """Set the length of the (last) jp2c box after its codestream shrank."""
    pos = 0
    while pos + 8 <= len(data):
        size, box = struct.unpack(">I4s", data[pos:pos + 8])
        if box == b"jp2c":
            if size == 1:
                return data[:pos + 8] + struct.pack(">Q", len(data) - pos) + data[pos + 16:]
            return data[:pos] + struct.pack(">I", 0 if size == 0 else len(data) - pos) + data[pos + 4:]
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        pos += size
    return data


def _encapsulated_frames(ds: Dataset) -> tuple[list[bytes], bool, bool] | None:
    """The frames of ``ds``'s encapsulated codestream Pixel Data, whether it had a Basic and an Extended Offset Table.

    None when the Pixel Data is absent, native, or of a transfer syntax whose frames are not
    JPEG-family codestreams (RLE, MPEG, HEVC).
    """
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax not in CODESTREAM_SYNTAXES or _PIXEL_DATA not in ds:
        return None
    elem = ds[_PIXEL_DATA]
    value = elem.value
    if not isinstance(value, bytes) or not elem.is_undefined_length:
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    found = list(generate_frames(value, number_of_frames=frames, extended_offsets=extended))
    has_bot = len(value) >= 8 and int.from_bytes(value[4:8], "little") > 0
    return found, has_bot, extended is not None


def iter_pixel_data_text(ds: Dataset) -> Iterator[tuple[int, str]]:
    """Yield ``(frame number, kind)`` for every text segment in ``ds``'s encapsulated frames.

    A frame that cannot be parsed is reported as ``(n, "unreadable codestream")``: what it
    holds cannot be checked (fail closed).
    """
    try:
        found = _encapsulated_frames(ds)
    except Exception:  # noqa: BLE001 - damaged encapsulation: its content cannot be checked
        yield 0, "unreadable encapsulated pixel data"
        return
    if found is None:
        return
    for number, frame in enumerate(found[0]):
        try:
            kinds = list(iter_frame_segments(frame))
        except ValueError:
            kinds = ["unreadable codestream"]
        for kind in kinds:
            yield number, kind


def strip_pixel_data_text(ds: Dataset) -> dict[str, int]:
    """Rewrite ``ds``'s encapsulated JPEG / JPEG-LS / JPEG 2000 frames without their text segments.

    Frames keep their coded data byte for byte; they are re-encapsulated one fragment per
    frame, with a Basic Offset Table when the original had one, or a new Extended Offset
    Table when it had that (PS3.5 A.4). Nothing changes when no frame holds such a segment.

    Returns:
        How many segments of each kind were removed (empty: ``ds`` untouched).

    Raises:
        ValueError: a frame cannot be parsed (the caller fails closed: it cannot be checked).
    """
    found = _encapsulated_frames(ds)
    if found is None:
        return {}
    frames, has_bot, extended = found
    removed: dict[str, int] = {}
    new_frames = []
    for frame in frames:
        new, kinds = strip_frame(frame)
        new_frames.append(new)
        for kind in kinds:
            removed[kind] = removed.get(kind, 0) + 1
    if not removed:
        return {}
    if extended:
        data, offsets, lengths = encapsulate_extended(new_frames)
        ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = offsets, lengths
    else:
        try:
            data = encapsulate(new_frames, fragments_per_frame=1, has_bot=has_bot)
        except ValueError:  # offsets beyond 2**32 - 1 do not fit a Basic Offset Table
            data = encapsulate(new_frames, fragments_per_frame=1, has_bot=False)
    ds[_PIXEL_DATA] = DataElement(_PIXEL_DATA, "OB", data, is_undefined_length=True)
    return removed
