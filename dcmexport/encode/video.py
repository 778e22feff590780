"""Video backend: MP4 (H.264), WebM (VP9) and GIF through the ffmpeg binary of imageio-ffmpeg.

Frames are streamed one at a time into ffmpeg's stdin, as raw bytes
(:class:`VideoWriter`) or as undecoded JPEG codestreams
(:class:`JpegStreamWriter`); nothing is buffered on our side and no temporary
image files are written, so memory does not grow with clip length.

Why not ``imageio_ffmpeg.write_frames`` itself: it lets ffmpeg's stderr go to
the user's terminal and never checks ffmpeg's exit status, so a failed encode
would look like a success. We run the *same* binary
(``imageio_ffmpeg.get_ffmpeg_exe()``) with the same raw-video pipe, but keep
stderr (bounded) and the exit code, which :meth:`VideoWriter.close` turns into
an :class:`EncodeError`.

Colour: display frames are full-range (0..255) grey or RGB. For MP4/WebM they
are converted explicitly to BT.709 limited-range ("tv") YUV 4:2:0 and the
stream is tagged the same way (matrix, primaries, transfer, range), so players
invert exactly the conversion we applied and grey levels survive to within
rounding. GIF keeps full-range: grey frames go to the GIF encoder as 8-bit
grey (exact), RGB frames get a 256-colour palette computed per frame (a frame
with <= 256 colours comes back within 1 level: palettegen averages in OkLab;
richer frames are Bayer-dithered). Per-frame palettes cost time on noisy RGB
content (measured ~0.13 s per 256x256 frame of pure noise, ~17 ms for a grey
image with a colour box).

Grey frames for MP4/WebM skip ffmpeg's scaler: the writer maps each level to
its BT.709 limited-range luma itself (``Y = round(16 + 219 * v / 255)``, one
256-entry table, exact rounding) and sends ready ``yuv420p`` with neutral chroma
(128), so ffmpeg only encodes. swscale's fixed-point conversion gave the same
luma except 3 of 256 levels one step higher (its rounding of x.494), and cost
~15 % of ffmpeg's CPU time on a 512x512 grey clip (measured: 1,000 frames,
12.9 s vs 10.9 s wall with the filter chain vs without), time that Python and
x264 then competed for on two cores.

Size: H.264 and VP9 in 4:2:0 need even dimensions; odd ones are padded with
black on the right/bottom, never cropped or scaled. GIF keeps the exact size.

GIF timing: frame delays are stored in 1/100 s. ffmpeg rounds each frame's
timestamp (not each delay) to 10 ms, so individual delays alternate (e.g.
3, 3, 4 cs at 30.3 fps) while the clip's total duration stays within 10 ms
of the requested one, however long the clip (errors do not accumulate). Browsers
play delays below 20 ms as 100 ms, so a GIF plays at most 50 fps (the registry's
``max_fps``): the pipeline lowers a faster rate to 50, keeps every frame and says
so; this writer refuses a faster rate rather than drop frames.

JPEG passthrough (:class:`JpegStreamWriter`): for a clip of 8-bit JPEG frames
that needs nothing but masks and resizing, the orchestrator sends the frames
themselves, undecoded, as an MJPEG stream; ffmpeg decodes, masks (``drawbox``),
scales and encodes in C. Why: the decode path spends ~1 CPU-s per 120 frames
of 480x640 in Python (Pillow decode, YCbCr -> RGB) and then pipes RGB that
ffmpeg converts back to YUV, CPU that competes with x264 on two cores. Measured
on ``color3d_jpeg_baseline.dcm`` with its ultrasound keep region (4 boxes),
ffmpeg alone, 7 interleaved runs: 3.61 CPU-s against 3.46 for ffmpeg simply
transcoding the same JPEG stream (the floor), i.e. the masks and the extra
range pass cost ~4 %. Colour: JPEG YCbCr is BT.601 full range; it is
converted to limited range and *kept* BT.601, and the stream is tagged so
(matrix smpte170m, range tv; primaries and transfer stay BT.709/sRGB as on
the RGB path, since the RGB content is the same). Converting the matrix to
BT.709 in swscale as well cost 0.4 CPU-s more per 120 frames (4.16 against
3.76 CPU-s, the floor 3.51) for no visible gain: players apply whichever
matrix the stream declares. Decoding is strict (``-xerror -err_detect
explode``): by default ffmpeg conceals damaged JPEG data (a truncated or
bit-flipped frame still "decoded", exit status 0, frame count intact).

Metadata: ``-map_metadata -1``, bit-exact muxing (no creation_time, no
"Lavf<version>"/"Lavc" encoder strings), the per-stream encoder tag emptied,
and for H.264 the SEI NAL units (where x264 writes its version and options)
removed. Matroska requires MuxingApp/WritingApp: in bit-exact mode ffmpeg
writes the bare string "Lavf" there, with no version.
"""

from __future__ import annotations

import collections
import contextlib
import math
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import imageio_ffmpeg
import numpy as np

from dcmexport.encode.ffmpeg import last_meaningful_line
from dcmexport.encode.formats import OutputFormat
from dcmexport.encode.jpeg_filters import jpeg_filter_chain
from dcmexport.encode.probe import probe_video
from dcmexport.errors import DcmexportError, EncodeError, InputError, UnsupportedError, UsageError
from dcmexport.interrupts import critical_section

# BT.709 limited range, applied and declared (see module docstring).
_COLOUR_TAGS = (
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
)  # fmt: skip
_TO_YUV = (
    "scale=in_range=pc:out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,"
    "format=yuv420p,"
    "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"
)
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
class _Codec:
    """How one output format is produced: muxer, encoder arguments and whether it needs even sizes."""

    muxer: str
    args: tuple[str, ...]
    yuv420: bool


_CODECS: dict[OutputFormat, _Codec] = {
    # libx264 keeps its default preset and threads; removing SEI NAL units
    # (type 6) drops the banner where x264 writes its version and options.
    OutputFormat.MP4: _Codec("mp4", _X264_ARGS, yuv420=True),
    # Constant-quality VP9 (-b:v 0 with -crf). "good" + cpu-used 4 + row-mt is
    # about 2x faster than ffmpeg's defaults (cpu-used 1), for ~17% larger files
    # (measured: 60 frames of 256x256 speckle, 0.27 s vs 0.50 s).
    OutputFormat.WEBM: _Codec("webm", _VP9_ARGS, yuv420=True),
    # GIF: full range, odd sizes allowed, loop forever (as clips are viewed).
    OutputFormat.GIF: _Codec("gif", ("-c:v", "gif", "-loop", "0"), yuv420=False),
}

#: Full-range grey level -> BT.709 limited-range luma (ITU-R BT.709 item 6.10: Y' = 219 E' + 16).
_GREY_TO_LUMA = np.rint(16 + 219 * np.arange(256, dtype=np.float64) / 255).astype(np.uint8)
#: Tags the raw yuv420p input of the grey path so the encoder writes the same VUI as the RGB path.
_TAG_YUV = "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"

# JPEG passthrough (see the module docstring): YCbCr stays BT.601 as decoded, range becomes limited.
_BT601_TAGS = (
    "-colorspace", "smpte170m", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
)  # fmt: skip
#: An ffmpeg stderr line from its JPEG decoder (``[mjpeg @ 0x..]``, ``[dec:mjpeg @ 0x..]``).
_DECODER_LINE = re.compile(r"\[(dec:)?mjpeg @")


class _FfmpegWriter:
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

    def __init__(self, path: Path, fmt: OutputFormat, *, fps: float, crf: int | None = None) -> None:
        codec = _CODECS.get(fmt)
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
        if spec.max_fps is not None and rate > spec.max_fps:
            # The pipeline lowers the rate (every frame kept) and says so; never drop frames here.
            raise UsageError(f"{fmt.value} plays at most {spec.max_fps:g} fps; got {rate:g}")
        self.path = Path(path)
        self.fmt = fmt
        self.fps = rate
        self.crf = spec.default_crf if crf is None else crf
        self.frames_written = 0
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

    def _output_args(self, colour_tags: Sequence[str]) -> list[str]:
        """Encoder, CRF, the colour tags of the conversion applied, no metadata, muxer and output file."""
        args = [*self._codec.args]
        if self.crf is not None:
            args += ["-crf", str(self.crf), *colour_tags]
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


class VideoWriter(_FfmpegWriter):
    """Stream display frames into an MP4, WebM or GIF file, one at a time.

    Use as a context manager (closes on success, aborts on an exception) or call
    :meth:`close` / :meth:`abort` yourself. ffmpeg starts with the first frame,
    which fixes the size and colour of the clip.

    Attributes:
        frames_written: frames accepted so far.
        fps: the playback rate requested.
    """

    def __init__(self, path: Path, fmt: OutputFormat, *, fps: float, crf: int | None = None) -> None:
        """Prepare a writer; nothing is started or created until the first frame.

        :param path: destination; written exactly there whatever its suffix (the
            format comes from ``fmt``).
        :param fmt: MP4, WEBM or GIF.
        :param fps: frames per second (see :mod:`dcmexport.render.timing`); must be finite and > 0.
        :param crf: constant-rate factor (MP4 0..51, default 18; WebM 0..63,
            default 32); ignored for GIF.
        :raises UnsupportedError: ``fmt`` is not a video format.
        :raises UsageError: ``fps`` or ``crf`` out of range.
        """
        super().__init__(path, fmt, fps=fps, crf=crf)
        self._shape: tuple[int, ...] | None = None
        # Grey frames for a 4:2:0 codec are converted here (see module docstring):
        # the padded frame size and the constant neutral chroma planes, set at start.
        self._grey_yuv: tuple[int, int, bytes] | None = None

    def write(self, frame: np.ndarray) -> None:
        """Append one frame.

        :param frame: ``(H, W)`` uint8 grey or ``(H, W, 3)`` uint8 RGB, full range.
        :raises EncodeError: wrong dtype/shape, a frame unlike the first, the
            writer already closed, or ffmpeg stopped (its last error line is quoted).
        """
        self._check_open()
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise EncodeError(f"video frames must be uint8 arrays (render with --bit-depth 8), got {kind}")
        if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)) or 0 in frame.shape[:2]:
            raise EncodeError(f"video frames must be (H, W) grey or (H, W, 3) RGB, got shape {frame.shape}")
        if self._shape is None:
            self._start(frame.shape)
        elif frame.shape != self._shape:
            raise EncodeError(
                f"frame {self.frames_written} has shape {frame.shape}, but the clip started with {self._shape}; "
                "all frames of a clip must share size and colour"
            )
        if self._grey_yuv is not None:
            self._send(*self._grey_yuv_planes(frame))
        else:
            self._send(np.ascontiguousarray(frame).data)
        self.frames_written += 1

    def _grey_yuv_planes(self, frame: np.ndarray) -> tuple[memoryview, bytes]:
        """One grey frame as yuv420p: limited-range luma (padded black to even size), neutral chroma."""
        assert self._grey_yuv is not None
        even_h, even_w, chroma = self._grey_yuv
        luma = np.take(_GREY_TO_LUMA, frame)
        if luma.shape != (even_h, even_w):
            padded = np.full((even_h, even_w), _GREY_TO_LUMA[0], np.uint8)
            padded[: luma.shape[0], : luma.shape[1]] = luma
            luma = padded
        return luma.data, chroma

    def _start(self, shape: tuple[int, ...]) -> None:
        """Launch ffmpeg for frames of ``shape``."""
        height, width = shape[0], shape[1]
        pix_fmt_in = "gray" if len(shape) == 2 else "rgb24"
        size, vf = f"{width}x{height}", self._filters(width, height, pix_fmt_in)
        if pix_fmt_in == "gray" and self._codec.yuv420:
            even_w, even_h = width + width % 2, height + height % 2
            self._grey_yuv = (even_h, even_w, b"\x80" * (2 * (even_w // 2) * (even_h // 2)))
            pix_fmt_in, size, vf = "yuv420p", f"{even_w}x{even_h}", _TAG_YUV
        self._launch([
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", pix_fmt_in, "-s", size,
            "-r", str(_fps_fraction(self.fps)),
            "-i", "pipe:0",
            "-an", "-sn", "-dn",
            "-vf", vf,
            *self._output_args(_COLOUR_TAGS),
        ])  # fmt: skip
        self._shape = shape

    def _filters(self, width: int, height: int, pix_fmt_in: str) -> str:
        """The ffmpeg filter chain: pad to even + explicit colour conversion, or GIF palette handling."""
        if self._codec.yuv420:
            even_w, even_h = width + width % 2, height + height % 2
            if (even_w, even_h) == (width, height):
                return _TO_YUV  # a no-op pad still copies every frame
            # Pad in the input's full-range space (black = 0), then convert.
            return f"pad={even_w}:{even_h}:0:0:color=black,{_TO_YUV}"
        if pix_fmt_in == "gray":
            return "format=gray"  # the GIF encoder takes 8-bit grey as-is: exact levels
        # One palette per frame (stats_mode=single, new=1) keeps the filter
        # streaming: a whole-clip palette would hold every frame until the end.
        return (
            "split[a][b];[a]palettegen=stats_mode=single:max_colors=256:reserve_transparent=0[p];"
            "[b][p]paletteuse=new=1:dither=bayer:bayer_scale=5"
        )


class JpegStreamWriter(_FfmpegWriter):
    """Stream a clip's JPEG frames, undecoded, into an MP4 or WebM: ffmpeg decodes, masks, scales and encodes.

    The JPEG passthrough (see the module docstring for why and what it costs).
    Each :meth:`write` takes one whole JPEG codestream (SOI .. EOI); ffmpeg
    reads them as an MJPEG elementary stream. Decoding is strict
    (``-err_detect explode -xerror``): a damaged frame stops ffmpeg and
    :meth:`close` or :meth:`write` raises, instead of ffmpeg concealing the
    damage. After a successful close the file's frame count must equal the
    number of frames written (``-fps_mode passthrough``: a dropped frame is
    never filled by a duplicate).

    Attributes:
        frames_written: JPEG frames sent so far.
        fps: the playback rate requested.
    """

    def __init__(
        self,
        path: Path,
        fmt: OutputFormat,
        *,
        fps: float,
        crf: int | None = None,
        width: int,
        height: int,
        chroma_subsampling: tuple[int, int] | None,
        boxes: Sequence[tuple[int, int, int, int]] = (),
        out_size: tuple[int, int] | None = None,
    ) -> None:
        """Prepare a writer; ffmpeg starts with the first frame.

        :param path: destination, as for :class:`VideoWriter`.
        :param fmt: MP4 or WEBM.
        :param fps: frames per second; must be finite and > 0.
        :param crf: as for :class:`VideoWriter`.
        :param width: stored columns of every frame (the JPEG header's X).
        :param height: stored rows (Y).
        :param chroma_subsampling: luma samples per chroma sample (horizontal,
            vertical) of YCbCr frames; None for one-component (grey) frames.
        :param boxes: ``(x0, y0, x1, y1)`` rectangles to paint black, in stored
            pixels, x1/y1 exclusive; align them to the chroma grid first.
        :param out_size: ``(rows, cols)`` to resample to (Lanczos), or None.
        :raises UnsupportedError: GIF or a chroma layout ffmpeg has no planar format for.
        :raises UsageError: ``fps`` or ``crf`` out of range.
        """
        super().__init__(path, fmt, fps=fps, crf=crf)
        if not self._codec.yuv420:
            raise UnsupportedError(f"the JPEG passthrough writes MP4 and WebM, not {fmt.value}")
        self._vf = jpeg_filter_chain(width, height, chroma_subsampling, boxes, out_size)

    def write(self, jpeg: bytes) -> None:
        """Append one frame: a complete JPEG codestream.

        :raises EncodeError: the writer is closed, or ffmpeg stopped for an encoding reason.
        :raises InputError: ffmpeg's JPEG decoder found damaged data (nothing is written).
        """
        self._check_open()
        if self._proc is None:
            self._launch([
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-hide_banner", "-nostats", "-loglevel", "error", "-y",
                # Fail on the first decoding error instead of concealing it.
                "-xerror", "-err_detect", "explode",
                # Geometry is the stored one: masks are placed in stored pixels.
                "-noautorotate",
                # -r, not the demuxer's -framerate, which keeps only ~4 digits (30.0003 -> 30).
                "-f", "mjpeg", "-r", str(_fps_fraction(self.fps)),
                "-i", "pipe:0",
                "-an", "-sn", "-dn",
                "-fps_mode", "passthrough",
                "-vf", self._vf,
                *self._output_args(_BT601_TAGS),
            ])  # fmt: skip
        self._send(jpeg)
        self.frames_written += 1

    def _check_output(self) -> None:
        frames = probe_video(self.path).frames
        if frames != self.frames_written:
            raise EncodeError(
                f"ffmpeg wrote {frames} frames for the {self.frames_written} JPEG frames sent to {self.path}; "
                "a frame was dropped or duplicated"
            )

    def _failure(self) -> DcmexportError:
        if any(_DECODER_LINE.search(line) for line in self._stderr_tail):
            detail = last_meaningful_line(self._stderr_tail) or "invalid data"
            return InputError(
                f"JPEG frame data in (7FE0,0010) PixelData is damaged (ffmpeg's decoder: {detail}); nothing written"
            )
        return super()._failure()


def _drain(stream: IO[bytes] | None, tail: collections.deque[str]) -> None:
    """Read ffmpeg's stderr continuously so it never blocks on a full pipe; keep the tail only."""
    if stream is None:
        return
    with stream:
        for raw in stream:
            tail.append(raw.decode("utf-8", "replace").rstrip())


def _fps_fraction(fps: float) -> Fraction:
    """``fps`` as a fraction for ffmpeg's ``-r`` (it becomes the encoder time base).

    30000/1001, 25/2, 1000/33 and 1000/FrameTime for any Frame Time below 100 ms
    with up to 3 decimals (1000/33.333 = 1000000/33333) stay exact; any other
    rate is within 1e-5 fps (closest fraction with a denominator <= 100000).
    """
    fraction = Fraction(fps).limit_denominator(100_000)
    if fraction <= 0:  # cannot happen for validated rates (> 0), but never pass 0 to ffmpeg
        fraction = Fraction(1, 100_000)
    return fraction
