"""``dcmexport deid``: write de-identified DICOM Part 10 files (no media)."""

from __future__ import annotations

from typing import Annotated

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

DEID_EPILOG = """\
Examples:

  dcmexport deid study/ -o deid/ --key-file project.key --linkage ~/links.csv

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
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Blank a rectangle X,Y,W,H in the pixel data (repeatable).", rich_help_panel=params.BURNED_IN, metavar="X,Y,W,H")] = None,
    mask_file: params.MaskFile = None,
    mask_presets: params.MaskPresets = True,
    mask_us_regions: params.MaskUsRegions = None,
    accept_burned_in: Annotated[bool, typer.Option("--accept-burned-in", help="Write objects that may carry burned-in text even when no mask covers it.", rich_help_panel=params.BURNED_IN)] = False,
    overwrite: params.Overwrite = False,
    keep_existing: params.KeepExisting = False,
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
    to: params.ForwardTo = None,
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
    debug: params.Debug = False
) -> None:
    """Write de-identified DICOM files (PS3.15 Annex E), burned-in text masked in the pixel data."""
    with collector_paused():
        from dcmexport import api
        from dcmexport.pipeline.startup import prepare_options

    configure_logging(debug)
    existing_paths(inputs)
    with usage_errors(debug):
        check_linkage_option(linkage, out)  # first: a bad --linkage must stop the run before any output
        options = prepare_options(api.build_options(
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
        ))
        net = net_settings(calling_aet, move_dest, net_timeout, auth_file, ca_file)
        sources = net_inputs(inputs, net_query(study, series_uid, accession, patient_id, study_date), net)
        key, mapping = load_key_and_map(key_file, patient_map)
        spread = distribution(executor, scheduler, scheduler_file, shard)
        batch = run_batch("deid", sources, options, key=key, patient_map=mapping, jobs=jobs or default_jobs(),
                          quiet=quiet, json_out=json_out, log=log, spread=spread,
                          fold=folded_statuses(quiet=quiet, json_out=json_out, linkage=linkage), linkage=linkage, forward_to=to, net=net)
    raise typer.Exit(finish(batch, inputs, as_json=json_out, quiet=quiet, verbose=verbose))
