"""``dcmexport deid``: write de-identified DICOM Part 10 files (no media)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

DEID_EPILOG = """\
Examples:

  dcmexport deid study/ --out deid/ --key-file project.key --linkage ~/custodian/links.csv

  dcmexport deid study/ --out deid/ --profile longitudinal --retain device-id
"""


@app.command("deid", epilog=DEID_EPILOG)
def deid_command(
    inputs: Annotated[list[Path], typer.Argument(help="DICOM files or folders (searched recursively).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).", file_okay=False)],
    profile: Annotated[str, typer.Option(help="De-identification profile from presets/profiles (see `dcmexport presets`).")] = "basic",
    retain: Annotated[list[str] | None, typer.Option("--retain", help=RETAIN_HELP)] = None,
    clean: Annotated[list[str] | None, typer.Option("--clean", help=CLEAN_HELP)] = None,
    safe_harbor: Annotated[bool, typer.Option(help="HIPAA Safe Harbor: dates reduced to the year, ages over 89 become 090Y.")] = False,
    key_file: Annotated[Path | None, typer.Option(help="Secret key for consistent pseudonyms across runs (else DCMEXPORT_KEY, else random).", exists=True, dir_okay=False)] = None,
    patient_map: Annotated[Path | None, typer.Option(help="CSV original_patient_id,new_patient_id,new_patient_name for a cohort.", exists=True, dir_okay=False)] = None,
    linkage: Annotated[Path | None, typer.Option(help="Write original -> pseudonym pairs here (outside --out; mode 0600) for the data custodian.")] = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H in the pixel data (repeatable).")] = None,
    mask_file: Annotated[Path | None, typer.Option(help="TOML file of mask rectangles.", exists=True, dir_okay=False)] = None,
    mask_presets: Annotated[bool, typer.Option("--mask-presets/--no-mask-presets", help="Apply matching burned-in mask presets.")] = True,
    mask_us_regions: Annotated[bool | None, typer.Option("--mask-us-regions/--no-mask-us-regions", help="Blank outside ultrasound regions (default: on for US).", show_default=False)] = None,
    accept_burned_in: Annotated[bool, typer.Option(help="Write objects that may carry burned-in text even when no mask covers it.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Redo outputs that already exist.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes; 0 = the machine's cores.", min=0)] = 0,
    timeout: Annotated[float | None, typer.Option(help="Per-object time limit in seconds (stops a runaway object; nothing of it is kept).")] = None,
    log: Annotated[Path | None, typer.Option(help="Append a PHI-free line per object to this file (inputs by SHA-256, never by path).", dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary table.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks (may quote file contents: keep them private).")] = False,
) -> None:
    """Write de-identified DICOM files (PS3.15 Annex E), burned-in text masked in the pixel data."""
    with collector_paused():
        from dcmexport import api

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
        options = api.build_options(
            out,
            masks=mask or (),
            mask_file=mask_file,
            mask_presets=mask_presets,
            mask_us_regions=mask_us_regions,
            accept_burned_in=accept_burned_in,
            deid=deid_options_from_flags(profile, retain, clean, safe_harbor),
            overwrite=overwrite,
            timeout=timeout,
        )
        key, mapping = load_key_and_map(key_file, patient_map, linkage, out)
        batch = run_batch("deid", inputs, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log)
        finish_linkage(batch, linkage, out)
    print_summary(batch, as_json=json_out, quiet=quiet)
    raise typer.Exit(batch.exit_code)
