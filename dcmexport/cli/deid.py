"""``dcmexport deid``: write de-identified DICOM Part 10 files (no media)."""

from __future__ import annotations

from typing import Annotated

import typer

from dcmexport.cli import app, params
from dcmexport.cli.common import (
    check_linkage_option,
    collector_paused,
    configure_logging,
    default_jobs,
    deid_options_from_flags,
    distribution,
    existing_paths,
    finish_linkage,
    folded_statuses,
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
    inputs: params.Inputs,
    out: params.OutDir,
    profile: params.Profile = "basic",
    retain: params.Retain = None,
    clean: params.Clean = None,
    safe_harbor: params.SafeHarbor = False,
    key_file: params.KeyFile = None,
    patient_map: params.PatientMap = None,
    linkage: params.Linkage = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H in the pixel data (repeatable).")] = None,
    mask_file: params.MaskFile = None,
    mask_presets: params.MaskPresets = True,
    mask_us_regions: params.MaskUsRegions = None,
    accept_burned_in: Annotated[bool, typer.Option(help="Write objects that may carry burned-in text even when no mask covers it.")] = False,
    overwrite: params.Overwrite = False,
    keep_existing: params.KeepExisting = False,
    jobs: params.Jobs = 0,
    executor: params.ExecutorChoice = params.ExecutorName.LOCAL,
    scheduler: params.Scheduler = None,
    scheduler_file: params.SchedulerFile = None,
    shard: params.ShardPart = None,
    timeout: params.Timeout = None,
    log: params.LogFile = None,
    quiet: params.Quiet = False,
    json_out: params.JsonOut = False,
    debug: params.Debug = False
) -> None:
    """Write de-identified DICOM files (PS3.15 Annex E), burned-in text masked in the pixel data."""
    with collector_paused():
        from dcmexport import api

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
        check_linkage_option(linkage, out)  # first: a bad --linkage must stop the run before any output
        options = api.build_options(
            out,
            masks=mask or (),
            mask_file=mask_file,
            mask_presets=mask_presets,
            mask_us_regions=mask_us_regions,
            accept_burned_in=accept_burned_in,
            deid=deid_options_from_flags(profile, retain, clean, safe_harbor),
            overwrite=overwrite,
            keep_existing=keep_existing,
            timeout=timeout,
        )
        key, mapping = load_key_and_map(key_file, patient_map)
        spread = distribution(executor, scheduler, scheduler_file, shard)
        batch = run_batch("deid", inputs, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log, spread=spread,
                          fold=folded_statuses(quiet=quiet, json_out=json_out, linkage=linkage))
        finish_linkage(batch, spread.linkage(linkage), out)
    print_summary(batch, as_json=json_out, quiet=quiet)
    raise typer.Exit(batch.exit_code)
