"""One object's pixel mask sources (``--redact-text``): render the sampled frames, run the OCR
redaction, then export or refuse.

Runs after :func:`~dcmexport.pipeline.frames.plan_pixels` (the header plan) and before anything
else looks at the plan (the JPEG passthrough, the marking, the outputs), in the worker that
exports the object. The redaction's boxes join the plan, so they are blanked on every frame of
every output, in ``--also-dicom`` pixel data and by the JPEG passthrough's ffmpeg boxes.

Policy (issue #17): an object the header plan would refuse (suspect, nothing covers it) carries
its refusal deferred (:attr:`MaskPlan.unresolved`); it is exported only when the redaction's
second pass reads nothing PHI-like and nothing inside a masked area. Any object whose second
pass reads such text is refused, with counts, never words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.errors import BurnedInError
from dcmexport.mask import MaskPlan
from dcmexport.mask.plan import pixel_sources
from dcmexport.options import ExportOptions
from dcmexport.pipeline.frames import FramePipeline
from dcmexport.read import iter_frames
from dcmexport.results import ExportResult

#: The name of the OCR redaction in PLAN_INPUTS and in a plan's sources.
SOURCE = "ocr-redact"


def redact_text(
    path: Path,
    ds: Dataset,
    pipeline: FramePipeline,
    options: ExportOptions,
    result: ExportResult,
    *,
    numbers: Sequence[int],
    clip: bool,
) -> None:
    """Run ``--redact-text`` on one object: its boxes join ``pipeline.plan``, or the object is refused.

    Frames read: every exported still; for clips the first, middle, last and every Nth frame
    (``--ocr-frames``), rendered and masked by the header plan first.

    Args:
        path: the input file (frames are decoded again per pass, none is held between them).
        ds: the object (not yet de-identified).
        pipeline: the object's frame pipeline; its ``plan`` is replaced.
        options: the run's options.
        result: gets the text boxes, the findings (counts) and a note.
        numbers: the object's frames that are exported (0-based, in output order): a clip's frames
            (``--frame-range`` applied) or the stills ``--frames`` chooses.
        clip: the object becomes a clip (``numbers`` are sampled), else stills (each one is read).

    Raises:
        BurnedInError: the second pass still reads PHI-like text or text inside a masked area.
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    if SOURCE not in pixel_sources(options.mask):
        return
    from dcmexport.mask.redact import redact_frames

    plan = pipeline.plan
    header_plan = replace(plan, unresolved=None)  # what the header blanks, applied before OCR reads
    all_frames = options.mask.ocr_all_frames if clip else True  # stills: every exported frame is read

    def get_frame(position: int) -> np.ndarray:
        number = numbers[position]
        (frame,) = iter_frames(path, ds, indices=[number])
        image = pipeline.renderers.for_frame(number).render(frame)
        if pipeline.figure is not None:  # overlays and shutters are drawn before the masks: read them too
            image = pipeline.figure.apply_stored(image, number)
        return header_plan.apply(image, fill=0)

    redaction = redact_frames(get_frame, len(numbers), mode=options.mask.redact_text, keep=plan.keep,
                              all_frames=all_frames, step=options.mask.ocr_step)
    findings = redaction.findings
    for name, value in findings.as_counts().items():  # a series adds up its slices
        result.text_findings[name] = round(result.text_findings.get(name, 0) + value, 3)
    rows, columns = int(ds.Rows), int(ds.Columns)
    for hit in findings.hits:  # places, categories and confidences: also for a refusal (where to look)
        x0, y0, x1, y1 = (int(v) for v in hit.box)  # frame pixels (integers) until mapped here
        for box in pipeline.boxes_out(((x0, y0, x1, y1),), rows, columns):
            placed = replace(hit, box=box)
            if placed not in result.text_hits:
                result.text_hits.append(placed)
    if not findings.clean:
        deferred = f"{plan.unresolved}; " if plan.unresolved else ""
        raise BurnedInError(
            f"{deferred}--redact-text {options.mask.redact_text}: after masking, a second OCR pass still reads "
            f"{findings.check_phi} PHI-like word(s) and {findings.check_inside} word(s) inside masked areas on "
            f"{findings.check_frames} frame(s) (places: text_hits in the manifest); add --mask X,Y,W,H over "
            "the text, or review the object by hand"
        )
    boxes = tuple(b for b in redaction.boxes if b not in plan.blank)
    pipeline.plan = MaskPlan(
        blank=plan.blank + boxes, keep=plan.keep,
        sources=plan.sources + ((SOURCE,) if boxes else ()), notes=plan.notes,
    )  # fmt: skip
    result.text_boxes.extend(b for b in pipeline.boxes_out(boxes, rows, columns)
                             if b not in result.text_boxes)
    result.mask_boxes.extend(b for b in pipeline.boxes_out(pipeline.plan.blank, rows, columns)
                             if b not in result.mask_boxes)
    if any(note.startswith(SOURCE) for note in result.notes):
        return  # a series: one note for its first slice, the counts add up in text_findings
    per_frame = findings.seconds / max(1, findings.frames)
    result.notes.append(
        f"{SOURCE} ({options.mask.redact_text}): {len(boxes)} text box(es) masked on every frame, "
        f"{findings.frames} of {len(numbers)} frame(s) read; second pass read nothing PHI-like; "
        f"OCR {findings.seconds:.1f} s ({per_frame:.2f} s per frame read)"
    )
