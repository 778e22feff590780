"""Verify media outputs: every PNG, JPEG, GIF, TIFF, MP4 and WebM part that is not pixels.

Each format is checked against an allow list of structural parts, so anything
unknown is reported. Files are recognised by their signature (:func:`sniff`), or
by their suffix when the signature is wrong (:data:`MEDIA_SUFFIXES`).
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from dcmexport.audit.verify.findings import VALUE_SHOWN, BadMedia, Kind, Problem
from dcmexport.encode.formats import FORMATS
from dcmexport.read.jpeg import JpegMarkerError, iter_jpeg_segments

#: Suffixes that promise a media file; one whose signature matches no format is reported.
MEDIA_SUFFIXES: dict[str, str] = {s: spec.container for spec in FORMATS.values() for s in spec.suffixes}
_EOI = 0xD9


class MetadataItem(NamedTuple):
    """One piece of media metadata: where it is (``detail``) and its text (PHI, for show_values)."""

    detail: str
    text: str = ""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that carry only pixels, palette, colour and geometry (PNG spec 11.2, 11.3; APNG).
#: Everything else is reported: tEXt/zTXt/iTXt (text), eXIf (EXIF), tIME (a date), iCCP (a
#: named profile), and any chunk we do not know.
_PNG_STRUCTURAL = frozenset({"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM", "sRGB", "sBIT", "bKGD",
                             "hIST", "pHYs", "acTL", "fcTL", "fdAT"})


def _png_text(name: str, body: bytes) -> str:
    """Best-effort text of a PNG text chunk (for show_values only)."""
    try:
        if name == "tEXt":
            key, _, text = body.partition(b"\0")
            return f"{key.decode('latin-1')}={text.decode('latin-1')}"
        if name == "zTXt":
            key, _, rest = body.partition(b"\0")
            return f"{key.decode('latin-1')}={zlib.decompress(rest[1:]).decode('latin-1')}"
        if name == "iTXt":
            key, _, rest = body.partition(b"\0")
            compressed = rest[:1] == b"\1"
            _lang, _, rest = rest[2:].partition(b"\0")
            _tkey, _, text = rest.partition(b"\0")
            return f"{key.decode('latin-1')}={(zlib.decompress(text) if compressed else text).decode('utf-8', 'replace')}"
    except (zlib.error, ValueError):
        pass
    return body[:VALUE_SHOWN].decode("latin-1")


def iter_png_metadata(data: bytes) -> Iterator[MetadataItem]:
    """Yield every PNG chunk outside the structural allow list, and data after IEND.

    Hand-written rather than Pillow: Pillow drops chunks it does not know and keeps no
    order, and a verifier must see every chunk (PNG spec 5.3 chunk layout).

    Raises:
        BadMedia: not a PNG.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise BadMedia("no PNG signature")
    pos = len(_PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            yield MetadataItem("PNG truncated chunk header")
            return
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        name = ctype.decode("latin-1")
        if len(body) < length:
            yield MetadataItem(f"PNG truncated {name} chunk")
            return
        if name not in _PNG_STRUCTURAL:
            yield MetadataItem(f"PNG {name} chunk", _png_text(name, body))
        pos += 12 + length
        if name == "IEND":
            break
    if data[pos:]:
        yield MetadataItem("PNG data after IEND", data[pos:pos + VALUE_SHOWN].decode("latin-1"))


def iter_jpeg_metadata(data: bytes) -> Iterator[MetadataItem]:
    """Yield every JPEG APPn segment except a plain JFIF APP0, every COM segment, and data after EOI.

    Hand-written rather than Pillow: Pillow keeps only the last segment of each kind and
    merges the rest (ITU T.81 B.2 marker layout; JFIF 1.02 for APP0). The markers are
    walked by :func:`dcmexport.read.jpeg.iter_jpeg_segments`, through every scan.

    Raises:
        BadMedia: not a JPEG.
    """
    if not data.startswith(b"\xff\xd8"):
        raise BadMedia("no JPEG SOI marker")
    end: int | None = None
    try:
        for seg in iter_jpeg_segments(data):
            marker, segment = seg.marker, seg.payload
            if marker == _EOI:
                end = seg.end
            elif 0xE0 <= marker <= 0xEF:
                ident = segment.split(b"\0", 1)[0][:40].decode("latin-1", "replace")
                thumbnail = segment[12:14] if len(segment) >= 14 else b"\0\0"
                plain_jfif = marker == 0xE0 and segment.startswith(b"JFIF\0") and thumbnail == b"\0\0"
                if not plain_jfif:
                    yield MetadataItem(f"JPEG APP{marker - 0xE0} segment {ident!r}".replace("''", "(no identifier)"),
                                       segment[:VALUE_SHOWN].decode("latin-1"))
            elif marker == 0xFE:
                yield MetadataItem("JPEG COM segment", segment[:VALUE_SHOWN].decode("latin-1"))
    except JpegMarkerError as exc:
        yield MetadataItem("JPEG truncated segment" if exc.cut_off else "JPEG bytes between segments")
        return
    if end is None:
        yield MetadataItem("JPEG without EOI marker")
        return
    if data[end:].strip(b"\0"):
        yield MetadataItem("JPEG data after EOI", data[end:end + VALUE_SHOWN].decode("latin-1"))


def _gif_blocks(data: bytes, pos: int) -> tuple[bytes, int]:
    """Read GIF data sub-blocks from ``pos``; return their payload and the offset after the terminator."""
    out = bytearray()
    while True:
        if pos >= len(data):
            raise BadMedia("truncated GIF sub-blocks")
        n = data[pos]
        pos += 1
        if n == 0:
            return bytes(out), pos
        out += data[pos:pos + n]
        pos += n


#: Application extensions that only hold a loop count (Netscape 2.0 / AnimExts 1.0).
_GIF_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def iter_gif_metadata(data: bytes) -> Iterator[MetadataItem]:
    """Yield GIF comment, plain text and non-loop application extensions, and data after the trailer.

    Hand-written rather than Pillow: Pillow exposes one comment and drops other application
    extensions (GIF89a spec sections 23-26).

    Raises:
        BadMedia: not a GIF, or truncated.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise BadMedia("no GIF signature")
    packed = data[10]
    pos = 13 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    while True:
        if pos >= len(data):
            yield MetadataItem("GIF without trailer")
            return
        block = data[pos]
        if block == 0x3B:
            pos += 1
            break
        if block == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            payload, pos = _gif_blocks(data, pos + 2)
            if label == 0xFE:
                yield MetadataItem("GIF comment extension", payload[:VALUE_SHOWN].decode("latin-1"))
            elif label == 0x01:
                yield MetadataItem("GIF plain text extension", payload[12:12 + VALUE_SHOWN].decode("latin-1"))
            elif label == 0xFF:
                if payload[:11] not in _GIF_LOOP_APPS:
                    ident = payload[:11].decode("latin-1", "replace")
                    yield MetadataItem(f"GIF application extension {ident!r}", payload[11:11 + VALUE_SHOWN].decode("latin-1"))
            elif label != 0xF9:  # F9 = graphic control (delay, disposal, transparency)
                yield MetadataItem(f"GIF extension 0x{label:02X}")
        elif block == 0x2C and pos + 10 <= len(data):
            packed = data[pos + 9]
            pos += 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
            _, pos = _gif_blocks(data, pos + 1)  # skip the LZW minimum code size, then the image data
        else:
            yield MetadataItem(f"GIF unknown block 0x{block:02X}")
            return
    if data[pos:].strip(b"\0"):
        yield MetadataItem("GIF data after trailer", data[pos:pos + VALUE_SHOWN].decode("latin-1"))


#: Baseline/extension TIFF tags that describe only pixels and geometry (TIFF 6.0 sections 8, 14-21).
#: Any other tag -- every ASCII tag (ImageDescription, Software, Artist, DateTime, DocumentName,
#: HostComputer, Make, Model, Copyright, PageName), XMP, IPTC, EXIF/GPS IFDs, ICC, ImageJ
#: metadata, vendor tags -- is reported.
_TIFF_STRUCTURAL = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 290, 291,
    296, 301, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340, 341, 347, 530, 531, 532,
})


#: WebP chunks that hold pixels or animation structure (WebP container spec); EXIF, XMP and ICCP are metadata.
_WEBP_STRUCTURAL = frozenset({"VP8X", "VP8 ", "VP8L", "ALPH", "ANIM", "ANMF"})


def iter_webp_metadata(data: bytes) -> Iterator[MetadataItem]:
    """Yield every WebP chunk outside the structural allow list, and data after the RIFF chunk.

    Raises:
        BadMedia: not a WebP file.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise BadMedia("no WebP signature")
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    pos = 12
    while pos < end:
        if pos + 8 > end:
            yield MetadataItem("WebP truncated chunk header")
            return
        name = data[pos:pos + 4].decode("latin-1")
        length = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if name not in _WEBP_STRUCTURAL:
            yield MetadataItem(f"WebP {name} chunk", data[pos + 8:pos + 8 + min(length, VALUE_SHOWN)].decode("latin-1"))
        pos += 8 + length + (length & 1)
    if data[end:]:
        yield MetadataItem("WebP data after the RIFF chunk", data[end:end + VALUE_SHOWN].decode("latin-1"))


def iter_tiff_metadata(path: Path) -> Iterator[MetadataItem]:
    """Yield every TIFF tag outside the structural allow list, in every IFD of the page chain.

    Raises:
        BadMedia: tifffile cannot parse the file.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            items = []
            for index, page in enumerate(tif.pages):
                for tag in page.tags.values():  # type: ignore[union-attr]
                    if tag.code not in _TIFF_STRUCTURAL:
                        text = tag.value if isinstance(tag.value, str) else repr(tag.value)
                        items.append(MetadataItem(f"TIFF page {index} tag {tag.code} {tag.name}", str(text)[:VALUE_SHOWN]))
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types; its text may quote tag values
        raise BadMedia(f"tifffile cannot parse it ({type(exc).__name__})") from None
    yield from items


#: Container tags that carry no identity, with the only values accepted (matched in full, key
#: lower-cased). ``encoder`` is accepted only as a bare FFmpeg library name and version
#: (``Lavf61.1.100``, ``Lavc61.3.100 libx264``): any other encoder string may name a person,
#: a site or a workstation. ``creation_time``, ``title``, ``comment``... are always reported.
_TRIVIAL_CONTAINER_TAGS: dict[str, re.Pattern[str]] = {
    "major_brand": re.compile(r"[A-Za-z0-9 ]{1,8}"),
    "minor_version": re.compile(r"\d{1,10}"),
    "compatible_brands": re.compile(r"[A-Za-z0-9 ]{0,64}"),
    "encoder": re.compile(r"Lav[fcd](\d+(\.\d+)*)?( [A-Za-z0-9_-]{1,32})?"),
    "handler_name": re.compile(r"(Video|Sound)Handler"),
    "vendor_id": re.compile(r"(\[0\]){4}|FFMP"),
    "language": re.compile(r"[a-z]{3}"),
    "duration": re.compile(r"\d{1,3}:\d{2}:\d{2}(\.\d{1,9})?"),
}
_FFMPEG_TIMEOUT_S = 120


def _parse_ffmetadata(text: str) -> Iterator[tuple[str, str, str]]:
    """Yield (scope, key, value) from ffmpeg's ffmetadata format (escapes ``\\=;#`` and newlines)."""
    scope = "container"
    logical: list[str] = []
    buf = ""
    for line in text.splitlines():
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf += line[:-1] + "\n"
            continue
        logical.append(buf + line)
        buf = ""
    for line in logical[1:]:  # the first line is ";FFMETADATA1"
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("["):
            scope = line.strip("[]").lower()
            if scope == "chapter":
                yield scope, "chapter", ""
            continue
        key_chars: list[str] = []
        i = 0
        while i < len(line) and line[i] != "=":
            if line[i] == "\\" and i + 1 < len(line):
                i += 1
            key_chars.append(line[i])
            i += 1
        yield scope, "".join(key_chars), re.sub(r"\\(.)", r"\1", line[i + 1:])


_STREAM = re.compile(r"^Stream #\d+:(\d+)")


def _parse_ffmpeg_dump(stderr: str) -> list[tuple[str, str, str]]:
    """Return (scope, key, value) from the ``Input #0`` dump ffmpeg prints for ``-i``.

    This is the only place where stream-level tags (handler_name, encoder...) and the
    input's own ``encoder`` appear: the ffmetadata muxer writes its own ``encoder`` instead.
    Continuation lines (``   : more``) of multi-line values are joined to their key.
    """
    found: list[list[str]] = []
    scope, in_input, meta_indent = "container", False, -1
    for line in stderr.splitlines():
        if line.startswith("Input #"):
            in_input = True
            continue
        if not in_input:
            continue
        if line and not line.startswith(" "):
            break  # "Stream mapping:", "Output #0", ...
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if meta_indent >= 0 and indent > meta_indent:
            key, _, value = stripped.partition(":")
            key = key.strip()
            if not key and found:
                found[-1][2] += "\n" + value.strip()
            else:
                found.append([scope, key, value.strip()])
            continue
        meta_indent = -1
        if stripped == "Metadata:":
            meta_indent = indent
        elif (m := _STREAM.match(stripped)) is not None:
            scope = f"stream {m.group(1)}"
        elif stripped.startswith("Chapter #"):
            scope = "chapter"
            found.append(["chapter", "chapter", ""])
    return [(a, b, c) for a, b, c in found]


def iter_container_metadata(path: Path, fmt: str) -> Iterator[MetadataItem]:
    """Yield every MP4/WebM container, stream or chapter tag that is not trivial (see the table above).

    Uses the ffmpeg binary of imageio-ffmpeg: ``ffmpeg -i FILE -f ffmetadata -`` for the
    container tags, and the input dump it prints on stderr for stream tags. The dump names the
    file; it is parsed, never printed.

    Args:
        path: the file.
        fmt: ``"mp4"`` or ``"webm"`` (used in the detail text).

    Raises:
        BadMedia: ffmpeg cannot open the file.
    """
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", f"file:{path}",
           "-fflags", "+bitexact", "-f", "ffmetadata", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadMedia(f"ffmpeg could not read it ({type(exc).__name__})") from None
    if proc.returncode != 0:
        raise BadMedia(f"ffmpeg could not read it (exit status {proc.returncode})")
    seen: set[tuple[str, str]] = set()
    found = [*_parse_ffmetadata(proc.stdout.decode("utf-8", "replace")),
             *_parse_ffmpeg_dump(proc.stderr.decode("utf-8", "replace"))]
    for scope, key, value in found:
        if (scope, key.lower()) in seen:
            continue
        seen.add((scope, key.lower()))
        allowed = _TRIVIAL_CONTAINER_TAGS.get(key.lower())
        if allowed is not None and allowed.fullmatch(value):
            continue
        where = "" if scope == "container" else f"{scope} "
        yield MetadataItem(f"{fmt.upper()} {where}tag {key}", value[:VALUE_SHOWN])


_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, _PNG_SIGNATURE, "png"), (0, b"\xff\xd8\xff", "jpeg"), (0, b"II*\0", "tiff"), (0, b"MM\0*", "tiff"),
    (0, b"II+\0", "tiff"), (0, b"MM\0+", "tiff"), (0, b"GIF87a", "gif"), (0, b"GIF89a", "gif"),
    (4, b"ftyp", "mp4"), (0, b"\x1a\x45\xdf\xa3", "webm"), (128, b"DICM", "dicom"),
    (8, b"WEBPVP8", "webp"),  # RIFF size "WEBP" then VP8X, "VP8 " or VP8L
)


def sniff(head: bytes) -> str | None:
    """The format a file's first 132 bytes announce (``png``, ..., ``dicom``), or None."""
    for offset, magic, kind in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return kind
    return None


def iter_media_problems(path: Path, kind: str, show_values: bool) -> Iterator[Problem]:
    """Yield a ``metadata`` problem for every non-structural part of a media file of format ``kind``.

    Raises:
        BadMedia: the file is not the format ``kind``.
        OSError: it cannot be read.
    """
    if kind in ("mp4", "webm"):
        items: Iterable[MetadataItem] = iter_container_metadata(path, kind)
    elif kind == "tiff":
        items = iter_tiff_metadata(path)
    else:
        data = path.read_bytes()
        items = {"png": iter_png_metadata, "jpeg": iter_jpeg_metadata, "gif": iter_gif_metadata,
                 "webp": iter_webp_metadata}[kind](data)
    for item in items:
        yield Problem(Kind.METADATA, item.detail, item.text if show_values else None)
