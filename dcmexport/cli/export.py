"""``dcmexport export``: parse options, call :func:`dcmexport.api.export`, print the summary."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dcmexport.cli import params
from dcmexport.cli.app import app
from dcmexport.cli.common import (
    check_linkage_option,
    collector_paused,
    configure_logging,
    default_jobs,
    deid_options_from_flags,
    existing_paths,
    finish_linkage,
    load_key_and_map,
    print_summary,
    run_batch,
    usage_errors,
)
from dcmexport.errors import UsageError
from dcmexport.options import DEFAULT_OCR_STEP, OcrCheck, OutputFormat, RedactText

EXPORT_EPILOG = """\
Examples:

  dcmexport export study/ --out slides/                      # PNG stills, MP4 for cines

  dcmexport export ct.dcm --out fig/ --format tiff --bit-depth 16 --window 40,400

  dcmexport export us_clip.dcm --out video/ --format mp4 --mask 0,0,640,60

  dcmexport export study/ --out slides/ --preset slides              # also: case-report, teaching-video

  dcmexport export ct_series/ --out video/ --series --fps 12         # one scroll-through clip per series

  dcmexport export cd.zip --out sheets/ --series --montage --format png
"""


@app.command("export", epilog=EXPORT_EPILOG)
def export_command(
    ctx: typer.Context,
    inputs: params.Inputs,
    out: params.OutDir,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="auto: PNG for single frames, MP4 for multi-frame.", case_sensitive=False)] = OutputFormat.AUTO,
    window: Annotated[str | None, typer.Option(help="VOI window CENTER,WIDTH, e.g. 40,400 (overrides the file).")] = None,
    window_index: Annotated[int, typer.Option(help="Which of the file's windows / VOI LUTs to use (0-based).", min=0)] = 0,
    bit_depth: Annotated[int, typer.Option(help="8, or 16 for grayscale PNG/TIFF.")] = 8,
    aspect: Annotated[bool, typer.Option("--aspect/--no-aspect", help="Resample to square pixels from the pixel spacing.")] = True,
    max_side: Annotated[int | None, typer.Option(help="Cap the output's long side in pixels (e.g. 1920 for slides).")] = None,
    preset: Annotated[str | None, typer.Option(help="Workflow preset from presets/workflows: slides, case-report, teaching-video; flags given here win.")] = None,
    frames: Annotated[str, typer.Option(help="Stills from multi-frame objects: first, all, or a 0-based frame number.")] = "first",
    series: Annotated[bool, typer.Option(help="Group single-frame images by series into one scroll-through clip, in slice order.")] = False,
    montage: Annotated[bool, typer.Option(help="With --series and --format png/jpg/tiff: one contact sheet per series.")] = False,
    fps: Annotated[float | None, typer.Option(help="Clip frame rate (default: the rate the file records).")] = None,
    quality: Annotated[int, typer.Option(help="JPEG quality 1..100.")] = 95,
    crf: Annotated[int | None, typer.Option(help="Video quality: constant-rate factor, lower is better (default: the format's own, MP4 18, WebM 32).", show_default=False)] = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H on every frame (repeatable; negative X/Y from the right/bottom).")] = None,
    mask_file: params.MaskFile = None,
    mask_presets: params.MaskPresets = True,
    mask_us_regions: params.MaskUsRegions = None,
    accept_burned_in: Annotated[bool, typer.Option(help="Export objects that may carry burned-in text even when no mask covers it.")] = False,
    ocr_check: Annotated[OcrCheck, typer.Option(help="Run Tesseract on masked frames: report text it reads, or refuse the object (strict).", case_sensitive=False)] = OcrCheck.OFF,
    ocr_frames: Annotated[str, typer.Option(help="Frames of a clip OCR reads: sample (first, middle, last; --redact-text also every 10th), N (also every Nth) or all.")] = "sample",
    redact_text: Annotated[RedactText, typer.Option(help="Find burned-in text with OCR (Tesseract) and mask it on every frame: all text (inside ultrasound regions only PHI-like text), or phi: all but allow-listed settings words. A second OCR pass must then read nothing PHI-like, or the object is refused.", case_sensitive=False)] = RedactText.OFF,
    profile: params.Profile = "basic",
    retain: params.Retain = None,
    clean: params.Clean = None,
    safe_harbor: params.SafeHarbor = False,
    key_file: params.KeyFile = None,
    patient_map: params.PatientMap = None,
    linkage: params.Linkage = None,
    also_dicom: Annotated[bool, typer.Option(help="Also write the de-identified DICOM beside the media.")] = False,
    overwrite: params.Overwrite = False,
    keep_existing: params.KeepExisting = False,
    review: Annotated[bool, typer.Option(help="Write OUT/review.html: thumbnails with masks outlined, for the visual PHI check.")] = False,
    jobs: params.Jobs = 0,
    timeout: params.Timeout = None,
    log: params.LogFile = None,
    quiet: params.Quiet = False,
    json_out: params.JsonOut = False,
    debug: params.Debug = False,
) -> None:
    """De-identify DICOM objects and export them as stills or clips."""
    with collector_paused():
        from dcmexport import api

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
        check_linkage_option(linkage, out)  # first: a bad --linkage must stop the run before any output
        chosen: dict[str, Any] = {
            "format": format, "bit_depth": bit_depth, "aspect": aspect, "max_side": max_side, "quality": quality,
            "crf": crf, "fps": fps, "frames": frames, "window_index": window_index, "series": series,
            "montage": montage,
        }
        if preset is not None:
            chosen = apply_workflow(ctx, preset, chosen)
        options = api.build_options(
            out,
            window=window,
            masks=mask or (),
            mask_file=mask_file,
            mask_presets=mask_presets,
            mask_us_regions=mask_us_regions,
            accept_burned_in=accept_burned_in,
            ocr_check=ocr_check,
            ocr_all_frames=_ocr_all(ocr_frames),
            redact_text=redact_text,
            ocr_step=_ocr_step(ocr_frames),
            deid=deid_options_from_flags(profile, retain, clean, safe_harbor),
            also_dicom=also_dicom,
            overwrite=overwrite,
            keep_existing=keep_existing,
            timeout=timeout,
            **chosen,
        )
        key, mapping = load_key_and_map(key_file, patient_map)
        batch = run_batch("export", inputs, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log)
        finish_linkage(batch, linkage, out)
        if review:
            from dcmexport.audit.review import write_review

            batch.notes.append(f"review page: {write_review(out)}")
    print_summary(batch, as_json=json_out, quiet=quiet)
    raise typer.Exit(batch.exit_code)


def apply_workflow(ctx: typer.Context, name: str, chosen: dict[str, Any]) -> dict[str, Any]:
    """Overlay a workflow preset on the options, except those the user typed on the command line."""
    from dcmexport.workflows import load_workflow

    merged = dict(chosen)
    for key, value in load_workflow(name).items():
        source = ctx.get_parameter_source(key)
        if getattr(source, "name", None) != "COMMANDLINE":
            merged[key] = value
    return merged


def _ocr_all(text: str) -> bool:
    if text not in ("sample", "all") and not text.isdigit():
        raise UsageError(f"--ocr-frames must be sample, all or a number of frames N, got {text!r}")
    return text == "all"


def _ocr_step(text: str) -> int:
    return int(text) if text.isdigit() else DEFAULT_OCR_STEP
