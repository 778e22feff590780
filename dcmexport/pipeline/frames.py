"""Per-object planning and the frame transform: render -> mask -> checks -> aspect, fixed geometry.

Everything here is planned from the ORIGINAL header, before de-identification
(geometry, LUTs, regions, timing: none of it PHI); output names come from
non-PHI material only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.deid.marking import PixelState
from dcmexport.errors import (
    BurnedInError,
    UsageError,
)
from dcmexport.mask import MaskPlan, find_text_like_rows, may_carry_burned_in, plan_masks
from dcmexport.options import (
    ExportOptions,
    Frames,
    FrameSelection,
    OcrCheck,
    OutputFormat,
    Window,
)
from dcmexport.render import (
    FrameRenderers,
    PixelSpacing,
    apply_aspect,
    aspect_size,
    pixel_spacing_from_dataset,
)
from dcmexport.render.figure import FigureRenderer
from dcmexport.render.gsps import PresentationState
from dcmexport.render.letterbox import apply_letterbox, letterbox_geometry
from dcmexport.render.stack import StackedRenderers
from dcmexport.results import (
    ExportResult,
)


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

    With a figure (``figure``: overlays, shutters, viewport, annotations, scale
    bar) the order is render -> overlays, shutters -> mask -> viewport ->
    annotations -> scale bar; when a presentation state's text is burned in,
    verification runs on that output (``late_checks``), before the scale bar.
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
        figure: FigureRenderer | None = None,
        late_checks: bool = False,
        size: tuple[int, int] | None = None,
    ):
        self.renderers = renderers
        self.figure = figure  # overlays, shutters, viewport, annotations, scale bar (pipeline/figure.py)
        # Burned-in text of our own (presentation-state text): check the output, before the scale bar.
        self.late_checks = late_checks
        self.output_keep = _output_keep(figure, plan)
        self.spacing = spacing
        self.stored_shape = stored_shape
        self.plan = plan
        self.out_size = out_size
        self.ocr = ocr
        self.ocr_frames = ocr_frames
        self.detect_frames = detect_frames
        self.figure_dpi: Callable[[tuple[int, ...]], tuple[float, float] | None] | None = None
        self.size = size  # --size (width, height): letterboxed last
        self.last_shape: tuple[int, int] | None = None  # (rows, cols) of the last output image
        self.ocr_hits: dict[int, int] = {}
        self.suspicious_frames: list[int] = []

    def boxes_out(self, boxes: tuple[tuple[int, int, int, int], ...], rows: int,
                  cols: int) -> list[tuple[int, int, int, int]]:
        """Stored-pixel boxes of a ``rows`` x ``cols`` object in the output image's pixels: through the
        aspect correction or the figure's viewport, then the ``--size`` letterbox (off-view ones dropped)."""
        out = self.out_size or (rows, cols)
        placed = output_boxes(boxes, rows, cols, out, self.figure)
        if self.size is None:
            return placed
        box = letterbox_geometry(out[0], out[1], *self.size)
        return [box.map_box(b, *out) for b in placed]

    def __call__(self, frame: np.ndarray, index: int = 0, *, number: int | None = None) -> np.ndarray:
        image = self.render_masked(frame, index, number=number)
        if self.figure is not None:
            image = self.figure.apply_view(image, index if number is None else number)
            if self.late_checks:
                self._check(image, index, self.output_keep)
            image = self.figure.apply_scale_bar(image)
        elif self.out_size is not None:
            image = apply_aspect(image, *self.out_size)
        if self.size is not None:
            image = apply_letterbox(image, *self.size)
        self.last_shape = (int(image.shape[0]), int(image.shape[1]))
        return image

    def fitted_shape(self, out_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The part of an output of ``out_shape`` that holds the image (all of it unless letterboxed)."""
        if self.size is None:
            return out_shape
        before = self.out_size or self.stored_shape or out_shape[:2]
        if self.figure is not None:
            before = self.figure.viewport.out_size
        box = letterbox_geometry(before[0], before[1], *self.size)
        return (box.inner_rows, box.inner_cols)

    def render_masked(self, frame: np.ndarray, index: int = 0, *, number: int | None = None) -> np.ndarray:
        """Render and mask one stored frame, run the checks planned for ``index``; stored geometry.

        ``number`` is the frame's 0-based number in the object, whose rescale and
        window apply (enhanced objects); it defaults to ``index``, the position
        among the frames exported, which the checks are planned by.
        """
        image = self.renderers.for_frame(index if number is None else number).render(frame)
        if self.figure is not None:
            image = self.figure.apply_stored(image, index if number is None else number)
        if not self.plan.is_empty:
            image = self.plan.apply(image, fill=0)
        if not self.late_checks:
            self._check(image, index, self.plan.keep)
        return image

    def _check(self, image: np.ndarray, index: int, keep: tuple[tuple[int, int, int, int], ...] | None) -> None:
        if index in self.ocr_frames:
            self._ocr(image, index)
        elif index in self.detect_frames and find_text_like_rows(image, keep):
            self.suspicious_frames.append(index)

    def _ocr(self, image: np.ndarray, index: int) -> None:
        from dcmexport.mask.ocr import read_text

        words = read_text(image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8))
        if words:
            self.ocr_hits[index] = len(words)
            if self.ocr is OcrCheck.STRICT:
                raise BurnedInError(
                    f"--ocr-check strict: Tesseract still reads {len(words)} word(s) on frame {index} after masking; "
                    "add --mask X,Y,W,H over the text, or export with --ocr-check report"
                )


def _bit_depth_note(fmt: OutputFormat, is_color: bool) -> str | None:
    """Why ``--bit-depth 16`` gave 8 bits here (a note, not an error: a batch mixes grey and colour)."""
    if fmt.is_video or fmt is OutputFormat.JPG:
        return f"8-bit output: --bit-depth 16 applies to PNG and TIFF stills, not {fmt.value.upper()}"
    if is_color:
        return ("8 bits per channel: --bit-depth 16 applies to grayscale; "
                "(0028,0004) PhotometricInterpretation is a colour one")
    return None


def _note_once(result: ExportResult, note: str | None) -> None:
    if note is not None and note not in result.notes:
        result.notes.append(note)


def cap_size(size: tuple[int, int], max_side: int | None, max_size: tuple[int, int] | None = None) -> tuple[int, int]:
    """Scale (rows, cols) down so the long side is at most ``max_side`` and the image fits in
    ``max_size`` (width, height), keeping the aspect ratio."""
    factor = 1.0
    if max_side and max(size) > max_side:
        factor = max_side / max(size)
    if max_size is not None:
        factor = min(factor, max_size[0] / size[1], max_size[1] / size[0])
    if factor >= 1:
        return size
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
    out_shape = pipeline.fitted_shape(out_shape)  # letterbox padding holds no image
    if pipeline.figure_dpi is not None:
        return pipeline.figure_dpi(out_shape)
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
    ds: Dataset, options: ExportOptions, fmt: OutputFormat, frames: int, result: ExportResult,
    *, state: PresentationState | None = None,
) -> FramePipeline:
    """Plan everything the pixels need from the ORIGINAL header, before de-identification.

    None of it is PHI (geometry, LUTs, regions, timing), and mask presets match
    on attributes that de-identification removes. Raises BurnedInError when the
    object must be refused. ``state`` is the presentation state applied to this
    image, if any; figure options (overlays, crop, scale bar...) are planned by
    :func:`dcmexport.pipeline.figure.plan_figure`.
    """
    from dcmexport.pipeline.figure import figure_dpi, plan_figure, resolve_voi
    from dcmexport.render.presentation import PresentationRenderers
    from dcmexport.render.viewport import plan_viewport

    render_options = options.render
    if fmt.is_video or fmt is OutputFormat.JPG:
        render_options = replace(render_options, bit_depth=8)
    render_options = resolve_voi(ds, render_options, result)
    renderers: FrameRenderers
    if render_options.window_stack:
        windows = [w for w in render_options.window_stack if isinstance(w, Window)]  # resolve_voi resolved presets
        renderers = StackedRenderers(ds, render_options, windows)  # type: ignore[assignment]
    elif state is not None:
        renderers = PresentationRenderers(  # type: ignore[assignment]
            ds, state, render_options, str(ds.get("SOPInstanceUID", "")))
    else:
        renderers = FrameRenderers(ds, render_options)
    if options.render.bit_depth == 16:
        _note_once(result, _bit_depth_note(fmt, renderers.first.is_color))
    if renderers.varies and not any(n.startswith("per-frame") for n in result.notes):
        result.notes.append(f"per-frame rescale/window from the functional groups ({renderers.distinct} distinct)")
    plan = plan_masks(ds, options.mask)  # raises BurnedInError when refusing
    result.notes.extend(note for note in plan.notes if note not in result.notes)
    spacing = pixel_spacing_from_dataset(ds) if render_options.aspect else None
    rows, cols = int(ds.Rows), int(ds.Columns)
    out_size = aspect_size(rows, cols, spacing) if spacing is not None else (rows, cols)
    side_capped = cap_size(out_size, render_options.max_side)
    out_size = cap_size(out_size, render_options.max_side, render_options.max_size)
    figure = None
    if state is not None or options.figure.shapes_pixels:
        figure = plan_figure(ds, options, render_options, frames, result, state=state, aspect_spacing=spacing)
        out_size = figure.viewport.out_size
    ocr_frames: frozenset[int] = frozenset()
    if options.mask.ocr_check is not OcrCheck.OFF:
        from dcmexport.mask.ocr import ocr_available, read_text

        if not ocr_available():
            read_text(np.zeros((8, 8), np.uint8))  # raises MissingDependencyError naming what to install
        n = frames if fmt.is_video or options.encode.frames.selection is FrameSelection.ALL else 1
        ocr_frames = frozenset(range(frames)) if options.mask.ocr_all_frames else frozenset({0, n // 2, n - 1})
    late = figure is not None and any(d.labels for d in (figure.default_drawing, *figure.drawings.values()))
    detect = frozenset({0}) if not ocr_frames and (late or may_carry_burned_in(ds)) else frozenset()
    record_masks = not plan.is_empty and not result.mask_boxes  # a series: its first masked slice's
    if record_masks:
        result.notes.append(f"masked: {plan.describe()}")
    if figure is None and out_size != (rows, cols) and not any(n.startswith("resized") for n in result.notes):
        why = f"aspect from {spacing.source}" if spacing is not None else ""
        if render_options.max_side and max(out_size) == render_options.max_side:
            why = f"{why}, " if why else ""
            why += f"long side capped at {render_options.max_side}"
        elif out_size != side_capped and render_options.max_size is not None:
            why = f"{why}, " if why else ""
            why += "fitted in {}x{}".format(*render_options.max_size)
        result.notes.append(f"resized {cols}x{rows} -> {out_size[1]}x{out_size[0]} ({why})")
    if render_options.size is not None:
        _note_letterbox(result, out_size, render_options.size)
    pipeline = FramePipeline(
        renderers,
        plan,
        out_size if out_size != (rows, cols) else None,
        ocr=options.mask.ocr_check,
        ocr_frames=ocr_frames,
        detect_frames=detect,
        spacing=spacing,
        stored_shape=(rows, cols),
        figure=figure,
        late_checks=late,
        size=render_options.size,
    )
    if record_masks:  # in output pixels: through the aspect or the figure's viewport, then the letterbox
        result.mask_boxes = pipeline.boxes_out(plan.blank, rows, cols)
        if plan.keep is not None:
            result.keep_boxes = pipeline.boxes_out(plan.keep, rows, cols)
    if figure is not None:
        physical = figure.physical_spacing or spacing
        pipeline.figure_dpi = lambda shape: figure_dpi(options.figure, figure.viewport, physical, shape)
    elif options.figure.dpi is not None or options.figure.width_mm is not None:
        viewport = plan_viewport(rows, cols, spacing=spacing, max_side=render_options.max_side)
        pipeline.figure_dpi = lambda shape: figure_dpi(options.figure, viewport, spacing, shape)
    return pipeline


def _note_letterbox(result: ExportResult, out_size: tuple[int, int], size: tuple[int, int]) -> None:
    """Note ``--size`` (once for a series); the boxes recorded follow it through :meth:`FramePipeline.boxes_out`."""
    box = letterbox_geometry(out_size[0], out_size[1], *size)
    note = (f"letterboxed {out_size[1]}x{out_size[0]} -> {box.inner_cols}x{box.inner_rows} in {size[0]}x{size[1]} "
            "(black padding)")
    if note not in result.notes:
        result.notes.append(note)


def output_boxes(boxes: tuple[tuple[int, int, int, int], ...], rows: int, cols: int, out_size: tuple[int, int],
                  figure: FigureRenderer | None) -> list[tuple[int, int, int, int]]:
    """Stored-pixel boxes in output pixels (through the figure's viewport when there is one); off-view ones dropped."""
    if figure is None:
        return [scale_box(b, rows, cols, out_size) for b in boxes]
    return [m for m in (figure.viewport.map_box(b) for b in boxes) if m is not None]


def _output_keep(figure: FigureRenderer | None, plan: MaskPlan) -> tuple[tuple[int, int, int, int], ...] | None:
    """The plan's keep regions in output pixels, for a text check on the output."""
    if plan.keep is None or figure is None:
        return plan.keep
    return tuple(m for m in (figure.viewport.map_box(b) for b in plan.keep) if m is not None)
