"""Per-object planning and the frame transform: render -> mask -> checks -> aspect, fixed geometry.

Everything here is planned from the ORIGINAL header, before de-identification
(geometry, LUTs, regions, timing: none of it PHI); output names come from
non-PHI material only.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.burnedin import may_carry_burned_in, plan_masks
from dcmexport.deid.marking import PixelState
from dcmexport.errors import (
    BurnedInError,
    UsageError,
)
from dcmexport.mask import MaskPlan
from dcmexport.options import (
    ExportOptions,
    Frames,
    FrameSelection,
    OcrCheck,
    OutputFormat,
)
from dcmexport.render import (
    FrameRenderers,
    PixelSpacing,
    apply_aspect,
    aspect_size,
    pixel_spacing_from_dataset,
)
from dcmexport.results import (
    ExportResult,
)
from dcmexport.textdetect import find_text_like_rows


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


def playable_rate(fps: float, fmt: OutputFormat, result: ExportResult) -> float:
    """The rate a clip is written at: ``fps``, or the format's fastest honest rate, every frame kept.

    GIF delays are whole hundredths of a second and browsers play delays under
    2/100 s slowly, so a faster clip is written at 50 fps and plays longer; the
    result says so (issue #19 item 5: never drop frames, never report a rate the
    file does not hold).
    """
    limit = fmt.spec.max_fps
    if limit is None or fps <= limit:
        return fps
    result.notes.append(f"{fmt.value} plays at most {limit:g} fps: rate lowered from {fps:g} to {limit:g} fps, "
                        f"every frame kept (plays {fps / limit:.2g}x slower)")
    return limit


def still_indices(selection: Frames, frames: int) -> list[int]:
    if selection.selection is FrameSelection.ALL:
        return list(range(frames))
    if selection.selection is FrameSelection.INDEX:
        if selection.index >= frames:
            raise UsageError(
                f"--frames {selection.index} is out of range: (0028,0008) NumberOfFrames is {frames} (0-based)"
            )
        return [selection.index]
    return [0]


class FramePipeline:
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


def cap_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """Scale (rows, cols) down so the long side is at most ``max_side``, keeping the aspect ratio."""
    if not max_side or max(size) <= max_side:
        return size
    factor = max_side / max(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def scale_box(
    box: tuple[int, int, int, int], rows: int, cols: int, out_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Map a stored-pixel box to output pixels after aspect resampling."""
    sy, sx = out_size[0] / rows, out_size[1] / cols
    x0, y0, x1, y1 = box
    return (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy))


def output_dpi(pipeline: FramePipeline, out_shape: tuple[int, ...]) -> tuple[float, float] | None:
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


def pixel_state(ds: Dataset, plan: MaskPlan, options: ExportOptions) -> PixelState:
    """What the marking may claim about the pixels of ``ds`` (not yet de-identified) under ``plan``."""
    return PixelState.from_plan(ds, plan, suspect=may_carry_burned_in(ds) is not None,
                                accept_burned_in=options.mask.accept_burned_in)


def ocr_read_nothing(pipeline: FramePipeline, frames: int) -> bool:
    """OCR ran on every one of the object's ``frames`` after masking and read no text."""
    return pipeline.ocr_frames >= frozenset(range(frames)) and not pipeline.ocr_hits


def plan_pixels(
    ds: Dataset, options: ExportOptions, fmt: OutputFormat, frames: int, result: ExportResult
) -> FramePipeline:
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
    out_size = cap_size(out_size, render_options.max_side)
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
        result.mask_boxes = [scale_box(b, rows, cols, out_size) for b in plan.blank]
        if plan.keep is not None:
            result.keep_boxes = [scale_box(b, rows, cols, out_size) for b in plan.keep]
    if out_size != (rows, cols) and not any(n.startswith("resized") for n in result.notes):
        why = f"aspect from {spacing.source}" if spacing is not None else ""
        if render_options.max_side and max(out_size) == render_options.max_side:
            why = f"{why}, " if why else ""
            why += f"long side capped at {render_options.max_side}"
        result.notes.append(f"resized {cols}x{rows} -> {out_size[1]}x{out_size[0]} ({why})")
    return FramePipeline(
        renderers,
        plan,
        out_size if out_size != (rows, cols) else None,
        ocr=options.mask.ocr_check,
        ocr_frames=ocr_frames,
        detect_frames=detect,
        spacing=spacing,
        stored_shape=(rows, cols),
    )
