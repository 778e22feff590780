"""Writing one object's outputs atomically: stills, clips (streamed), de-identified DICOM."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.atomic import (
    atomic_output,
)
from dcmexport.encode.dicom import write_part10
from dcmexport.encode.jpeg_segments import strip_pixel_data_text
from dcmexport.encode.still import write_still
from dcmexport.errors import (
    EncodeError,
)
from dcmexport.mask import MaskPlan, apply_plan_to_dataset
from dcmexport.options import (
    ExportOptions,
    OutputFormat,
)
from dcmexport.pipeline.frames import FramePipeline, output_dpi
from dcmexport.results import (
    ExportResult,
)


class ClipWriter(Protocol):
    """What :func:`encode_clip` needs of a writer (:class:`VideoWriter`, :class:`JpegStreamWriter`)."""

    frames_written: int

    def write(self, frame: Any) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def encode_clip(
    final: Path,
    fmt: OutputFormat,
    fps: float,
    frames: Iterable[np.ndarray] | Iterable[bytes],
    expected: int,
    options: ExportOptions,
    on_frame: Callable[[], None] | None,
    open_writer: Callable[[Path], ClipWriter] | None = None,
    *,
    timestamps: Sequence[float] | None = None,
) -> None:
    """Stream already-transformed frames into one clip, atomically; check the frame count.

    ``timestamps`` (seconds from the first frame) make a variable-rate clip, ``fps`` its mean rate.
    """
    from dcmexport.encode.video import VideoWriter  # only clips need imageio-ffmpeg (start-up time, issue #7)

    with atomic_output(final, overwrite=options.overwrite, sync_dir=False) as tmp:
        # The JPEG passthrough brings its own writer, which takes JPEG codestreams.
        encode = options.encode
        writer: ClipWriter = open_writer(tmp) if open_writer else VideoWriter(
            tmp, fmt, fps=fps, crf=encode.crf, timestamps=timestamps, loop=encode.loop,
            quality=encode.quality if fmt.spec.quality_range else None, lossless=encode.lossless)
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


class FrameProgress:
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


def note_verification(result: ExportResult, pipelines: Sequence[FramePipeline]) -> None:
    hits = sorted({i for p in pipelines for i in p.ocr_hits})
    if hits:
        frames_read = ", ".join(str(i) for i in hits)
        result.notes.append(f"ocr: text still readable after masking on frame(s) {frames_read}; review before sharing")
    if any(p.suspicious_frames for p in pipelines):
        result.notes.append("suspicious: text-like rows outside the masks on frame 0; review or run --ocr-check")


def remove_outputs(written: list[Path]) -> None:
    """Fail closed per object: no output of a half-exported object survives."""
    for done in written:
        with contextlib.suppress(OSError):
            done.unlink()


def write_still_atomic(
    final: Path, image: np.ndarray, fmt: OutputFormat, options: ExportOptions, pipeline: FramePipeline
) -> None:
    asked = options.figure.dpi is not None or options.figure.width_mm is not None  # --dpi/--width-mm: any still
    dpi = output_dpi(pipeline, image.shape[:2]) if fmt is OutputFormat.TIFF or asked else None
    with atomic_output(final, overwrite=options.overwrite, sync_dir=False) as tmp:
        write_still(tmp, image, fmt, quality=options.encode.quality, dpi=dpi)


def write_dicom(ds: Dataset, plan: MaskPlan, final: Path, *, overwrite: bool) -> dict[str, int]:
    """Write the de-identified dataset, its pixels masked like the media.

    Comment and application segments of compressed frames are removed first
    (:func:`strip_pixel_data_text`); returns how many of each kind.
    """
    if not plan.is_empty:
        apply_plan_to_dataset(ds, plan)
    try:
        removed = strip_pixel_data_text(ds)
    except Exception as exc:  # a frame that cannot be parsed cannot be checked: fail closed
        raise EncodeError(
            f"(7FE0,0010) PixelData: a compressed frame cannot be parsed ({type(exc).__name__}), so its comment "
            "and application segments cannot be removed; the DICOM output is not written"
        ) from None
    with atomic_output(final, overwrite=overwrite, sync_dir=False) as tmp:
        try:
            write_part10(ds, tmp)
        except Exception as exc:  # pydicom's text can quote values: type only
            raise EncodeError(
                f"the de-identified DICOM cannot be written ({type(exc).__name__}); "
                "(0002,0010) TransferSyntaxUID or a value does not match the data"
            ) from None
    return removed


def count_pixel_text(result: ExportResult, removed: dict[str, int]) -> None:
    """Add the segments :func:`write_dicom` removed to the result's action counts (``pixel-text:<kind>``)."""
    for kind, n in removed.items():
        result.action_counts[f"pixel-text:{kind}"] = result.action_counts.get(f"pixel-text:{kind}", 0) + n
