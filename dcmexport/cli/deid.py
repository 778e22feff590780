"""``dcmexport deid``: write de-identified DICOM Part 10 files (no media)."""

from __future__ import annotations

from typing import Annotated

import typer

from dcmexport.cli import app
from dcmexport.cli.common import (
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
from dcmexport.cli.params import (
    Clean,
    Debug,
    Inputs,
    Jobs,
    JsonOut,
    KeyFile,
    Linkage,
    LogFile,
    MaskFile,
    MaskPresets,
    MaskUsRegions,
    OutDir,
    Overwrite,
    PatientMap,
    Profile,
    Quiet,
    Retain,
    SafeHarbor,
    Timeout,
)

DEID_EPILOG = """\
Examples:

  dcmexport deid study/ --out deid/ --key-file project.key --linkage ~/custodian/links.csv

  dcmexport deid study/ --out deid/ --profile longitudinal --retain device-id
"""


@app.command("deid", epilog=DEID_EPILOG)
def deid_command(
    inputs: Inputs,
    out: OutDir,
    profile: Profile = "basic",
    retain: Retain = None,
    clean: Clean = None,
    safe_harbor: SafeHarbor = False,
    key_file: KeyFile = None,
    patient_map: PatientMap = None,
    linkage: Linkage = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H in the pixel data (repeatable).")] = None,
    mask_file: MaskFile = None,
    mask_presets: MaskPresets = True,
    mask_us_regions: MaskUsRegions = None,
    accept_burned_in: Annotated[bool, typer.Option(help="Write objects that may carry burned-in text even when no mask covers it.")] = False,
    overwrite: Overwrite = False,
    jobs: Jobs = 0,
    timeout: Timeout = None,
    log: LogFile = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
    debug: Debug = False
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
