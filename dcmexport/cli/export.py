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
    distribution,
    existing_paths,
    finish,
    folded_statuses,
    load_key_and_map,
    run_batch,
    usage_errors,
)
from dcmexport.cli.net import net_inputs, net_query, net_settings
from dcmexport.errors import UsageError
from dcmexport.options import DEFAULT_OCR_STEP, OcrCheck, OutputFormat, RedactText

EXPORT_EPILOG = """\
Examples:

  dcmexport export study/ --out slides/            # PNG stills, MP4 for cines

  dcmexport export ct.dcm -o fig/ --format tiff --bit-depth 16 --window 40,400

  dcmexport export us_clip.dcm --out video/ --format mp4 --mask 0,0,640,60

  dcmexport export study/ --out slides/ --preset slides     # or case-report

  dcmexport export ct_series/ --out video/ --series --fps 12     # one clip each

  dcmexport export cd.zip --out sheets/ --series --montage --format png

  dcmexport export ct.dcm --out fig/ --window lung --crop 40,60,200,150 --scale-bar auto

  dcmexport export study/ --out fig/ --presentation-state auto --annotations graphics
"""


@app.command("export", epilog=EXPORT_EPILOG)
def export_command(
    ctx: typer.Context,
    inputs: params.Inputs,
    out: params.OutDir,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="auto (PNG for single frames, MP4 for multi-frame), png, jpg, tiff, mp4, webm or gif.", case_sensitive=False, rich_help_panel=params.OUTPUT, metavar="FORMAT")] = OutputFormat.AUTO,
    window: Annotated[str | None, typer.Option(help="VOI window CENTER,WIDTH, e.g. 40,400, or a preset name such as lung (`dcmexport presets`); overrides the file. Three windows C/W,C/W,C/W (or names), e.g. 40/80,80/200,600/2800, make an 8-bit RGB image, one window per channel (grayscale input only).", rich_help_panel=params.RENDERING, metavar="C,W|NAME|A,B,C")] = None,
    window_name: params.WindowName = None,
    window_index: Annotated[int, typer.Option(help="Which of the file's windows / VOI LUTs to use (0-based).", min=0, rich_help_panel=params.RENDERING, metavar="N")] = 0,
    bit_depth: Annotated[int, typer.Option(help="8, or 16 for grayscale PNG/TIFF.", rich_help_panel=params.RENDERING, metavar="8|16")] = 8,
    aspect: Annotated[bool, typer.Option("--aspect/--no-aspect", help="Resample to square pixels from the pixel spacing.", rich_help_panel=params.RENDERING)] = True,
    max_side: Annotated[int | None, typer.Option(help="Cap the output's long side in pixels (e.g. 1920 for slides).", rich_help_panel=params.OUTPUT, metavar="PIXELS")] = None,
    preset: Annotated[str | None, typer.Option(help="Workflow preset from presets/workflows: slides, case-report, teaching-video; flags given here win.", rich_help_panel=params.OUTPUT, metavar="NAME")] = None,
    frames: Annotated[str, typer.Option(help="Stills from multi-frame objects: first, all, or a 0-based frame number.", rich_help_panel=params.OUTPUT, metavar="first|all|N")] = "first",
    series: Annotated[bool, typer.Option(help="Group single-frame images by series into one scroll-through clip, in slice order (Instance Number when orientations differ).", rich_help_panel=params.CLIPS)] = False,
    montage: Annotated[bool, typer.Option(help="With --series and --format png/jpg/tiff: one contact sheet per series.", rich_help_panel=params.CLIPS)] = False,
    fps: Annotated[float | None, typer.Option(help="Clip frame rate (default: the rate the file records).", rich_help_panel=params.CLIPS, metavar="FPS")] = None,
    quality: Annotated[int, typer.Option(help="JPEG and WebP quality 1..100.", rich_help_panel=params.OUTPUT, metavar="1-100")] = 95,
    crf: Annotated[int | None, typer.Option(help="Video quality: constant-rate factor, lower is better (default: the format's own, MP4 18, WebM 32).", show_default=False, rich_help_panel=params.CLIPS, metavar="CRF")] = None,
    frame_range: Annotated[str | None, typer.Option(help="Keep frames A:B[:STEP] (0-based, B exclusive, negative from the end).", show_default=False, rich_help_panel=params.CLIPS, metavar="A:B[:STEP]")] = None,
    speed: Annotated[float, typer.Option(help="Playback speed 0.25..4 (frame times divided by it).", rich_help_panel=params.CLIPS, metavar="F")] = 1.0,
    loop: Annotated[int, typer.Option(help="GIF/WebP/APNG: number of plays, 0 = forever.", min=0, rich_help_panel=params.CLIPS, metavar="N")] = 0,
    lossless: Annotated[bool, typer.Option(help="WebP: lossless instead of --quality.", rich_help_panel=params.CLIPS)] = False,
    max_size: Annotated[str | None, typer.Option(help="Fit the output within WIDTHxHEIGHT, e.g. 1920x1080.", show_default=False, rich_help_panel=params.OUTPUT, metavar="WxH")] = None,
    size: Annotated[str | None, typer.Option(help="Fixed output size WIDTHxHEIGHT for model input: fit (aspect kept), centred, padded with black (0); applied last; even sides for mp4/webm.", show_default=False, rich_help_panel=params.OUTPUT, metavar="WxH")] = None,
    layout: params.LayoutOpt = None,
    dataset: params.DatasetOpt = None,
    max_fps: Annotated[float | None, typer.Option(help="Fastest clip rate written; faster clips play slower, every frame kept.", show_default=False, rich_help_panel=params.CLIPS, metavar="FPS")] = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H on every frame (repeatable; negative X/Y from the right/bottom).", rich_help_panel=params.BURNED_IN, metavar="X,Y,W,H")] = None,
    mask_file: params.MaskFile = None,
    mask_presets: params.MaskPresets = True,
    mask_us_regions: params.MaskUsRegions = None,
    accept_burned_in: Annotated[bool, typer.Option("--accept-burned-in", help="Export objects that may carry burned-in text even when no mask covers it.", rich_help_panel=params.BURNED_IN)] = False,
    ocr_check: Annotated[OcrCheck, typer.Option(help="off; report: run Tesseract on masked frames and report text it reads; strict: refuse the object.", case_sensitive=False, rich_help_panel=params.BURNED_IN, metavar="MODE")] = OcrCheck.OFF,
    ocr_frames: Annotated[str, typer.Option(help="Frames of a clip OCR reads: sample (first, middle, last; --redact-text also every 10th), N (also every Nth) or all.", rich_help_panel=params.BURNED_IN, metavar="WHICH")] = "sample",
    redact_text: Annotated[RedactText, typer.Option(help="Find burned-in text with OCR (Tesseract) and mask it on every frame: all text (inside ultrasound regions only PHI-like text), or phi: all but allow-listed settings words. A second OCR pass must then read nothing PHI-like, or the object is refused.", case_sensitive=False, rich_help_panel=params.BURNED_IN, metavar="MODE")] = RedactText.OFF,
    profile: params.Profile = "basic",
    retain: params.Retain = None,
    clean: params.Clean = None,
    safe_harbor: params.SafeHarbor = False,
    key_file: params.KeyFile = None,
    patient_map: params.PatientMap = None,
    linkage: params.Linkage = None,
    also_dicom: Annotated[bool, typer.Option("--also-dicom", help="Also write the de-identified DICOM beside the media.", rich_help_panel=params.OUTPUT)] = False,
    overwrite: params.Overwrite = False,
    keep_existing: params.KeepExisting = False,
    review: Annotated[bool, typer.Option("--review", help="Write OUT/review.html: thumbnails with masks outlined, for the visual PHI check.", rich_help_panel=params.BATCH)] = False,
    presentation_state: params.PresentationState = None,
    annotations: params.AnnotationsOpt = "graphics",
    overlays: params.Overlays = False,
    overlay_color: params.OverlayColor = None,
    crop: params.Crop = None,
    crop_mm: params.CropMm = None,
    zoom: params.Zoom = 1.0,
    scale_bar: params.ScaleBarOpt = None,
    scale_bar_corner: params.ScaleBarCorner = "bottom-right",
    dpi: params.Dpi = None,
    width_mm: params.WidthMm = None,
    study: params.Study = None,
    series_uid: params.SeriesUid = None,
    accession: params.Accession = None,
    patient_id: params.PatientId = None,
    study_date: params.StudyDate = None,
    calling_aet: params.CallingAet = "DCMEXPORT",
    move_dest: params.MoveDest = None,
    net_timeout: params.NetTimeout = 30.0,
    auth_file: params.AuthFile = None,
    ca_file: params.CaFile = None,
    jobs: params.Jobs = 0,
    executor: params.ExecutorChoice = params.ExecutorName.LOCAL,
    scheduler: params.Scheduler = None,
    scheduler_file: params.SchedulerFile = None,
    shard: params.ShardPart = None,
    timeout: params.Timeout = None,
    log: params.LogFile = None,
    quiet: params.Quiet = False,
    verbose: params.Verbose = False,
    json_out: params.JsonOut = False,
    debug: params.Debug = False,
) -> None:
    """De-identify DICOM objects and export them as stills or clips."""
    with collector_paused():
        from dcmexport import api
        from dcmexport.pipeline.startup import prepare_options

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
        check_linkage_option(linkage, out)  # first: a bad --linkage must stop the run before any output
        chosen: dict[str, Any] = {
            "format": format, "bit_depth": bit_depth, "aspect": aspect, "max_side": max_side, "quality": quality,
            "crf": crf, "fps": fps, "frames": frames, "window_index": window_index, "series": series,
            "montage": montage, "frame_range": frame_range, "speed": speed, "loop": loop, "lossless": lossless,
            "max_size": max_size, "max_fps": max_fps, "dpi": dpi, "width_mm": width_mm,
        }
        if preset is not None:
            chosen = apply_workflow(ctx, preset, chosen)
        options = prepare_options(api.build_options(
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
            layout=layout, dataset=dataset, size=size,
            window_name=window_name, presentation_state=presentation_state, annotations=annotations,
            overlays=overlays, overlay_color=overlay_color, crop=crop, crop_mm=crop_mm, zoom=zoom,
            scale_bar=scale_bar, scale_bar_corner=scale_bar_corner,
            **chosen,
        ))
        net = net_settings(calling_aet, move_dest, net_timeout, auth_file, ca_file)
        sources = net_inputs(inputs, net_query(study, series_uid, accession, patient_id, study_date), net)
        key, mapping = load_key_and_map(key_file, patient_map)
        spread = distribution(executor, scheduler, scheduler_file, shard)
        batch = run_batch("export", sources, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log, spread=spread,
                          fold=folded_statuses(quiet=quiet, json_out=json_out, linkage=linkage), linkage=linkage, review=review)
    raise typer.Exit(finish(batch, inputs, as_json=json_out, quiet=quiet, verbose=verbose))


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
