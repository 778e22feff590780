"""One object through read -> de-identify -> render -> mask -> encode: media (export) or DICOM (deid).

Every failure becomes an :class:`ExportResult` with a PHI-free reason, so a
batch goes on with the rest (fail closed per object).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from dcmexport.atomic import OutputExistsError
from dcmexport.deid import Deidentifier
from dcmexport.errors import (
    UnsupportedError,
)
from dcmexport.mask import MaskPlan, plan_masks
from dcmexport.options import (
    ExportOptions,
)
from dcmexport.pipeline.clip import plan_checks_for_cut, plan_clip
from dcmexport.pipeline.facts import facts_from_dataset
from dcmexport.pipeline.frames import (
    ocr_read_nothing,
    output_stem,
    pixel_state,
    plan_pixels,
    resolve_format,
    still_indices,
)
from dcmexport.pipeline.guard import log, run_guarded
from dcmexport.pipeline.naming import make_parents, named, output_base
from dcmexport.pipeline.passthrough import encode_jpeg_clip, passthrough_plan
from dcmexport.pipeline.redaction import redact_text
from dcmexport.pipeline.resume import DUPLICATE_REASON, ResumeIndex, apply_resume, no_resume
from dcmexport.pipeline.states import choose_state
from dcmexport.pipeline.writing import (
    FrameProgress,
    count_pixel_text,
    encode_clip,
    note_verification,
    remove_outputs,
    write_dicom,
    write_still_atomic,
)
from dcmexport.read import (
    check_pixel_geometry,
    has_pixels,
    iter_frames,
    read_dataset,
    read_small_file,
    sha256_file,
)
from dcmexport.results import (
    SKIPPED,
    WRITTEN,
    ExportResult,
)


def export_file(
    path: Path,
    options: ExportOptions,
    deidentifier: Deidentifier,
    *,
    on_frame: Callable[[], None] | None = None,
    resume: ResumeIndex | None = None,
    presentations: Sequence[Path] = (),
) -> ExportResult:
    """Export one DICOM object; never raises for an expected failure.

    Args:
        path: the input file (opened read-only).
        options: the run's options.
        deidentifier: the run's keyed de-identifier (same key -> same pseudonyms).
        on_frame: called after each frame is encoded (progress).
        resume: what is known of existing outputs (None: any existing output is redone).
        presentations: presentation state files that may apply (the most recent referencing the image does).

    Returns:
        The result; its ``status`` is written, skipped, kept, failed or refused.
    """
    index = resume or no_resume(options)
    return run_guarded(path, lambda result: _export_file(path, options, deidentifier, result, on_frame, index,
                                                         presentations), options.timeout)


def _export_file(
    path: Path,
    options: ExportOptions,
    deidentifier: Deidentifier,
    result: ExportResult,
    on_frame: Callable[[], None] | None,
    resume: ResumeIndex,
    presentations: Sequence[Path] = (),
) -> None:
    ds = read_dataset(path)
    frames = check_pixel_geometry(ds)
    result.frames = frames
    fmt = resolve_format(options.encode.format, frames)
    if fmt.is_video and frames < 2:
        result.status = SKIPPED
        result.reason = "single-frame object: not a clip (use --format auto or png/jpg/tiff, or --series)"
        return
    clip = plan_clip(ds, frames, fmt, options) if fmt.is_video else None  # timing: before de-identification
    if clip is not None:
        result.frames = clip.count  # what the clip holds, also when an existing one is skipped
    state = choose_state(ds, presentations, options.figure.presentation.mode, result) if presentations else None
    pipeline = plan_pixels(ds, options, fmt, frames, result, state=state)
    if clip is not None and clip.indices is not None:
        plan_checks_for_cut(pipeline, clip.count, options)
    read = (list(clip.indices) if clip is not None and clip.indices is not None else list(range(frames))) \
        if fmt.is_video else still_indices(options.encode.frames, frames)
    redact_text(path, ds, pipeline, options, result, numbers=read, clip=fmt.is_video)  # OCR boxes join the plan
    passthrough = passthrough_plan(path, ds, fmt, pipeline) if fmt.is_video else None

    input_sha = sha256_file(path)
    result.input_sha256 = input_sha
    pixels = pixel_state(ds, pipeline.plan, options)
    report = deidentifier.deidentify(ds, pixels=pixels)  # fail closed: before any output
    result.action_counts = dict(report.action_counts)
    result.instance_uid = report.sop_instance_uid
    base = output_base(options, ds, output_stem(report.sop_instance_uid, input_sha))

    planned: list[Path]
    if fmt.is_video:
        planned = [named(base, fmt.extension)]
    else:
        indices = still_indices(options.encode.frames, frames)
        if options.series and options.encode.montage and len(indices) < frames:
            result.notes.append(
                f"multi-frame object: --series --montage makes contact sheets of single-frame images only; "
                f"{len(indices)} of its {frames} frames exported as a still (--frames all for every frame)"
            )
        planned = [named(base, fmt.extension if frames == 1 else f"_f{i:04d}{fmt.extension}") for i in indices]
    if options.also_dicom:
        planned.append(named(base, ".dcm"))
    write_options = apply_resume(resume, planned, options, result)
    if write_options is None:
        return
    options = write_options
    make_parents(planned, options.out_dir)

    written: list[Path] = []
    try:
        if clip is not None:
            clip.apply_to(result)
            progress = FrameProgress(on_frame)
            if passthrough is not None:
                try:
                    encode_jpeg_clip(planned[0], clip, fmt, path, ds, passthrough, pipeline, options, progress)
                except UnsupportedError:
                    log.debug("JPEG passthrough declined mid-clip; decoding the frames in Python", exc_info=True)
                    passthrough = None
                    progress.replay()  # frames already reported are not reported twice
            if passthrough is None:
                numbers = clip.indices
                decoded = iter_frames(path, ds, indices=numbers)
                images = (pipeline(frame, i, number=None if numbers is None else numbers[i])
                          for i, frame in enumerate(decoded))
                encode_clip(planned[0], fmt, clip.fps, images, clip.count, options, progress,
                            timestamps=clip.timestamps)
            written.append(planned[0])
        else:
            stills = [p for p in planned if p.suffix != ".dcm"]
            for final, index, frame in zip(stills, indices, iter_frames(path, ds, indices=indices), strict=True):
                image = pipeline(frame, 0 if len(indices) == 1 else index, number=index)
                write_still_atomic(final, image, fmt, options, pipeline)
                written.append(final)
                if on_frame is not None:
                    on_frame()
        if options.also_dicom:
            deidentifier.mark(ds, replace(pixels, ocr_clean=ocr_read_nothing(pipeline, frames)))  # OCR has run now
            count_pixel_text(result, write_dicom(ds, pipeline.plan, planned[-1], overwrite=options.overwrite))
            written.append(planned[-1])
    except OutputExistsError:
        _lost_race(result)  # the files at these names are another worker's: never removed here
        return
    except BaseException:
        remove_outputs(written)
        raise
    result.outputs = written
    result.status = WRITTEN
    result.dataset = facts_from_dataset(ds, pipeline)
    note_verification(result, [pipeline])


def _lost_race(result: ExportResult) -> None:
    """A name that did not exist when the object was planned exists now: another worker of this run
    wrote it, from the same input bytes under the same options (names are digests of both), so this
    object is a duplicate. Its own temporaries go with its group; it vouches for no file (the
    record of the object that wrote them does)."""
    result.status, result.reason, result.outputs = SKIPPED, DUPLICATE_REASON, []


def deid_file(path: Path, options: ExportOptions, deidentifier: Deidentifier,
              resume: ResumeIndex | None = None) -> ExportResult:
    """De-identify one object to ``<out>/<stem>.dcm``; never raises for an expected failure."""
    index = resume or no_resume(options)
    return run_guarded(path, lambda result: _deid_file(path, options, deidentifier, result, index), options.timeout)


def _deid_file(path: Path, options: ExportOptions, deidentifier: Deidentifier, result: ExportResult,
               resume: ResumeIndex) -> None:
    data = read_small_file(path)  # one read serves the hash and the parse (None: too large, stream)
    ds = read_dataset(path, data)
    plan = MaskPlan()
    if has_pixels(ds):
        result.frames = check_pixel_geometry(ds)
        plan = plan_masks(ds, options.mask)
        result.notes.extend(plan.notes)
        if not plan.is_empty:
            result.notes.append(f"masked: {plan.describe()}")
    result.input_sha256 = hashlib.sha256(data).hexdigest() if data is not None else sha256_file(path)
    report = deidentifier.deidentify(ds, pixels=pixel_state(ds, plan, options))
    result.action_counts = dict(report.action_counts)
    result.instance_uid = report.sop_instance_uid
    final = named(output_base(options, ds, output_stem(report.sop_instance_uid, result.input_sha256)), ".dcm")
    write_options = apply_resume(resume, [final], options, result)
    if write_options is None:
        return
    make_parents([final], options.out_dir)
    try:
        count_pixel_text(result, write_dicom(ds, plan, final, overwrite=write_options.overwrite))
    except OutputExistsError:
        _lost_race(result)
        return
    result.outputs = [final]
    result.status = WRITTEN
    result.dataset = facts_from_dataset(ds)
