"""The orchestrator: one object through read -> deidentify -> render -> mask -> encode.

This module knows the order of the stages and nothing of their internals. It
returns results and never prints: the CLI (or a notebook) reports them.
Every failure becomes an :class:`ExportResult` with a PHI-free reason, so a
batch goes on with the rest (fail closed per object).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from math import lcm
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydicom.dataset import Dataset

from dcmexport._version import __version__
from dcmexport.atomic import (
    atomic_output,
    deferred_commits,
    fsync_directory,
    output_exists,
    remove_stale_temporaries,
)
from dcmexport.burnedin import apply_plan_to_dataset, may_carry_burned_in, plan_masks
from dcmexport.deid import Deidentifier, DeidOptions, Key
from dcmexport.encode.dicom import write_part10
from dcmexport.encode.still import write_still
from dcmexport.errors import (
    BurnedInError,
    DcmexportError,
    EncodeError,
    InputError,
    TimeLimitError,
    UnsupportedError,
    UsageError,
)
from dcmexport.manifest import Manifest
from dcmexport.mask import Box, MaskPlan, align_box_outward
from dcmexport.options import (
    EncodeOptions,
    ExportOptions,
    Frames,
    FrameSelection,
    MaskOptions,
    OcrCheck,
    OutputFormat,
    RenderOptions,
    parse_frames,
    parse_mask,
    parse_window,
)
from dcmexport.read import (
    check_pixel_geometry,
    has_pixels,
    iter_frames,
    iter_jpeg_frames,
    jpeg_header_from_dataset,
    quiet_pydicom,
    read_dataset,
    read_small_file,
    sha256_file,
)
from dcmexport.read.jpeg import JpegHeader
from dcmexport.render import (
    FrameRenderers,
    PixelSpacing,
    apply_aspect,
    aspect_size,
    pixel_spacing_from_dataset,
)
from dcmexport.render.timing import frame_rate_from_dataset
from dcmexport.results import (
    FAILED,
    SKIPPED,
    STATUS_BY_REASON,
    WRITTEN,
    BatchResult,
    ExportResult,
)
from dcmexport.series import apply_montage, geometry_mismatch, group_series
from dcmexport.sources import InputItem, iter_inputs
from dcmexport.textdetect import find_text_like_rows

log = logging.getLogger("dcmexport")

def output_stem(new_sop_instance_uid: str, input_sha256: str) -> str:
    """A file name stem made only of non-PHI material.

    The digest covers the *remapped* SOP Instance UID (already a keyed pseudonym)
    and the input bytes' SHA-256, so two encodings of one instance never collide
    and a re-run with the same key names the same output again (resumable).
    """
    digest = hashlib.sha256(f"{new_sop_instance_uid}|{input_sha256}".encode()).hexdigest()
    return digest[:20]


def resolve_format(fmt: OutputFormat, frames: int) -> OutputFormat:
    """AUTO becomes PNG for single-frame objects and MP4 for multi-frame ones."""
    if fmt is OutputFormat.AUTO:
        return OutputFormat.MP4 if frames > 1 else OutputFormat.PNG
    return fmt


def _still_indices(selection: Frames, frames: int) -> list[int]:
    if selection.selection is FrameSelection.ALL:
        return list(range(frames))
    if selection.selection is FrameSelection.INDEX:
        if selection.index >= frames:
            raise UsageError(
                f"--frames {selection.index} is out of range: (0028,0008) NumberOfFrames is {frames} (0-based)"
            )
        return [selection.index]
    return [0]


class _Pipeline:
    """Per-object frame transform: render -> mask -> (verify) -> aspect; fixed geometry.

    Verification sees the masked frame in stored-pixel geometry: Tesseract on the
    chosen frames when ``--ocr-check`` is on; otherwise the cheap text-like-row
    detector on the first frame of objects that typically carry burned-in text.
    Only counts are reported, never the words read (they may be PHI).
    """

    def __init__(
        self,
        renderers: FrameRenderers,
        plan: MaskPlan,
        out_size: tuple[int, int] | None,
        *,
        ocr: OcrCheck = OcrCheck.OFF,
        ocr_frames: frozenset[int] = frozenset(),
        detect_frames: frozenset[int] = frozenset(),
        spacing: PixelSpacing | None = None,
        stored_shape: tuple[int, int] | None = None,
    ):
        self.renderers = renderers
        self.spacing = spacing
        self.stored_shape = stored_shape
        self.plan = plan
        self.out_size = out_size
        self.ocr = ocr
        self.ocr_frames = ocr_frames
        self.detect_frames = detect_frames
        self.ocr_hits: dict[int, int] = {}
        self.suspicious_frames: list[int] = []

    def __call__(self, frame: np.ndarray, index: int = 0, *, number: int | None = None) -> np.ndarray:
        image = self.render_masked(frame, index, number=number)
        if self.out_size is not None:
            image = apply_aspect(image, *self.out_size)
        return image

    def render_masked(self, frame: np.ndarray, index: int = 0, *, number: int | None = None) -> np.ndarray:
        """Render and mask one stored frame, run the checks planned for ``index``; stored geometry.

        ``number`` is the frame's 0-based number in the object, whose rescale and
        window apply (enhanced objects); it defaults to ``index``, the position
        among the frames exported, which the checks are planned by.
        """
        image = self.renderers.for_frame(index if number is None else number).render(frame)
        if not self.plan.is_empty:
            image = self.plan.apply(image, fill=0)
        if index in self.ocr_frames:
            self._ocr(image, index)
        elif index in self.detect_frames and find_text_like_rows(image, self.plan.keep):
            self.suspicious_frames.append(index)
        return image

    def _ocr(self, image: np.ndarray, index: int) -> None:
        from dcmexport.ocr import read_text

        words = read_text(image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8))
        if words:
            self.ocr_hits[index] = len(words)
            if self.ocr is OcrCheck.STRICT:
                raise BurnedInError(
                    f"--ocr-check strict: Tesseract still reads {len(words)} word(s) on frame {index} after masking; "
                    "add --mask X,Y,W,H over the text, or export with --ocr-check report"
                )


def _cap_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """Scale (rows, cols) down so the long side is at most ``max_side``, keeping the aspect ratio."""
    if not max_side or max(size) <= max_side:
        return size
    factor = max_side / max(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def _scale_box(
    box: tuple[int, int, int, int], rows: int, cols: int, out_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Map a stored-pixel box to output pixels after aspect resampling."""
    sy, sx = out_size[0] / rows, out_size[1] / cols
    x0, y0, x1, y1 = box
    return (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy))


def _dpi(pipeline: _Pipeline, out_shape: tuple[int, ...]) -> tuple[float, float] | None:
    """Dots per inch of an output image whose stored pixels have a known physical spacing (mm).

    Computed from the physical extent of the stored image and the output size,
    so aspect correction and --max-side are accounted for.
    """
    spacing = pipeline.spacing
    if spacing is None or not spacing.physical or pipeline.stored_shape is None:
        return None
    height_mm = pipeline.stored_shape[0] * spacing.row
    width_mm = pipeline.stored_shape[1] * spacing.column
    return (out_shape[1] * 25.4 / width_mm, out_shape[0] * 25.4 / height_mm)


def export_file(
    path: Path,
    options: ExportOptions,
    deidentifier: Deidentifier,
    *,
    on_frame: Callable[[], None] | None = None,
) -> ExportResult:
    """Export one DICOM object; never raises for an expected failure.

    Args:
        path: the input file (opened read-only).
        options: the run's options.
        deidentifier: the run's keyed de-identifier (same key -> same pseudonyms).
        on_frame: called after each frame is encoded (progress).

    Returns:
        The result; its ``status`` is written, skipped, failed or refused.
    """
    return _guarded(path, lambda result: _export_file(path, options, deidentifier, result, on_frame),
                    options.timeout)


class _Alarm(BaseException):
    """Raised by the SIGALRM handler. A BaseException, so that no ``except Exception`` in a
    stage or library can swallow it; cleanup in ``finally`` / ``except BaseException`` still runs."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitError in this (main) thread after ``seconds`` of wall-clock time.

    SIGALRM interrupts Python code between bytecodes; a long C call (a decoder)
    is interrupted when it returns. Off when ``seconds`` is None or outside the
    main thread (signals can only be handled there).
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _Alarm(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _guarded(path: Path, body: Callable[[ExportResult], None], timeout: float | None = None) -> ExportResult:
    """Run one object's work; turn every failure into a PHI-free result (fail closed per object)."""
    started = time.perf_counter()
    result = ExportResult(source=path, status=FAILED)
    try:
        try:
            with quiet_pydicom(), _time_limit(timeout):
                body(result)
        except _Alarm:
            if result.status != WRITTEN:  # the alarm may also fire just after the object completed
                raise TimeLimitError(f"took longer than --timeout {timeout:g} s; stopped, nothing written") from None
    except DcmexportError as exc:
        result.status = STATUS_BY_REASON.get(exc.reason, FAILED)
        result.reason = str(exc)
        result.error_kind = exc.reason
        result.outputs = []
    except MemoryError:
        result.reason = "out of memory while processing; try --frames first or a smaller object"
        result.error_kind = "memory"
        result.outputs = []
    except Exception as exc:  # a bug or an unforeseen library error: report the type only (its text may hold values)
        log.debug("unexpected error", exc_info=True)
        result.reason = f"internal error ({type(exc).__name__}); run with --debug for details"
        result.error_kind = "internal"
        result.outputs = []
    if result.input_sha256 is None and result.status != WRITTEN:
        with contextlib.suppress(OSError, DcmexportError):
            result.input_sha256 = sha256_file(path)  # lets the custodian match a failure without its path
    result.seconds = time.perf_counter() - started
    return result


def _plan_pixels(
    ds: Dataset, options: ExportOptions, fmt: OutputFormat, frames: int, result: ExportResult
) -> _Pipeline:
    """Plan everything the pixels need from the ORIGINAL header, before de-identification.

    None of it is PHI (geometry, LUTs, regions, timing), and mask presets match
    on attributes that de-identification removes. Raises BurnedInError when the
    object must be refused.
    """
    render_options = options.render
    if fmt.is_video or fmt is OutputFormat.JPG:
        render_options = replace(render_options, bit_depth=8)
    renderers = FrameRenderers(ds, render_options)
    if renderers.varies and not any(n.startswith("per-frame") for n in result.notes):
        result.notes.append(f"per-frame rescale/window from the functional groups ({renderers.distinct} distinct)")
    plan = plan_masks(ds, options.mask)  # raises BurnedInError when refusing
    spacing = pixel_spacing_from_dataset(ds) if render_options.aspect else None
    rows, cols = int(ds.Rows), int(ds.Columns)
    out_size = aspect_size(rows, cols, spacing) if spacing is not None else (rows, cols)
    out_size = _cap_size(out_size, render_options.max_side)
    ocr_frames: frozenset[int] = frozenset()
    if options.mask.ocr_check is not OcrCheck.OFF:
        from dcmexport.ocr import ocr_available, read_text

        if not ocr_available():
            read_text(np.zeros((8, 8), np.uint8))  # raises MissingDependencyError naming what to install
        n = frames if fmt.is_video or options.encode.frames.selection is FrameSelection.ALL else 1
        ocr_frames = frozenset(range(frames)) if options.mask.ocr_all_frames else frozenset({0, n // 2, n - 1})
    detect = frozenset({0}) if not ocr_frames and may_carry_burned_in(ds) else frozenset()
    if not plan.is_empty and not result.mask_boxes:
        result.notes.append(f"masked: {plan.describe()}")
        result.mask_boxes = [_scale_box(b, rows, cols, out_size) for b in plan.blank]
        if plan.keep is not None:
            result.keep_boxes = [_scale_box(b, rows, cols, out_size) for b in plan.keep]
    if out_size != (rows, cols) and not any(n.startswith("resized") for n in result.notes):
        why = f"aspect from {spacing.source}" if spacing is not None else ""
        if render_options.max_side and max(out_size) == render_options.max_side:
            why = f"{why}, " if why else ""
            why += f"long side capped at {render_options.max_side}"
        result.notes.append(f"resized {cols}x{rows} -> {out_size[1]}x{out_size[0]} ({why})")
    return _Pipeline(
        renderers,
        plan,
        out_size if out_size != (rows, cols) else None,
        ocr=options.mask.ocr_check,
        ocr_frames=ocr_frames,
        detect_frames=detect,
        spacing=spacing,
        stored_shape=(rows, cols),
    )


class _ClipWriter(Protocol):
    """What :func:`_encode_clip` needs of a writer (:class:`VideoWriter`, :class:`JpegStreamWriter`)."""

    frames_written: int

    def write(self, frame: Any) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def _encode_clip(
    final: Path,
    fmt: OutputFormat,
    fps: float,
    frames: Iterable[np.ndarray] | Iterable[bytes],
    expected: int,
    options: ExportOptions,
    on_frame: Callable[[], None] | None,
    open_writer: Callable[[Path], _ClipWriter] | None = None,
) -> None:
    """Stream already-transformed frames into one clip, atomically; check the frame count."""
    from dcmexport.encode.video import VideoWriter  # only clips need imageio-ffmpeg (start-up time, issue #7)

    with atomic_output(final, overwrite=options.overwrite, sync_dir=False) as tmp:
        # The JPEG passthrough brings its own writer, which takes JPEG codestreams.
        writer: _ClipWriter = open_writer(tmp) if open_writer else VideoWriter(tmp, fmt, fps=fps, crf=options.encode.crf)
        try:
            for image in frames:
                writer.write(image)
                if on_frame is not None:
                    on_frame()
            writer.close()
        except BaseException:
            writer.abort()
            raise
        if writer.frames_written != expected:
            raise EncodeError(f"decoded {writer.frames_written} frames but (0028,0008) NumberOfFrames is {expected}")


@dataclass(frozen=True)
class _Passthrough:
    """A clip whose JPEG frames go to ffmpeg undecoded: frame 0's header and the boxes ffmpeg paints black."""

    header: JpegHeader
    boxes: tuple[Box, ...]


#: Photometric Interpretations whose JPEG frames ffmpeg decodes to what the Python path renders.
_PASSTHROUGH_YBR = frozenset({"YBR_FULL", "YBR_FULL_422"})


def _passthrough_plan(path: Path, ds: Dataset, fmt: OutputFormat, pipeline: _Pipeline) -> _Passthrough | None:
    """Decide whether a clip's JPEG frames can skip decoding in Python (the JPEG passthrough).

    Why: for a JPEG cine, Python otherwise decodes every frame (Pillow), converts
    YCbCr to RGB, and pipes raw RGB to ffmpeg, which converts it back to YUV;
    on two cores that CPU competes with x264. Handing ffmpeg the JPEG frames
    lets it decode, mask and scale in C with no RGB round trip. Measured on
    ``color3d_jpeg_baseline.dcm`` (120 frames 480x640 4:2:2, one ultrasound
    region; bench/README.md): 5.11 -> 4.71 CPU-s and 1.69x -> 1.55x the time
    of ffmpeg transcoding the same JPEG stream alone (3.25 -> 3.00 s against
    1.93 s); ffmpeg's own share is within 4 % of that floor, the rest is
    process start-up.

    Eligible, all of: MP4 or WebM; no ``--ocr-check`` (OCR reads rendered
    frames); 8-bit JPEG baseline or extended sequential (.50, .51) whose frame 0
    is 8-bit precision, Rows x Columns, carries its own DQT/DHT tables, and is
    either YBR_FULL / YBR_FULL_422 with three YCbCr components (no Adobe RGB
    transform, no 'R','G','B' ids) in a 4:4:4/4:2:2/4:2:0/4:1:1/4:4:0 layout,
    or MONOCHROME2 with one component; unsigned 8-bit samples; and a renderer
    that returns stored 8-bit frames unchanged (no window, VOI LUT, rescale,
    palette or inversion to apply). Masks (blank boxes, keep regions as their
    complement) become ffmpeg boxes grown to the chroma grid and to 2 x 2 (the
    4:2:0 output), so no chroma sample is shared across a box edge. Aspect
    correction and ``--max-side`` become ffmpeg Lanczos scaling to the same
    size. The frame-0 text check still decodes frame 0 in Python.

    Returns:
        The plan, or None: the frames are decoded in Python as before.
    """
    if fmt not in (OutputFormat.MP4, OutputFormat.WEBM) or pipeline.ocr_frames:
        return None
    from dcmexport.encode.video import JPEG_CHROMA_SUBSAMPLINGS  # clips need the video backend anyway

    if pipeline.renderers.varies or not pipeline.renderers.first.passes_uint8_through():
        return None
    try:
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        samples = int(ds.get("SamplesPerPixel", 1))
        eight_bit = (int(ds.BitsAllocated), int(ds.get("BitsStored", 0)), int(ds.get("PixelRepresentation", 0)))
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return None
    if eight_bit != (8, 8, 0):
        return None
    header = jpeg_header_from_dataset(path, ds)
    if header is None or header.precision != 8 or (header.rows, header.columns) != (rows, cols) or not header.tables:
        return None
    if photometric in _PASSTHROUGH_YBR and samples == 3 and len(header.component_ids) == 3:
        chroma = header.chroma_subsampling
        if chroma is None or chroma not in JPEG_CHROMA_SUBSAMPLINGS:
            return None
        if header.signals_rgb or header.adobe_transform not in (None, 1):
            return None
        grid = (lcm(chroma[0], 2), lcm(chroma[1], 2))
    elif photometric == "MONOCHROME2" and samples == 1 and len(header.component_ids) == 1:
        grid = (1, 1)  # no chroma to share across an edge
    else:
        return None
    boxes = (align_box_outward(b, grid, rows, cols) for b in pipeline.plan.blank_boxes(rows, cols))
    return _Passthrough(header, tuple(b for b in boxes if b is not None))


def _encode_jpeg_clip(
    final: Path,
    fmt: OutputFormat,
    fps: float,
    path: Path,
    ds: Dataset,
    plan: _Passthrough,
    pipeline: _Pipeline,
    expected: int,
    options: ExportOptions,
    on_frame: Callable[[], None] | None,
) -> None:
    """Encode a clip from its undecoded JPEG frames (see :func:`_passthrough_plan`), atomically.

    Raises:
        UnsupportedError: a later frame is unlike frame 0; nothing was written,
            the caller decodes the clip in Python instead.
        InputError: damaged JPEG data (ffmpeg's decoder stops at the first error).
    """
    from dcmexport.encode.video import JpegStreamWriter

    if 0 in pipeline.detect_frames:  # the frame-0 text check needs rendered pixels: one frame is cheap
        for frame in iter_frames(path, ds, indices=[0]):
            pipeline.render_masked(frame, 0)
    header = plan.header

    def open_writer(tmp: Path) -> JpegStreamWriter:
        return JpegStreamWriter(
            tmp, fmt, fps=fps, crf=options.encode.crf, width=header.columns, height=header.rows,
            chroma_subsampling=header.chroma_subsampling if len(header.component_ids) == 3 else None,
            boxes=plan.boxes, out_size=pipeline.out_size,
        )  # fmt: skip

    _encode_clip(final, fmt, fps, iter_jpeg_frames(path, ds, header), expected, options, on_frame, open_writer)


class _Progress:
    """The per-frame progress callback of one clip, which a second attempt does not advance twice."""

    def __init__(self, on_frame: Callable[[], None] | None) -> None:
        self._on_frame = on_frame
        self._reported = 0
        self._skip = 0

    def __call__(self) -> None:
        if self._skip:
            self._skip -= 1
            return
        self._reported += 1
        if self._on_frame is not None:
            self._on_frame()

    def replay(self) -> None:
        """The clip starts again from frame 0: stay silent until it passes the frames already reported."""
        self._skip = self._reported


def _note_verification(result: ExportResult, pipelines: Sequence[_Pipeline]) -> None:
    hits = sorted({i for p in pipelines for i in p.ocr_hits})
    if hits:
        frames_read = ", ".join(str(i) for i in hits)
        result.notes.append(f"ocr: text still readable after masking on frame(s) {frames_read}; review before sharing")
    if any(p.suspicious_frames for p in pipelines):
        result.notes.append("suspicious: text-like rows outside the masks on frame 0; review or run --ocr-check")


def _remove_outputs(written: list[Path]) -> None:
    """Fail closed per object: no output of a half-exported object survives."""
    for done in written:
        with contextlib.suppress(OSError):
            done.unlink()


def _export_file(
    path: Path,
    options: ExportOptions,
    deidentifier: Deidentifier,
    result: ExportResult,
    on_frame: Callable[[], None] | None,
) -> None:
    ds = read_dataset(path)
    frames = check_pixel_geometry(ds)
    result.frames = frames
    fmt = resolve_format(options.encode.format, frames)
    if fmt.is_video and frames < 2:
        result.status = SKIPPED
        result.reason = "single-frame object: not a clip (use --format auto or png/jpg/tiff, or --series)"
        return
    pipeline = _plan_pixels(ds, options, fmt, frames, result)
    passthrough = _passthrough_plan(path, ds, fmt, pipeline) if fmt.is_video else None

    input_sha = sha256_file(path)
    result.input_sha256 = input_sha
    report = deidentifier.deidentify(ds, pixels_cleaned=not pipeline.plan.is_empty)  # fail closed: before any output
    result.action_counts = dict(report.action_counts)
    stem = output_stem(report.sop_instance_uid, input_sha)
    out_dir = options.out_dir

    planned: list[Path]
    if fmt.is_video:
        planned = [out_dir / f"{stem}{fmt.extension}"]
    else:
        indices = _still_indices(options.encode.frames, frames)
        planned = [
            out_dir / (f"{stem}{fmt.extension}" if frames == 1 else f"{stem}_f{i:04d}{fmt.extension}") for i in indices
        ]
    if options.also_dicom:
        planned.append(out_dir / f"{stem}.dcm")
    if not options.overwrite and planned and all(output_exists(p) for p in planned):
        result.status = SKIPPED
        result.reason = "already exported (use --overwrite to redo)"
        result.outputs = planned
        return

    written: list[Path] = []
    try:
        if fmt.is_video:
            rate = frame_rate_from_dataset(ds, options.encode.fps)
            result.fps, result.fps_source = rate.fps, rate.source
            if rate.source == "default":
                result.notes.append(f"no frame timing tags; used the default {rate.fps:g} fps (set --fps)")
            progress = _Progress(on_frame)
            if passthrough is not None:
                try:
                    _encode_jpeg_clip(planned[0], fmt, rate.fps, path, ds, passthrough, pipeline, frames,
                                      options, progress)
                except UnsupportedError:
                    log.debug("JPEG passthrough declined mid-clip; decoding the frames in Python", exc_info=True)
                    passthrough = None
                    progress.replay()  # frames already reported are not reported twice
            if passthrough is None:
                images = (pipeline(frame, i) for i, frame in enumerate(iter_frames(path, ds)))
                _encode_clip(planned[0], fmt, rate.fps, images, frames, options, progress)
            written.append(planned[0])
        else:
            stills = [p for p in planned if p.suffix != ".dcm"]
            for final, index, frame in zip(stills, indices, iter_frames(path, ds, indices=indices), strict=True):
                image = pipeline(frame, 0 if len(indices) == 1 else index, number=index)
                _write_still_atomic(final, image, fmt, options, pipeline)
                written.append(final)
                if on_frame is not None:
                    on_frame()
        if options.also_dicom:
            _write_dicom(ds, pipeline.plan, planned[-1], overwrite=options.overwrite)
            written.append(planned[-1])
    except BaseException:
        _remove_outputs(written)
        raise
    result.outputs = written
    result.status = WRITTEN
    _note_verification(result, [pipeline])


def _write_still_atomic(
    final: Path, image: np.ndarray, fmt: OutputFormat, options: ExportOptions, pipeline: _Pipeline
) -> None:
    dpi = _dpi(pipeline, image.shape[:2]) if fmt is OutputFormat.TIFF else None
    with atomic_output(final, overwrite=options.overwrite, sync_dir=False) as tmp:
        write_still(tmp, image, fmt, quality=options.encode.quality, dpi=dpi)


#: Scroll-through clips of a series have no recorded frame rate: --fps or this.
SERIES_DEFAULT_FPS = 10.0


def export_series(
    paths: Sequence[Path],
    options: ExportOptions,
    deidentifier: Deidentifier,
    *,
    on_frame: Callable[[], None] | None = None,
) -> ExportResult:
    """Export an ordered series of single-frame images as one clip, or one contact sheet with ``montage``.

    Every slice is planned, masked and de-identified like a single object; one
    failure fails the whole series (fail closed), and slices whose geometry
    differs are reported, never silently resized.
    """
    return _guarded(paths[0], lambda result: _export_series(paths, options, deidentifier, result, on_frame),
                    options.timeout)


def _export_series(
    paths: Sequence[Path],
    options: ExportOptions,
    deidentifier: Deidentifier,
    result: ExportResult,
    on_frame: Callable[[], None] | None,
) -> None:
    datasets = [read_dataset(p) for p in paths]
    for ds in datasets:
        check_pixel_geometry(ds)
    mismatch = geometry_mismatch(datasets)
    if mismatch is not None:
        raise InputError(
            f"series of {len(paths)} slices mixes geometries ({mismatch} differs); export it without --series"
        )
    result.frames = len(paths)
    result.notes.append(f"series of {len(paths)} slices in slice order")
    montage = options.encode.montage
    fmt = OutputFormat.MP4 if options.encode.format is OutputFormat.AUTO else options.encode.format
    pipelines = [_plan_pixels(ds, options, fmt, len(paths), result) for ds in datasets]
    shas = [sha256_file(p) for p in paths]
    result.input_sha256 = hashlib.sha256("".join(shas).encode()).hexdigest()
    counts: dict[str, int] = {}
    for ds, pipeline in zip(datasets, pipelines, strict=True):
        report = deidentifier.deidentify(ds, pixels_cleaned=not pipeline.plan.is_empty)
        for kind, n in report.action_counts.items():
            counts[kind] = counts.get(kind, 0) + n
    result.action_counts = counts
    series_uid = str(datasets[0].get("SeriesInstanceUID", "") or "")  # already remapped
    final = options.out_dir / f"{output_stem(series_uid, result.input_sha256)}{fmt.extension}"
    if output_exists(final) and not options.overwrite:
        result.status, result.reason, result.outputs = SKIPPED, "already exported (use --overwrite to redo)", [final]
        return

    def images() -> Iterator[np.ndarray]:
        for index, (path, ds, pipeline) in enumerate(zip(paths, datasets, pipelines, strict=True)):
            (frame,) = iter_frames(path, ds, indices=[0])
            yield pipeline(frame, index, number=0)  # each slice's own frame 0

    if montage:
        _write_still_atomic(final, apply_montage(list(images())), fmt, options, pipelines[0])
    else:
        fps = options.encode.fps or SERIES_DEFAULT_FPS
        result.fps, result.fps_source = fps, "--fps" if options.encode.fps else "default"
        _encode_clip(final, fmt, fps, images(), len(paths), options, on_frame)
    result.outputs = [final]
    result.status = WRITTEN
    _note_verification(result, pipelines)


def _inside(path: Path, folder: Path) -> bool:
    """``path`` lies in ``folder``; a symlink loop cannot (the object then fails on its own)."""
    try:
        return folder in path.resolve().parents
    except (OSError, RuntimeError):
        return False


def _outside(folder: Path) -> Callable[[Path], bool]:
    """A test that a path does not lie in ``folder`` (resolved), resolving each directory once.

    Resolving every input path in full cost ~0.1 ms each, serially before any
    worker starts (50 ms for 500 files); a file that is not a symlink lies where
    its resolved directory does.
    """
    by_directory: dict[Path, bool] = {}

    def outside(path: Path) -> bool:
        try:
            if path.is_symlink():
                return not _inside(path, folder)
        except OSError:
            return True
        parent = path.parent
        inside = by_directory.get(parent)
        if inside is None:
            try:
                resolved = parent.resolve()
                inside = by_directory[parent] = resolved == folder or folder in resolved.parents
            except (OSError, RuntimeError):
                return True
        return not inside

    return outside


def _write_dicom(ds: Dataset, plan: MaskPlan, final: Path, *, overwrite: bool) -> None:
    """Write the de-identified dataset, its pixels masked like the media."""
    if not plan.is_empty:
        apply_plan_to_dataset(ds, plan)
    with atomic_output(final, overwrite=overwrite, sync_dir=False) as tmp:
        try:
            write_part10(ds, tmp)
        except Exception as exc:  # pydicom's text can quote values: type only
            raise EncodeError(
                f"the de-identified DICOM cannot be written ({type(exc).__name__}); "
                "(0002,0010) TransferSyntaxUID or a value does not match the data"
            ) from None


def build_options(
    out_dir: str | Path,
    *,
    format: str | OutputFormat = OutputFormat.AUTO,
    window: str | tuple[float, float] | None = None,
    window_index: int = 0,
    bit_depth: int = 8,
    aspect: bool = True,
    max_side: int | None = None,
    frames: str | int = "first",
    fps: float | None = None,
    quality: int = 95,
    crf: int = 18,
    masks: Iterable[str | tuple[int, int, int, int]] = (),
    mask_file: str | Path | None = None,
    mask_presets: bool = True,
    mask_us_regions: bool | None = None,
    accept_burned_in: bool = False,
    ocr_check: str | OcrCheck = OcrCheck.OFF,
    ocr_all_frames: bool = False,
    deid: DeidOptions | None = None,
    also_dicom: bool = False,
    overwrite: bool = False,
    series: bool = False,
    montage: bool = False,
    timeout: float | None = None,
) -> ExportOptions:
    """Coerce plain Python values (as a notebook user writes them) into :class:`ExportOptions`.

    Raises:
        UsageError: a value is out of range or malformed; the message names the option.
    """
    from dcmexport.options import MaskRect

    fmt = format if isinstance(format, OutputFormat) else _coerce_format(format)
    win = None
    if isinstance(window, str):
        win = parse_window(window)
    elif window is not None:
        win = parse_window(f"{window[0]},{window[1]}")
    if bit_depth not in (8, 16):
        raise UsageError(f"--bit-depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and fmt not in (OutputFormat.PNG, OutputFormat.TIFF, OutputFormat.AUTO):
        raise UsageError("--bit-depth 16 applies to PNG and TIFF only")
    if max_side is not None and max_side < 16:
        raise UsageError(f"--max-side must be at least 16 pixels, got {max_side}")
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality must be 1..100, got {quality}")
    if not 0 <= crf <= 63:
        raise UsageError(f"--crf must be 0..63, got {crf}")
    if montage and (not series or fmt.is_video):
        raise UsageError("--montage needs --series and a still format (--format png, jpg or tiff)")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    if fps is not None and not 0.1 <= fps <= 240:
        raise UsageError(f"--fps must be between 0.1 and 240, got {fps:g}")
    rects = tuple(m if isinstance(m, MaskRect) else parse_mask(m if isinstance(m, str) else ",".join(map(str, m))) for m in masks)
    return ExportOptions(
        out_dir=Path(out_dir),
        render=RenderOptions(window=win, window_index=window_index,
                             bit_depth=bit_depth, aspect=aspect, max_side=max_side),
        encode=EncodeOptions(format=fmt, quality=quality, crf=crf, fps=fps,
                             frames=parse_frames(str(frames)), montage=montage),
        mask=MaskOptions(rects=rects, mask_file=Path(mask_file) if mask_file else None, use_presets=mask_presets,
                         us_regions=mask_us_regions, accept_burned_in=accept_burned_in,
                         ocr_check=OcrCheck(ocr_check), ocr_all_frames=ocr_all_frames),
        deid=deid if deid is not None else DeidOptions(),
        also_dicom=also_dicom,
        overwrite=overwrite,
        series=series,
        timeout=timeout,
    )


def _coerce_format(text: str) -> OutputFormat:
    low = text.lower().lstrip(".")
    low = {"jpeg": "jpg", "tif": "tiff"}.get(low, low)
    try:
        return OutputFormat(low)
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise UsageError(f"--format must be one of {choices}; got {text!r}") from None


def export(
    inputs: str | Path | Iterable[str | Path],
    out_dir: str | Path | None = None,
    *,
    options: ExportOptions | None = None,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    on_result: Callable[[ExportResult], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    jobs: int = 1,
    **kwargs: object,
) -> BatchResult:
    """Export files and folders of DICOM objects to de-identified media.

    Args:
        inputs: a path or paths; directories are searched recursively.
        out_dir: the output directory (created if needed); ignored when ``options`` is given.
        options: a full :class:`ExportOptions`; otherwise built from ``kwargs`` by :func:`build_options`.
        key: the pseudonymisation key; None -> ``DCMEXPORT_KEY`` or a random key for this run.
        patient_map: explicit original PatientID -> (new PatientID, new PatientName).
        on_result: called with each object's result as it completes (progress).
        on_frame: called after each encoded frame (progress; only with ``jobs=1``).
        on_start: called once, before the first object, with the number of results to
            come (zip members counted, a ``series`` counted once): a progress total.
        jobs: worker processes; objects are independent, so outputs do not depend on it.

    Returns:
        A :class:`BatchResult`; its ``exit_code`` is non-zero when anything failed.

    Raises:
        UsageError: bad options or no output directory.
        InputError: an input path does not exist.
    """
    if options is None:
        if out_dir is None:
            raise UsageError("an output directory is required (--out DIR)")
        options = build_options(out_dir, **kwargs)  # type: ignore[arg-type]
    return _run_batch("export", inputs, options, key, patient_map, jobs, on_result, on_frame, on_start)


def deidentify(
    inputs: str | Path | Iterable[str | Path],
    out_dir: str | Path | None = None,
    *,
    options: ExportOptions | None = None,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    on_result: Callable[[ExportResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    jobs: int = 1,
    **kwargs: object,
) -> BatchResult:
    """Write de-identified DICOM Part 10 files (pixels masked like the media would be).

    Objects without pixels (SR, RT Plan, waveforms) are de-identified too. The
    same burned-in rule applies as for :func:`export`: an object that may carry
    burned-in text and that no mask covers is refused.

    Args: as :func:`export` (render and encode options are ignored).

    Returns:
        A :class:`BatchResult` with one ``.dcm`` output per written object.
    """
    if options is None:
        if out_dir is None:
            raise UsageError("an output directory is required (--out DIR)")
        options = build_options(out_dir, **kwargs)  # type: ignore[arg-type]
    return _run_batch("deid", inputs, options, key, patient_map, jobs, on_result, None, on_start)


def deid_file(path: Path, options: ExportOptions, deidentifier: Deidentifier) -> ExportResult:
    """De-identify one object to ``<out>/<stem>.dcm``; never raises for an expected failure."""
    return _guarded(path, lambda result: _deid_file(path, options, deidentifier, result), options.timeout)


def _deid_file(path: Path, options: ExportOptions, deidentifier: Deidentifier, result: ExportResult) -> None:
    data = read_small_file(path)  # one read serves the hash and the parse (None: too large, stream)
    ds = read_dataset(path, data)
    plan = MaskPlan()
    if has_pixels(ds):
        result.frames = check_pixel_geometry(ds)
        plan = plan_masks(ds, options.mask)
        if not plan.is_empty:
            result.notes.append(f"masked: {plan.describe()}")
    result.input_sha256 = hashlib.sha256(data).hexdigest() if data is not None else sha256_file(path)
    report = deidentifier.deidentify(ds, pixels_cleaned=not plan.is_empty)
    result.action_counts = dict(report.action_counts)
    final = options.out_dir / f"{output_stem(report.sop_instance_uid, result.input_sha256)}.dcm"
    if output_exists(final) and not options.overwrite:
        result.status, result.reason, result.outputs = SKIPPED, "already exported (use --overwrite to redo)", [final]
        return
    _write_dicom(ds, plan, final, overwrite=options.overwrite)
    result.outputs = [final]
    result.status = WRITTEN


#: A unit of work: its kind ("export", "deid" or "series") and its input files (one, or a whole series).
_Task = tuple[str, tuple[Path, ...]]


def _run_task(task: _Task, options: ExportOptions, deidentifier: Deidentifier,
              on_frame: Callable[[], None] | None = None) -> ExportResult:
    kind, paths = task
    seen = deidentifier.linkage_count()
    if kind == "export":
        result = export_file(paths[0], options, deidentifier, on_frame=on_frame)
    elif kind == "series":
        result = export_series(paths, options, deidentifier, on_frame=on_frame)
    else:
        result = deid_file(paths[0], options, deidentifier)
    result.links = deidentifier.linkage(seen)
    return result


def _plan_tasks(kind: str, items: list[InputItem], options: ExportOptions) -> tuple[list[_Task], list[Path]]:
    """Turn inputs into tasks (grouping series when asked) and the labels to report them by."""
    fmt = options.encode.format
    if kind == "export" and options.series and (fmt is OutputFormat.AUTO or fmt.is_video or options.encode.montage):
        groups, singles = group_series(items)
        tasks = [("series", tuple(i.path for i in g)) for g in groups] + [("export", (i.path,)) for i in singles]
        labels = [g[0].label for g in groups] + [i.label for i in singles]
        return tasks, labels
    return [(kind, (i.path,)) for i in items], [i.label for i in items]


def _run_batch(
    kind: str,
    inputs: str | Path | Iterable[str | Path],
    options: ExportOptions,
    key: Key | None,
    patient_map: dict[str, tuple[str, str]] | None,
    jobs: int,
    on_result: Callable[[ExportResult], None] | None,
    on_frame: Callable[[], None] | None,
    on_start: Callable[[int], None] | None = None,
) -> BatchResult:
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    batch = BatchResult()
    if key is None:
        key = Key.from_env() or Key.random()
    if key.ephemeral:
        batch.notes.append(
            "no key given (--key-file or DCMEXPORT_KEY): pseudonyms are random for this run and link to nothing"
        )
    deidentifier = Deidentifier(options.deid, key, patient_map=patient_map)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(options.out_dir)
    out_resolved = options.out_dir.resolve()
    manifest = Manifest.open(options.out_dir, tool_version=__version__, options=options, key=key, command=kind)
    batch.manifest = manifest.path
    with tempfile.TemporaryDirectory(prefix="dcmexport-") as workdir, manifest:
        # Outputs are never re-read when --out lies inside an input folder.
        outside = _outside(out_resolved)
        items = [i for i in iter_inputs(paths, Path(workdir)) if outside(i.path)]
        tasks, labels = _plan_tasks(kind, items, options)
        if on_start is not None:
            on_start(len(tasks))
        if jobs <= 1 or len(tasks) <= 1:
            results: Iterable[ExportResult] = _run_sequential(tasks, options, deidentifier, on_frame)
            _collect(zip(labels, results, strict=True), batch, manifest, options, on_result)
        else:
            # Imported here: a one-object or --jobs 1 run never starts workers (start-up time, issue #7).
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(
                max_workers=jobs, initializer=_init_worker, initargs=(options, key, patient_map)
            ) as pool:
                # Small groups: a file takes ~10 ms, so the pipe round trip per group is
                # negligible, while big groups can leave one worker idle at the end of a
                # batch. Each group's files are fsynced in the background and renamed
                # when the group ends (see _run_group).
                size = max(1, min(_GROUP_MAX, len(tasks) // (jobs * 8)))
                groups = [tasks[i : i + size] for i in range(0, len(tasks), size)]
                try:
                    done = (r for group in pool.map(_run_group_in_worker, groups) for r in group)
                    _collect(zip(labels, done, strict=True), batch, manifest, options, on_result)
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    fsync_directory(options.out_dir)  # one directory sync for all the renames of the batch
    return batch


def _collect(
    labelled: Iterable[tuple[Path, ExportResult]],
    batch: BatchResult,
    manifest: Manifest,
    options: ExportOptions,
    on_result: Callable[[ExportResult], None] | None,
) -> None:
    for label, result in labelled:
        result.source = label  # what the user named (zip members: archive/member), not a temporary path
        manifest.record(result, out_dir=options.out_dir)
        batch.results.append(result)
        if on_result is not None:
            on_result(result)


_WORKER: tuple[ExportOptions, Deidentifier] | None = None


def _init_worker(options: ExportOptions, key: Key, patient_map: dict[str, tuple[str, str]] | None) -> None:
    """Build the worker's own de-identifier from the same key (pseudonyms are a pure function of it)."""
    global _WORKER
    _WORKER = (options, Deidentifier(options.deid, key, patient_map=patient_map))


def _run_group_in_worker(tasks: list[_Task]) -> list[ExportResult]:
    assert _WORKER is not None, "worker not initialised"
    options, deidentifier = _WORKER
    return _run_group(iter(tasks), options, deidentifier, None)


#: Objects per group, and the time after which a sequential run closes its group early
#: (so results of slow objects, e.g. clips, are reported without waiting for others).
_GROUP_MAX = 8
_GROUP_SECONDS = 0.5


def _run_sequential(tasks: list[_Task], options: ExportOptions, deidentifier: Deidentifier,
                    on_frame: Callable[[], None] | None) -> Iterator[ExportResult]:
    pending = iter(tasks)
    while results := _run_group(pending, options, deidentifier, on_frame, seconds=_GROUP_SECONDS):
        yield from results


def _run_group(tasks: Iterator[_Task], options: ExportOptions, deidentifier: Deidentifier,
               on_frame: Callable[[], None] | None, *, seconds: float | None = None) -> list[ExportResult]:
    """Run up to _GROUP_MAX tasks whose outputs are fsynced in the background and renamed at the end.

    Each object's outputs get their final names only after all of them are
    fsynced, and only if the object succeeded; an fsync or rename error fails
    that object (fail closed: none of its files survives).
    """
    started = time.perf_counter()
    results: list[ExportResult] = []
    spans: list[tuple[ExportResult, int, int]] = []
    with deferred_commits() as commits:
        for task in tasks:
            since = commits.mark()
            result = _run_task(task, options, deidentifier, on_frame)
            if result.status != WRITTEN:
                commits.discard(since)
            spans.append((result, since, commits.mark()))
            results.append(result)
            if len(results) >= _GROUP_MAX or (seconds is not None and time.perf_counter() - started > seconds):
                break
        for result, since, until in spans:
            if since == until:
                continue
            error = commits.commit(since, until)
            if error is not None:
                _remove_outputs(result.outputs)  # any renamed before the error: the object fails whole
                result.status, result.outputs, result.error_kind = FAILED, [], EncodeError.reason
                result.reason = (f"the output could not be written to disk ({type(error).__name__}: "
                                 f"{error.strerror or 'I/O error'}); check free space and permissions")
    return results
