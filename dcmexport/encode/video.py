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
richer frames are mapped to the nearest palette colour, not dithered: measured
on three real ultrasound clips, per-frame palettes without dithering gave the
best PSNR against the rendered frames, or within 0.1 dB of a whole-clip
palette, which would need every frame twice; Bayer dithering cost up to 22 dB,
see bench/README.md, "GIF palettes"). Per-frame palettes cost time on noisy RGB
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

import re
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from dcmexport.encode.ffmpeg import FfmpegWriter, fps_fraction, last_meaningful_line
from dcmexport.encode.formats import OutputFormat
from dcmexport.encode.jpeg_filters import JPEG_CHROMA_SUBSAMPLINGS, jpeg_filter_chain
from dcmexport.encode.matroska import RAW_FOURCC
from dcmexport.encode.probe import probe_video
from dcmexport.errors import DcmexportError, EncodeError, InputError, UnsupportedError

__all__ = ["JPEG_CHROMA_SUBSAMPLINGS", "JpegStreamWriter", "VideoWriter", "fps_fraction", "jpeg_filter_chain",
           "last_meaningful_line"]

# BT.709 limited range, applied and declared (see module docstring).
_COLOUR_TAGS = (
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
)  # fmt: skip
_TO_YUV = (
    "scale=in_range=pc:out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,"
    "format=yuv420p,"
    "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"
)

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


class VideoWriter(FfmpegWriter):
    """Stream display frames into a clip (MP4, WebM, GIF, animated WebP, APNG), one at a time.

    Use as a context manager (closes on success, aborts on an exception) or call
    :meth:`close` / :meth:`abort` yourself. ffmpeg starts with the first frame,
    which fixes the size and colour of the clip.

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
        """Prepare a writer; nothing is started or created until the first frame.

        :param path: destination; written exactly there whatever its suffix (the
            format comes from ``fmt``).
        :param fmt: a clip format of the registry (MP4, WebM, GIF, WebP, APNG).
        :param fps: frames per second (see :mod:`dcmexport.render.timing`); must be finite and > 0.
            With ``timestamps``, the mean rate, which sets how long the last frame lasts.
        :param crf: constant-rate factor (MP4 0..51, default 18; WebM 0..63,
            default 32); ignored for the other formats.
        :param timestamps: each frame's presentation time in seconds from the first
            (0, strictly increasing): a variable-rate clip; None for a constant rate.
        :param loop: number of plays of an animated image (GIF, WebP, APNG); 0 forever.
        :param quality: lossy WebP quality 1..100 (default 95).
        :param lossless: lossless WebP.
        :raises UnsupportedError: ``fmt`` is not a video format.
        :raises UsageError: ``fps``, ``crf``, ``timestamps`` or ``loop`` out of range.
        """
        super().__init__(path, fmt, fps=fps, crf=crf, timestamps=timestamps, loop=loop, quality=quality,
                         lossless=lossless)
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
            self._send_frame(*self._grey_yuv_planes(frame))
        else:
            self._send_frame(np.ascontiguousarray(frame).data)
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
        coded_w, coded_h = (int(n) for n in size.split("x"))
        self._launch([
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            *self._input_args(["-f", "rawvideo", "-pix_fmt", pix_fmt_in, "-s", size], coded_w, coded_h,
                              codec="V_UNCOMPRESSED", fourcc=RAW_FOURCC[pix_fmt_in]),
            "-an", "-sn", "-dn",
            "-vf", vf,
            *self._output_args(_COLOUR_TAGS, coded_w + coded_w % 2, coded_h + coded_h % 2),
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
        if self.fmt is not OutputFormat.GIF:
            return "format=bgra" if self.fmt is OutputFormat.WEBP else f"format={pix_fmt_in}"
        if pix_fmt_in == "gray":
            return "format=gray"  # the GIF encoder takes 8-bit grey as-is: exact levels
        # One palette per frame (stats_mode=single, new=1) keeps the filter
        # streaming: a whole-clip palette would hold every frame until the end.
        return (
            "split[a][b];[a]palettegen=stats_mode=single:max_colors=256:reserve_transparent=0[p];"
            "[b][p]paletteuse=new=1:dither=none"
        )


class JpegStreamWriter(FfmpegWriter):
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
        timestamps: Sequence[float] | None = None,
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
        :param timestamps: per-frame presentation times in seconds, as for :class:`VideoWriter`.
        :raises UnsupportedError: not MP4 or WebM, or a chroma layout ffmpeg has no planar format for.
        :raises UsageError: ``fps``, ``crf`` or ``timestamps`` out of range.
        """
        super().__init__(path, fmt, fps=fps, crf=crf, timestamps=timestamps)
        self._size = (width, height)
        out_h, out_w = out_size if out_size is not None else (height, width)
        self._out_size = (out_w + out_w % 2, out_h + out_h % 2)
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
                *self._input_args(["-f", "mjpeg"], *self._size, codec="V_MJPEG"),
                "-an", "-sn", "-dn",
                *(["-fps_mode", "passthrough"] if self.timestamps is None else []),  # else in the output args
                "-vf", self._vf,
                *self._output_args(_BT601_TAGS, *self._out_size),
            ])  # fmt: skip
        self._send_frame(jpeg)
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
