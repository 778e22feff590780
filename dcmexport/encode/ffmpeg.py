"""The ffmpeg process behind every clip writer: codecs, timing input, stderr, exit status.

:class:`FfmpegWriter` runs the ffmpeg binary of imageio-ffmpeg with a pipe on
stdin; :mod:`dcmexport.encode.video` builds on it (raw display frames, JPEG
codestreams). Here: the per-format encoder table (:data:`CODECS`), how stdin
is read (raw or MJPEG at a constant ``-r``, or a timestamped Matroska stream
for variable frame rates, :mod:`dcmexport.encode.matroska`), the H.264
profile and level (:mod:`dcmexport.encode.h264`), the loop count of animated
images, metadata stripping, a bounded tail of ffmpeg's stderr, and the exit
status turned into an :class:`EncodeError` naming ffmpeg's reason.

Animated WebP (``libwebp_anim``) and APNG (``apng``) go through ffmpeg like the
other clips, so frames stream and memory stays flat in clip length; Pillow's
animated save would need every frame at once. WebP frames go to libwebp as
BGRA, so lossless WebP keeps every level and lossy WebP is converted by libwebp
itself (the conversion WebP decoders invert); APNG keeps grey as grey.

Loop count (``--loop N``, the number of plays, 0 forever): WebP's ANIM loop
count and APNG's ``num_plays`` count plays; GIF's NETSCAPE2.0 count is the
number of *repeats* (browsers play it N + 1 times) and no extension at all
means one play, so N plays are written as N - 1 (or none for 1).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import math
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from dcmexport.encode.formats import OutputFormat
from dcmexport.encode.h264 import x264_level_args
from dcmexport.encode.matroska import TICK_NS, frame_wrapping, stream_header
from dcmexport.errors import DcmexportError, EncodeError, UnsupportedError, UsageError
from dcmexport.interrupts import critical_section

TICKS_PER_SECOND = 1_000_000_000 // TICK_NS

_X264_ARGS = (
    "-c:v", "libx264", "-pix_fmt", "yuv420p",
    "-movflags", "+faststart",
    "-bsf:v", "filter_units=remove_types=6",
)  # fmt: skip
_VP9_ARGS = (
    "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p",
    "-b:v", "0",
    "-deadline", "good", "-cpu-used", "4", "-row-mt", "1",
)  # fmt: skip


@dataclass(frozen=True)
class Codec:
    """How one output format is produced: muxer, encoder arguments and whether it needs even sizes."""

    muxer: str
    args: tuple[str, ...]
    yuv420: bool


CODECS: dict[OutputFormat, Codec] = {
    # libx264 keeps its default preset and threads; removing SEI NAL units
    # (type 6) drops the banner where x264 writes its version and options.
    OutputFormat.MP4: Codec("mp4", _X264_ARGS, yuv420=True),
    # Constant-quality VP9 (-b:v 0 with -crf). "good" + cpu-used 4 + row-mt is
    # about 2x faster than ffmpeg's defaults (cpu-used 1), for ~17% larger files
    # (measured: 60 frames of 256x256 speckle, 0.27 s vs 0.50 s).
    OutputFormat.WEBM: Codec("webm", _VP9_ARGS, yuv420=True),
    # GIF: full range, odd sizes allowed.
    OutputFormat.GIF: Codec("gif", ("-c:v", "gif"), yuv420=False),
    # BGRA in: lossless keeps every level; lossy lets libwebp convert to its own YUV.
    OutputFormat.WEBP: Codec("webp", ("-c:v", "libwebp_anim", "-pix_fmt", "bgra"), yuv420=False),
    OutputFormat.APNG: Codec("apng", ("-c:v", "apng"), yuv420=False),
}

_NOISE = re.compile(
    r"Task finished with error code|Terminating thread with return code|Conversion failed|"
    r"Nothing was written into output file|Error while opening encoder|Could not open encoder before EOF|"
    r"Error sending frames to consumers|Error while filtering|Error submitting|Error closing|"
    r"Could not write header|Error writing trailer|^\s*$"
)
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")


class FfmpegWriter:
    """One ffmpeg process writing one clip from what it reads on stdin: what both writers share.

    The codec table, CRF and metadata stripping (:meth:`_output_args`), a
    bounded tail of ffmpeg's stderr drained by a thread (so ffmpeg never blocks
    on a full pipe), the exit-status check in :meth:`close`, :meth:`abort`,
    and a safety net so an abandoned writer never leaves ffmpeg running.
    Subclasses build the command line and feed stdin.

    Attributes:
        frames_written: frames accepted so far.
        fps: the playback rate requested.
    """

    def __init__(
        self,
        path: Path,
        fmt: OutputFormat,
        *,
        fps: float,
        crf: int | None = None,
        timestamps: Sequence[float] | None = None,
        loop: int = 0,
        quality: int | None = None,
        lossless: bool = False,
    ) -> None:
        codec = CODECS.get(fmt)
        if codec is None:
            raise UnsupportedError(f"{fmt.value} is not a video format; use write_still")
        try:
            rate = float(fps)  # also accepts numpy scalars
        except (TypeError, ValueError):
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise UsageError(f"--fps must be a positive number, got {fps!r}")
        spec = fmt.spec  # the registry: defaults and ranges, also checked at the options boundary
        if crf is not None and spec.crf_range is not None:
            low, high = spec.crf_range
            if not low <= crf <= high:
                raise UsageError(f"--crf for {fmt.value} must be {low}..{high}, got {crf}")
        times = _check_timestamps(timestamps, rate)
        fastest = rate if times is None else max(rate, 1 / min(b - a for a, b in itertools.pairwise(times)))
        if spec.max_fps is not None and fastest > spec.max_fps * (1 + 1e-9):
            # The pipeline lowers the rate (every frame kept) and says so; never drop frames here.
            raise UsageError(f"{fmt.value} plays at most {spec.max_fps:g} fps; got {fastest:g}")
        if not 0 <= loop <= 65535:
            raise UsageError(f"--loop must be 0..65535 plays (0: forever), got {loop}")
        self.path = Path(path)
        self.fmt = fmt
        self.fps = rate
        self.crf = spec.default_crf if crf is None else crf
        self.timestamps = times
        self.fastest_fps = fastest
        self.loop = loop
        self.quality = spec.default_quality if quality is None else quality
        self.lossless = lossless
        self.frames_written = 0
        self._mkv_header: bytes | None = None  # set at launch for a timestamped (variable-rate) input
        self._codec = codec
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_thread: threading.Thread | None = None
        self._closed = False

    # -- context manager -------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- public API ------------------------------------------------------
    def close(self) -> None:
        """Finish the file: flush ffmpeg, wait for it, check its exit status.

        Idempotent after success.

        :raises EncodeError: no frame was written, or ffmpeg failed.
        """
        if self._closed:
            return
        if self._proc is None:
            self._closed = True
            raise EncodeError(f"no frames to encode into {self.path}")
        proc = self._proc
        try:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):  # ffmpeg already gone: the exit status says why
                proc.stdin.close()
            returncode = proc.wait()
            self._join_stderr()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        if returncode != 0:
            raise self._failure() from None
        self._check_output()

    def abort(self) -> None:
        """Stop ffmpeg at once (the pipeline failed); the caller deletes the partial file. Idempotent."""
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        proc.wait()
        self._join_stderr()

    def __del__(self) -> None:
        # Safety net: a writer dropped without close()/abort() must not leave
        # ffmpeg behind; an unfinished clip is never silently finalised.
        proc = getattr(self, "_proc", None)
        if proc is not None and not getattr(self, "_closed", True) and proc.poll() is None:
            with contextlib.suppress(Exception):
                self.abort()

    # -- for subclasses --------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EncodeError(f"cannot write to {self.path}: the video writer is already closed")

    def _input_args(self, demuxer: list[str], width: int, height: int, *, codec: str,
                    fourcc: bytes | None = None) -> list[str]:
        """How ffmpeg reads stdin: ``demuxer`` at the constant rate, or a timestamped Matroska stream.

        :param demuxer: the constant-rate input (``-f rawvideo -pix_fmt .. -s ..`` or ``-f mjpeg``).
        :param width: coded columns of the frames sent.
        :param height: coded rows.
        :param codec: their Matroska codec ID, should the clip have per-frame times.
        :param fourcc: the raw layout (:data:`~dcmexport.encode.matroska.RAW_FOURCC`) for ``V_UNCOMPRESSED``.
        """
        if self.timestamps is None:
            # -r, not a demuxer's -framerate, which keeps only ~4 digits (30.0003 -> 30).
            return [*demuxer, "-r", str(fps_fraction(self.fps)), "-i", "pipe:0"]
        self._mkv_header = stream_header(width, height, codec=codec, fourcc=fourcc)
        return ["-f", "matroska", "-i", "pipe:0"]

    def _send_frame(self, *chunks: bytes | memoryview) -> None:
        """Send one frame's bytes: as they are, or wrapped in a block at its timestamp (variable rate)."""
        if self.timestamps is None:
            self._send(*chunks)
            return
        index = self.frames_written
        if index >= len(self.timestamps):
            raise EncodeError(f"frame {index} has no timestamp: the clip was planned with {len(self.timestamps)} "
                              "frames")
        size = sum(len(c) if isinstance(c, bytes) else c.nbytes for c in chunks)
        last = index == len(self.timestamps) - 1
        duration = round(TICKS_PER_SECOND / self.fps) if last else None
        before, after = frame_wrapping(round(self.timestamps[index] * TICKS_PER_SECOND), size, duration)
        if index == 0 and self._mkv_header is not None:
            before = self._mkv_header + before
        self._send(before, *chunks, after)

    def _output_args(self, colour_tags: Sequence[str], width: int, height: int) -> list[str]:
        """Encoder and its settings, the colour tags of the conversion applied, no metadata, muxer and output."""
        args = [*self._codec.args]
        if self.crf is not None:
            args += ["-crf", str(self.crf), *colour_tags]
        if self.fmt is OutputFormat.MP4:
            args += x264_level_args(width, height, self.fastest_fps, self.crf)
        elif self.fmt is OutputFormat.WEBP:
            args += ["-lossless", "1"] if self.lossless else ["-quality", str(self.quality)]
        args += _loop_args(self.fmt, self.loop)
        if self.timestamps is not None:
            # Each frame keeps its own presentation time (the demuxer's microseconds), none is dropped or added.
            args += ["-fps_mode", "passthrough", "-enc_time_base", "demux"]
        return [
            *args,
            "-map_metadata", "-1", "-metadata:s:v:0", "encoder=",
            "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-f", self._codec.muxer,
            # "file:" stops ffmpeg reading a colon in the path as a protocol name.
            "file:" + str(self.path),
        ]  # fmt: skip

    def _launch(self, cmd: list[str]) -> None:
        """Start ffmpeg with ``cmd`` and the stderr drain.

        In a critical section: the ``--timeout`` alarm must not land inside Popen (ffmpeg
        would run on unowned and write its file after the cleanup) or inside the
        thread's start (it could not be joined: RuntimeError).
        """
        with critical_section():
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    # Own session: Ctrl-C reaches Python, whose abort() stops ffmpeg,
                    # instead of killing ffmpeg under a half-written pipe.
                    start_new_session=sys.platform != "win32",
                )
            except OSError as exc:
                raise EncodeError(
                    f"cannot start ffmpeg ({exc.strerror or exc}); reinstall imageio-ffmpeg"
                ) from exc
            # The thread gets the pipe and the deque, not self: holding the writer
            # would keep an abandoned writer alive (and ffmpeg with it).
            self._stderr_thread = threading.Thread(
                target=_drain, args=(self._proc.stderr, self._stderr_tail), name="ffmpeg-stderr", daemon=True
            )
            self._stderr_thread.start()

    def _send(self, *chunks: bytes | memoryview) -> None:
        """Write to ffmpeg's stdin; if ffmpeg has exited, raise why."""
        assert self._proc is not None and self._proc.stdin is not None
        try:
            for chunk in chunks:
                self._proc.stdin.write(chunk)
        except (BrokenPipeError, OSError, ValueError):
            # ffmpeg has exited (bad parameters, disk full, damaged input): let it
            # finish printing the reason before it is reaped.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self.abort()
            raise self._failure() from None

    def _check_output(self) -> None:
        """Called after ffmpeg exited successfully; subclasses verify what it wrote."""

    def _join_stderr(self) -> None:
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=10)
            self._stderr_thread = None

    def _failure(self) -> DcmexportError:
        code = self._proc.returncode if self._proc is not None else None
        detail = last_meaningful_line(self._stderr_tail) or f"exit status {code}"
        return EncodeError(f"ffmpeg could not encode {self.fmt.value} to {self.path}: {detail}")



def _drain(stream: IO[bytes] | None, tail: collections.deque[str]) -> None:
    """Read ffmpeg's stderr continuously so it never blocks on a full pipe; keep the tail only."""
    if stream is None:
        return
    with stream:
        for raw in stream:
            tail.append(raw.decode("utf-8", "replace").rstrip())



def last_meaningful_line(lines: Iterable[str]) -> str:
    """The last ffmpeg stderr line that names a cause, without ``[component @ 0x..]`` prefixes.

    ffmpeg ends a failure with generic lines ("Conversion failed!", "Task
    finished with error code ..."); the cause is the last line before those.
    """
    kept = [_PREFIX.sub("", line).strip() for line in lines]
    kept = [line for line in kept if line and not _NOISE.search(line)]
    if kept:
        return kept[-1][:300]
    return ""



def fps_fraction(fps: float) -> Fraction:
    """``fps`` as a fraction for ffmpeg's ``-r`` (it becomes the encoder time base).

    30000/1001, 25/2, 1000/33 and 1000/FrameTime for any Frame Time below 100 ms
    with up to 3 decimals (1000/33.333 = 1000000/33333) stay exact; any other
    rate is within 1e-5 fps (closest fraction with a denominator <= 100000).
    """
    fraction = Fraction(fps).limit_denominator(100_000)
    if fraction <= 0:  # cannot happen for validated rates (> 0), but never pass 0 to ffmpeg
        fraction = Fraction(1, 100_000)
    return fraction



def _loop_args(fmt: OutputFormat, plays: int) -> list[str]:
    """Muxer arguments for ``plays`` plays (0: forever) of an animated image; none for video."""
    if fmt is OutputFormat.GIF:
        return ["-loop", str(0 if plays == 0 else -1 if plays == 1 else plays - 1)]
    if fmt is OutputFormat.WEBP:
        return ["-loop", str(plays)]
    if fmt is OutputFormat.APNG:
        return ["-plays", str(plays)]
    return []


def _check_timestamps(timestamps: Sequence[float] | None, fps: float) -> tuple[float, ...] | None:
    """Per-frame start times in seconds: finite, from 0, strictly increasing by at least one tick."""
    if timestamps is None:
        return None
    times = tuple(float(t) for t in timestamps)
    tick = 1 / TICKS_PER_SECOND
    if not times or times[0] != 0 or not all(math.isfinite(t) for t in times) or any(
            b - a < tick for a, b in itertools.pairwise(times)):
        raise UsageError("frame timestamps must start at 0 and increase by at least 1 microsecond per frame")
    return times
