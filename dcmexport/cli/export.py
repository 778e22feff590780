"""``dcmexport export``: parse options, call :func:`dcmexport.api.export`, print the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dcmexport.cli import app
from dcmexport.cli.common import (
    CLEAN_HELP,
    RETAIN_HELP,
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
from dcmexport.options import OcrCheck, OutputFormat

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
    inputs: Annotated[list[Path], typer.Argument(help="DICOM files or folders (searched recursively).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).", file_okay=False)],
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
    crf: Annotated[int, typer.Option(help="Video quality (H.264/VP9 CRF; lower is better).")] = 18,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H on every frame (repeatable; negative X/Y from the right/bottom).")] = None,
    mask_file: Annotated[Path | None, typer.Option(help="TOML file of mask rectangles.", exists=True, dir_okay=False)] = None,
    mask_presets: Annotated[bool, typer.Option("--mask-presets/--no-mask-presets", help="Apply matching burned-in mask presets.")] = True,
    mask_us_regions: Annotated[bool | None, typer.Option("--mask-us-regions/--no-mask-us-regions", help="Blank outside ultrasound regions (default: on for US).", show_default=False)] = None,
    accept_burned_in: Annotated[bool, typer.Option(help="Export objects that may carry burned-in text even when no mask covers it.")] = False,
    ocr_check: Annotated[OcrCheck, typer.Option(help="Run Tesseract on masked frames: report text it reads, or refuse the object (strict).", case_sensitive=False)] = OcrCheck.OFF,
    ocr_frames: Annotated[str, typer.Option(help="Frames the OCR check reads: sample (first, middle, last) or all.")] = "sample",
    profile: Annotated[str, typer.Option(help="De-identification profile from presets/profiles (see `dcmexport presets`).")] = "basic",
    retain: Annotated[list[str] | None, typer.Option("--retain", help=RETAIN_HELP)] = None,
    clean: Annotated[list[str] | None, typer.Option("--clean", help=CLEAN_HELP)] = None,
    safe_harbor: Annotated[bool, typer.Option(help="HIPAA Safe Harbor: dates reduced to the year, ages over 89 become 090Y.")] = False,
    key_file: Annotated[Path | None, typer.Option(help="Secret key for consistent pseudonyms across runs (else DCMEXPORT_KEY, else random).", exists=True, dir_okay=False)] = None,
    patient_map: Annotated[Path | None, typer.Option(help="CSV original_patient_id,new_patient_id,new_patient_name for a cohort.", exists=True, dir_okay=False)] = None,
    linkage: Annotated[Path | None, typer.Option(help="Write original -> pseudonym pairs here (outside --out; mode 0600) for the data custodian.")] = None,
    also_dicom: Annotated[bool, typer.Option(help="Also write the de-identified DICOM beside the media.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Redo outputs that already exist.")] = False,
    review: Annotated[bool, typer.Option(help="Write OUT/review.html: thumbnails with masks outlined, for the visual PHI check.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes; 0 = the machine's cores.", min=0)] = 0,
    timeout: Annotated[float | None, typer.Option(help="Per-object time limit in seconds (stops a runaway object; nothing of it is kept).")] = None,
    log: Annotated[Path | None, typer.Option(help="Append a PHI-free line per object to this file (inputs by SHA-256, never by path).", dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary table.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks (may quote file contents: keep them private).")] = False,
) -> None:
    """De-identify DICOM objects and export them as stills or clips."""
    with collector_paused():
        from dcmexport import api

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
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
            deid=deid_options_from_flags(profile, retain, clean, safe_harbor),
            also_dicom=also_dicom,
            overwrite=overwrite,
            timeout=timeout,
            **chosen,
        )
        key, mapping = load_key_and_map(key_file, patient_map, linkage, out)
        batch = run_batch("export", inputs, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log)
        finish_linkage(batch, linkage, out)
        if review:
            from dcmexport.review import write_review

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
    if text not in ("sample", "all"):
        raise UsageError(f"--ocr-frames must be sample or all, got {text!r}")
    return text == "all"
