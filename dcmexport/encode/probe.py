"""Read back what the video backend wrote, with the ffmpeg binary imageio-ffmpeg ships.

No ffprobe is needed: ``ffmpeg -i FILE -c copy -f framecrc -`` lists the
stream (codec, pixel format, size) on stderr and one line per packet (time
base, timestamps, durations) on stdout, without decoding. One packet is one
displayed frame for the codecs we write (H.264 in MP4, VP9 in WebM, GIF).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from dcmexport.encode.ffmpeg import last_meaningful_line
from dcmexport.errors import EncodeError


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: packet count, mean rate, coded size, codec and pixel format names (ffmpeg's)."""

    frames: int
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str


_TB = re.compile(r"^#tb 0: (\d+)/(\d+)", re.MULTILINE)
_PACKET = re.compile(r"^0,\s*(-?\d+),\s*(-?\d+),\s*(\d+),", re.MULTILINE)
_SIZE = re.compile(r"^(\d+)x(\d+)")


def probe_video(path: Path) -> VideoInfo:
    """Describe the first video stream of ``path``.

    ``fps`` is the mean rate over the playing time (see :func:`_mean_fps`);
    0.0 when it cannot be told (a single frame without duration).

    :param path: an MP4, WebM, GIF (or any file ffmpeg reads).
    :returns: frame count, fps, width, height, codec and pixel format.
    :raises EncodeError: ffmpeg cannot read the file or it has no video stream.
    """
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats",
        "-i", "file:" + str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        detail = last_meaningful_line(stderr.splitlines()) or f"exit status {proc.returncode}"
        raise EncodeError(f"cannot probe {path}: {detail}")
    codec, pix_fmt, width, height = _parse_stream_line(stderr, path)
    stdout = proc.stdout.decode("ascii", "replace")
    tb_match = _TB.search(stdout)
    packets = [(int(d), int(p), int(dur)) for d, p, dur in _PACKET.findall(stdout)]
    return VideoInfo(len(packets), _mean_fps(packets, tb_match), width, height, codec, pix_fmt)


def probe_timestamps(path: Path) -> tuple[float, ...]:
    """Each frame's presentation time in seconds, in display order, as the container stores it.

    :raises EncodeError: ffmpeg cannot read the file.
    """
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-i", "file:" + str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = last_meaningful_line(proc.stderr.decode("utf-8", "replace").splitlines())
        raise EncodeError(f"cannot probe {path}: {detail or f'exit status {proc.returncode}'}")
    stdout = proc.stdout.decode("ascii", "replace")
    tb_match = _TB.search(stdout)
    if tb_match is None:
        return ()
    time_base = Fraction(int(tb_match.group(1)), int(tb_match.group(2)))
    return tuple(float(pts * time_base) for pts in sorted(int(p) for _, p, _ in _PACKET.findall(stdout)))


def _mean_fps(packets: list[tuple[int, int, int]], tb_match: re.Match[str] | None) -> float:
    """Frames per second of playing time: ``n / (last pts - first pts + last duration)``.

    Timestamps are used rather than the sum of durations because Matroska
    stores none per block (ffmpeg infers them from a rounded default), while
    the timestamps are cumulative and accurate to the container's 1 ms. For
    GIF the result is frames / total of the stored 10 ms delays; for MP4 exact.
    Falls back to ``(n - 1) / span`` when the last duration is unknown.
    """
    if tb_match is None or not packets:
        return 0.0
    time_base = Fraction(int(tb_match.group(1)), int(tb_match.group(2)))
    last_pts, last_duration = max((pts, duration) for _, pts, duration in packets)
    span = last_pts - min(pts for _, pts, _ in packets)
    if last_duration > 0:
        return float(len(packets) / ((span + last_duration) * time_base))
    if span > 0:
        return float((len(packets) - 1) / (span * time_base))
    return 0.0


def read_video_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode ``path`` back to full-range RGB frames, one at a time.

    The decoder converts YUV to RGB with the matrix and range the stream is
    tagged with, i.e. it undoes exactly what a standards-following player does.

    :param path: a video file.
    :returns: an iterator of ``(H, W, 3)`` uint8 arrays (coded size, including any padding).
    :raises EncodeError: ffmpeg cannot decode the file.
    """
    info = probe_video(path)
    frame_bytes = info.width * info.height * 3
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-i", "file:" + str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
        "-vf", "scale=out_range=pc:flags=accurate_rnd+full_chroma_int",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    # stderr goes to an anonymous file, not a pipe: a stream of decode errors
    # must not fill a pipe nobody reads while we block on stdout.
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errfile)
        assert proc.stdout is not None
        try:
            while True:
                data = proc.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                yield np.frombuffer(data, np.uint8).reshape(info.height, info.width, 3)
            if proc.wait() != 0 or data:
                errfile.seek(0)
                stderr = errfile.read().decode("utf-8", "replace")
                detail = last_meaningful_line(stderr.splitlines()) or "truncated frame"
                raise EncodeError(f"cannot decode {path}: {detail}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()


def _parse_stream_line(stderr: str, path: Path) -> tuple[str, str, int, int]:
    """Codec, pixel format and size from the first ``Stream #..: Video:`` line of ffmpeg's listing."""
    for line in stderr.splitlines():
        if "Video:" not in line or "Stream #" not in line:
            continue
        fields = _split_top_level(line.split("Video:", 1)[1])
        codec = fields[0].split()[0] if fields and fields[0] else "unknown"
        pix_fmt = fields[1].split("(")[0].strip() if len(fields) > 1 else "unknown"
        for field in fields[1:]:
            size = _SIZE.match(field)
            if size:
                return codec, pix_fmt, int(size.group(1)), int(size.group(2))
    raise EncodeError(f"no video stream in {path}")


def _split_top_level(text: str) -> list[str]:
    """Split ffmpeg's ``a (x, y), b(z, w), 10x20 [SAR 1:1]`` on commas outside brackets."""
    fields: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            fields.append(text[start:i].strip())
            start = i + 1
    fields.append(text[start:].strip())
    return fields
