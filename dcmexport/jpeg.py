"""JPEG frame headers (ISO/IEC 10918-1 Annex B): pure functions over one frame's bytes, no pydicom.

The clip passthrough (see :func:`dcmexport.pipeline.passthrough.passthrough_plan`) sends a
DICOM object's JPEG frames to ffmpeg undecoded. Whether that gives what the
Python decode path gives is decided from the frame headers read here: the
coding process (SOF marker), sample precision, size, components, sampling
factors and the markers that tell a decoder the colour space (Adobe APP14
transform, component identifiers). Every frame is checked against the first
before it is sent, so a clip whose layout changes half-way is noticed.

:func:`read_jpeg_header` parses only the marker segments before the first SOS;
the entropy-coded data is never decoded here (ffmpeg's decoder checks it, see
:mod:`dcmexport.encode.video`). :func:`iter_jpeg_segments` is the one marker
walk: the header parser and ``verify``'s metadata check both use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

#: SOF markers of the DCT sequential Huffman processes: baseline (1.2.840.10008.1.2.4.50)
#: and extended (1.2.840.10008.1.2.4.51), ISO/IEC 10918-1 Table B.1.
SEQUENTIAL_SOF = frozenset({0xC0, 0xC1})
#: Every SOFn marker (C4 is DHT, C8 is reserved, CC is DAC).
_ANY_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOI, _EOI, _SOS, _DQT, _DHT, _APP14 = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xEE
#: Markers without a length field (TEM, RST0-7, SOI, EOI), B.1.1.3.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})


@dataclass(frozen=True)
class JpegHeader:
    """What a JPEG frame's header declares (ISO/IEC 10918-1 B.2.2, Adobe APP14).

    Attributes:
        sof: the SOFn marker's second byte (0xC0 baseline, 0xC1 extended sequential, ...).
        precision: sample precision P in bits.
        rows: number of lines Y.
        columns: samples per line X.
        component_ids: component identifiers C, in frame order.
        sampling: (horizontal, vertical) sampling factors per component.
        adobe_transform: the Adobe APP14 transform flag (0 RGB, 1 YCbCr), None without APP14,
            -1 for an APP14 "Adobe" segment too short to hold it.
        tables: True when the frame defines its own quantisation (DQT) and
            Huffman (DHT) tables, so it decodes without tables from another frame.
    """

    sof: int
    precision: int
    rows: int
    columns: int
    component_ids: tuple[int, ...]
    sampling: tuple[tuple[int, int], ...]
    adobe_transform: int | None
    tables: bool

    @property
    def signals_rgb(self) -> bool:
        """True when decoders would take the three components as R, G, B rather than Y, Cb, Cr.

        An Adobe APP14 transform of 0, or component identifiers 'R', 'G', 'B'
        (the conventions libjpeg and ffmpeg both follow).
        """
        return len(self.component_ids) == 3 and (
            self.adobe_transform == 0 or self.component_ids == (0x52, 0x47, 0x42)
        )

    @property
    def chroma_subsampling(self) -> tuple[int, int] | None:
        """Luma samples per chroma sample, (horizontal, vertical), e.g. (2, 1) for 4:2:2.

        None unless there are three components, both chroma components share
        one sampling, and that sampling divides the luma sampling exactly (the
        layouts planar pixel formats can hold: 4:4:4, 4:2:2, 4:2:0, 4:1:1, 4:4:0).
        """
        if len(self.sampling) != 3 or self.sampling[1] != self.sampling[2]:
            return None
        (lh, lv), (ch, cv) = self.sampling[0], self.sampling[1]
        if ch == 0 or cv == 0 or lh % ch or lv % cv:
            return None
        return lh // ch, lv // cv


@dataclass(frozen=True)
class JpegSegment:
    """One marker of a JPEG codestream and its segment (ISO/IEC 10918-1 B.1.1.3, B.1.1.4).

    Attributes:
        marker: the marker's second byte (0xE1 for APP1, 0xDA for SOS, 0xD9 for EOI).
        offset: where the marker's 0xFF is.
        length: the segment's length field (it counts itself), None for a marker without one.
        payload: the bytes after the length field (empty without one); shorter than
            ``length - 2`` when the data ends inside the segment (see :attr:`complete`).
    """

    marker: int
    offset: int
    length: int | None
    payload: bytes

    @property
    def complete(self) -> bool:
        """False when the length field is invalid or the data ends before the segment does."""
        return self.length is None or (self.length >= 2 and len(self.payload) == self.length - 2)

    @property
    def end(self) -> int:
        """The offset just after the segment as its length field declares it."""
        return self.offset + 2 + (self.length or 0)


class JpegMarkerError(ValueError):
    """Where a marker must be, there is data, or the data ends inside a marker or its length field.

    Attributes:
        offset: where the marker was expected.
        cut_off: True when the data ends there (a truncated codestream), False for stray data.
    """

    def __init__(self, message: str, offset: int, *, cut_off: bool) -> None:
        super().__init__(message)
        self.offset = offset
        self.cut_off = cut_off


def iter_jpeg_segments(data: bytes) -> Iterator[JpegSegment]:
    """Yield the markers of a JPEG codestream after its SOI, up to and including EOI.

    Fill bytes before a marker (B.1.1.2) are skipped. After an SOS segment the
    entropy-coded data is skipped up to the next marker other than RSTn (a
    stuffed 0xFF00 is data, B.1.1.5), so every marker of every scan is seen.
    The walk ends after EOI or at the end of the data: a caller that did not see
    EOI holds a truncated codestream. A segment whose length runs past the end
    is yielded incomplete (:attr:`JpegSegment.complete` is False) and ends the walk.

    Args:
        data: the codestream, starting with SOI (not checked here).

    Returns:
        An iterator of segments in file order.

    Raises:
        JpegMarkerError: data where a marker must be, or a marker or its length cut off.
    """
    offset, end = 2, len(data)
    while offset < end:
        if data[offset] != 0xFF:
            raise JpegMarkerError(f"expected a marker at byte {offset}, found data", offset, cut_off=False)
        if offset + 1 >= end:
            raise JpegMarkerError(f"marker at byte {offset} is cut off", offset, cut_off=True)
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker (B.1.1.2)
            offset += 1
            continue
        if marker in _STANDALONE:
            yield JpegSegment(marker, offset, None, b"")
            if marker == _EOI:
                return
            offset += 2
            continue
        if offset + 4 > end:
            raise JpegMarkerError(f"marker FF{marker:02X} is cut off", offset, cut_off=True)
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        segment = JpegSegment(marker, offset, length, data[offset + 4 : offset + 2 + length])
        yield segment
        if not segment.complete and segment.end >= end:
            return
        offset = segment.end
        if marker == _SOS:
            offset = _skip_entropy(data, offset)


def _skip_entropy(data: bytes, offset: int) -> int:
    """The offset of the next marker after entropy-coded data, or the end (B.1.1.5)."""
    while True:
        offset = data.find(b"\xff", offset)
        if offset < 0 or offset + 1 >= len(data):
            return len(data)
        following = data[offset + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte or RSTn: still scan data
            offset += 2
            continue
        if following == 0xFF:  # a fill byte before a marker
            offset += 1
            continue
        return offset


def read_jpeg_header(data: bytes) -> JpegHeader:
    """Parse the marker segments of one JPEG frame up to its first SOS.

    Args:
        data: the frame's bytes, starting with SOI.

    Returns:
        The header; ``sof`` tells which coding process it uses.

    Raises:
        ValueError: no SOI, a segment running past the end, no SOF before SOS,
            or no SOS at all (the message names the marker, never data).
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("does not start with a JPEG SOI marker")
    sof: JpegHeader | None = None
    adobe: int | None = None
    dqt = dht = False
    for seg in iter_jpeg_segments(data):
        if seg.length is None:
            continue
        if not seg.complete:
            raise ValueError(f"segment FF{seg.marker:02X} runs past the end of the frame")
        marker, segment = seg.marker, seg.payload
        if marker == _SOS:
            if sof is None:
                raise ValueError("no SOF marker before SOS")
            return replace(sof, adobe_transform=adobe, tables=dqt and dht)
        if marker in _ANY_SOF:
            sof = _parse_sof(marker, segment)
        elif marker == _DQT:
            dqt = True
        elif marker == _DHT:
            dht = True
        elif marker == _APP14 and segment[:5] == b"Adobe":
            # Too short to hold the flag: decoders differ on what they read there.
            adobe = segment[11] if len(segment) >= 12 else -1
    raise ValueError("no SOS marker: the frame holds no image data")


def _parse_sof(marker: int, segment: bytes) -> JpegHeader:
    """The frame parameters of an SOFn segment (B.2.2); APP14 and tables are filled in at SOS."""
    if len(segment) < 6:
        raise ValueError(f"SOF marker FF{marker:02X} segment is too short")
    precision = segment[0]
    rows = int.from_bytes(segment[1:3], "big")
    columns = int.from_bytes(segment[3:5], "big")
    count = segment[5]
    if len(segment) < 6 + 3 * count:
        raise ValueError(f"SOF marker FF{marker:02X} lists more components than it holds")
    ids = tuple(segment[6 + 3 * k] for k in range(count))
    sampling = tuple((segment[7 + 3 * k] >> 4, segment[7 + 3 * k] & 0x0F) for k in range(count))
    return JpegHeader(marker, precision, rows, columns, ids, sampling, adobe_transform=None, tables=False)


def trim_jpeg_frame(data: bytes) -> bytes | None:
    """Return the frame without the NUL padding DICOM adds after EOI, or None when it does not end with EOI.

    Encapsulated fragments have even lengths (PS3.5 A.4), so an odd-length
    JPEG codestream is followed by one 0x00. A frame that does not end with
    the EOI marker once that padding is removed is truncated or carries
    trailing data a decoder may or may not tolerate.
    """
    trimmed = data.rstrip(b"\x00")
    return trimmed if trimmed.endswith(b"\xff\xd9") else None
