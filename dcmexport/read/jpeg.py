"""JPEG frame headers (ISO/IEC 10918-1 Annex B): pure functions over one frame's bytes, no pydicom.

The clip passthrough (see :func:`dcmexport.api._passthrough_plan`) sends a
DICOM object's JPEG frames to ffmpeg undecoded. Whether that gives what the
Python decode path gives is decided from the frame headers read here: the
coding process (SOF marker), sample precision, size, components, sampling
factors and the markers that tell a decoder the colour space (Adobe APP14
transform, component identifiers). Every frame is checked against the first
before it is sent, so a clip whose layout changes half-way is noticed.

Only the marker segments before the first SOS are parsed; the entropy-coded
data is never read here (ffmpeg's decoder checks it, see
:mod:`dcmexport.encode.video`).
"""

from __future__ import annotations

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
    offset, end = 2, len(data)
    sof: JpegHeader | None = None
    adobe: int | None = None
    dqt = dht = False
    while offset < end:
        if data[offset] != 0xFF:
            raise ValueError(f"expected a marker at byte {offset}, found data")
        marker = data[offset + 1] if offset + 1 < end else -1
        if marker == 0xFF:  # fill byte before a marker (B.1.1.2)
            offset += 1
            continue
        if marker in _STANDALONE:
            offset += 2
            continue
        if marker == _EOI or marker < 0:
            break
        if offset + 4 > end:
            raise ValueError(f"marker FF{marker:02X} is cut off")
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        segment = data[offset + 4 : offset + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise ValueError(f"segment FF{marker:02X} runs past the end of the frame")
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
        offset += 2 + length
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
