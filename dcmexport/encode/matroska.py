"""A minimal Matroska stream of timestamped frames, written to ffmpeg's stdin (variable frame rate).

ffmpeg's raw-video and MJPEG pipe inputs carry no timestamps: every frame
lasts ``1/-r``. A clip whose frames are not evenly spaced (a Frame Time
Vector, per-frame acquisition times) needs each frame's own presentation
time, without buffering frames or writing temporary files. Matroska carries
one per block, streams with unknown sizes, and ffmpeg demuxes it from a pipe;
the frames inside stay what they were (``V_UNCOMPRESSED`` raw planes tagged
with their FourCC, or ``V_MJPEG`` codestreams), so the writers' colour and
decoding paths do not change. Timestamps are in microseconds
(``TimecodeScale`` 1000 ns), so cumulative times are kept to 1 µs.

Only what ffmpeg's demuxer reads is written (Matroska specification, RFC 9559):
EBML header, a Segment of unknown size holding Info and one video track, then
one Cluster per frame (its absolute timestamp and one block). The last frame
is a BlockGroup with a BlockDuration so players know how long it lasts.
"""

from __future__ import annotations

import struct

#: Timestamps are written in microseconds (TimecodeScale, nanoseconds per tick).
TICK_NS = 1000
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"

#: FourCC of raw frames by ffmpeg pixel format (the ones libavcodec's raw table maps back).
RAW_FOURCC = {"gray": b"Y800", "yuv420p": b"I420", "rgb24": b"RGB\x18"}


def _size(n: int) -> bytes:
    """An EBML variable-size integer (RFC 8794 section 4)."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError(f"element too large for EBML: {n} bytes")


def _element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _size(len(payload)) + payload


def _uint(element_id: bytes, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _text(element_id: bytes, value: str) -> bytes:
    return _element(element_id, value.encode("ascii"))


def stream_header(width: int, height: int, *, codec: str, fourcc: bytes | None = None) -> bytes:
    """EBML header, the start of a Segment of unknown size, Info and the one video track.

    :param width: coded columns of every frame.
    :param height: coded rows.
    :param codec: Matroska codec ID: ``V_UNCOMPRESSED`` or ``V_MJPEG``.
    :param fourcc: the raw pixel layout (:data:`RAW_FOURCC`) for ``V_UNCOMPRESSED``.
    """
    ebml = _element(b"\x1a\x45\xdf\xa3", b"".join((
        _uint(b"\x42\x86", 1), _uint(b"\x42\xf7", 1), _uint(b"\x42\xf2", 4), _uint(b"\x42\xf3", 8),
        _text(b"\x42\x82", "matroska"), _uint(b"\x42\x87", 4), _uint(b"\x42\x85", 2),
    )))  # fmt: skip
    # MuxingApp/WritingApp are mandatory; they are read by ffmpeg only, never copied to the output.
    info = _element(b"\x15\x49\xa9\x66", _uint(b"\x2a\xd7\xb1", TICK_NS) + _text(b"\x4d\x80", "dcmexport")
                    + _text(b"\x57\x41", "dcmexport"))
    video = _uint(b"\xb0", width) + _uint(b"\xba", height)
    if fourcc is not None:
        video += _element(b"\x2e\xb5\x24", fourcc)
    track = _element(b"\xae", _uint(b"\xd7", 1) + _uint(b"\x73\xc5", 1) + _uint(b"\x83", 1)
                     + _text(b"\x86", codec) + _element(b"\xe0", video))
    return ebml + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + _element(b"\x16\x54\xae\x6b", track)


def frame_wrapping(timestamp: int, size: int, duration: int | None = None) -> tuple[bytes, bytes]:
    """The bytes before and after one frame's ``size`` data bytes: a Cluster at ``timestamp`` (ticks).

    With ``duration`` (ticks) the block is a BlockGroup carrying it (the last
    frame); otherwise a SimpleBlock (keyframe). The frame's bytes go between
    the two parts, so they are written to the pipe without being copied.
    """
    block_head = b"\x81" + struct.pack(">hB", 0, 0x00 if duration is not None else 0x80)
    block_len = len(block_head) + size
    if duration is None:
        block = b"\xa3" + _size(block_len) + block_head
        tail = b""
    else:
        tail = _uint(b"\x9b", duration)
        inner = b"\xa1" + _size(block_len) + block_head
        block = b"\xa0" + _size(len(inner) + size + len(tail)) + inner
    timecode = _uint(b"\xe7", timestamp)
    cluster_len = len(timecode) + len(block) + size + len(tail)
    return b"\x1f\x43\xb6\x75" + _size(cluster_len) + timecode + block, tail


__all__ = ["RAW_FOURCC", "TICK_NS", "frame_wrapping", "stream_header"]
