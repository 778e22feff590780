"""One clip's frames and timing: which frames (``--frame-range``), when each is shown (rate or per-frame
times, ``--speed``), and the fastest rate the format or ``--max-fps`` allows (every frame kept).

Planned from the ORIGINAL header, before de-identification (timing is not PHI;
Frame Content date-times are only subtracted, never kept). What was cut or
changed is said in the result's notes, which the manifest and the review page
carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from dcmexport.errors import UsageError
from dcmexport.options import ExportOptions, OutputFormat
from dcmexport.pipeline.frames import FramePipeline
from dcmexport.render.frame_times import apply_speed_and_floor, frame_times_from_dataset, is_constant
from dcmexport.render.timing import frame_rate_from_dataset
from dcmexport.results import ExportResult


@dataclass(frozen=True)
class ClipPlan:
    """The frames of one clip and their timing.

    ``indices`` are the object's 0-based frame numbers, in order (None: all of
    them). ``timestamps`` are the presentation times in seconds of a
    variable-rate clip (None: constant ``fps``); ``fps`` is then the mean rate,
    which sets how long the last frame lasts.
    """

    indices: tuple[int, ...] | None
    count: int
    fps: float
    fps_source: str
    timestamps: tuple[float, ...] | None = None
    notes: tuple[str, ...] = ()

    def apply_to(self, result: ExportResult) -> None:
        """Record the rate, its source, the frame count written and the notes in ``result``."""
        result.fps, result.fps_source, result.frames = self.fps, self.fps_source, self.count
        result.notes.extend(self.notes)


def select_clip_frames(frames: int, options: ExportOptions) -> tuple[int, ...] | None:
    """The frames ``--frame-range`` keeps of an object with ``frames`` frames (None: no range, all).

    :raises UsageError: fewer than 2 frames kept (a clip needs two).
    """
    cut = options.encode.frame_range
    if cut is None:
        return None
    kept = tuple(cut.select(frames))
    if len(kept) < 2:
        raise UsageError(f"--frame-range {cut.describe()} keeps {len(kept)} of the {frames} frames "
                         "((0028,0008) NumberOfFrames, 0-based); a clip needs at least 2")
    return kept


def plan_clip(ds: Dataset, frames: int, fmt: OutputFormat, options: ExportOptions) -> ClipPlan:
    """Plan the frames and timing of one multi-frame object's clip, from the header before de-identification.

    Per-frame times (:mod:`dcmexport.render.frame_times`) that are not all equal
    give a variable-rate clip; equal ones, or none, a constant rate as before.
    ``--frame-range`` with a STEP keeps real time (each kept frame lasts until
    the next kept one); ``--speed`` divides every time. A rate faster than the
    format plays honestly (GIF 50 fps, WebP/APNG 90 fps) or than ``--max-fps``
    is lowered, every frame kept, and said.

    :raises UsageError: ``--frame-range`` keeps fewer than 2 frames; ``--fps`` out of range.
    """
    encode = options.encode
    indices = select_clip_frames(frames, options)
    kept = list(indices) if indices is not None else list(range(frames))
    rate = frame_rate_from_dataset(ds, encode.fps)
    notes: list[str] = []
    if rate.source == "default":
        notes.append(f"no frame timing tags; used the default {rate.fps:g} fps (set --fps)")
    if indices is not None:
        notes.append(f"cut: frames {encode.frame_range.describe() if encode.frame_range else ''} "
                     f"of {frames}: {len(kept)} kept (first {kept[0]}, last {kept[-1]})")
    if encode.speed != 1:
        notes.append(f"speed {encode.speed:g}x: frame times divided by {encode.speed:g}")
    limits = [v for v in (fmt.spec.max_fps, encode.max_fps) if v is not None]
    limit = min(limits) if limits else None

    starts = frame_times_from_dataset(ds, frames, rate.source) if encode.fps is None else None
    if starts is not None:
        picked = [starts[i] for i in kept]
        if not is_constant(picked):
            times, lengthened = apply_speed_and_floor(picked, encode.speed, 1000 / limit if limit else None)
            mean = times[-1] / (len(times) - 1)
            intervals = [b - a for a, b in zip(picked, picked[1:], strict=False)]
            origin = rate.source if rate.source != "default" else "the Frame Content Sequence"
            notes.append(f"variable frame rate: per-frame times from {origin} "
                         f"(intervals {min(intervals):.4g}-{max(intervals):.4g} ms)")
            if lengthened:
                notes.append(f"{fmt.value} plays at most {limit:g} fps: {lengthened} interval(s) lengthened "
                             f"to {1000 / limit:.4g} ms, every frame kept")  # type: ignore[operator]
            return ClipPlan(indices, len(kept), 1 / mean, rate.source, times, tuple(notes))
    step = encode.frame_range.step if encode.frame_range is not None else 1
    fps = lower_rate(rate.fps / step * encode.speed, fmt, limit, notes)
    return ClipPlan(indices, len(kept), fps, rate.source, None, tuple(notes))


def plan_checks_for_cut(pipeline: FramePipeline, count: int, options: ExportOptions) -> None:
    """Re-plan the OCR check of a cut clip by position among its ``count`` frames (first, middle, last, or all).

    :func:`~dcmexport.pipeline.frames.plan_pixels` plans by the object's frames, which the figure stages
    (per-frame presentation-state drawings) need; the checks see the frames in the order they are exported.
    The text-row check stays on the first exported frame.
    """
    if pipeline.ocr_frames:
        pipeline.ocr_frames = (frozenset(range(count)) if options.mask.ocr_all_frames
                               else frozenset({0, count // 2, count - 1}))


def lower_rate(fps: float, fmt: OutputFormat, limit: float | None, notes: list[str]) -> float:
    """The rate a constant-rate clip is written at: ``fps``, or ``limit`` (every frame kept, said in a note).

    GIF delays are whole hundredths of a second and browsers play frame
    durations of 10 ms or less as 100 ms, so a faster clip is written slower
    (issue #19 item 5: never drop frames, never report a rate the file does not hold). The note goes to ``notes``.
    """
    if limit is None or fps <= limit:
        return fps
    what = fmt.value if limit == fmt.spec.max_fps else "--max-fps"
    notes.append(f"{what} plays at most {limit:g} fps: rate lowered from {fps:g} to {limit:g} fps, "
                        f"every frame kept (plays {fps / limit:.2g}x slower)")
    return limit
