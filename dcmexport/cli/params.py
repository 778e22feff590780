"""Command-line parameters that several commands share, declared once (name, flags, help, checks).

Each is an ``Annotated`` type that typer reads from a command's signature, so
``export`` and ``deid`` offer the same option with the same help text and the
same validation; a command whose wording must differ declares its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcmexport.cli.common import CLEAN_HELP, RETAIN_HELP
from dcmexport.executors import ExecutorName

Inputs = Annotated[list[Path], typer.Argument(help="DICOM files or folders (searched recursively).", show_default=False)]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).", file_okay=False)]

# Burned-in text
MaskFile = Annotated[Path | None, typer.Option(help="TOML file of mask rectangles.", exists=True, dir_okay=False)]
MaskPresets = Annotated[bool, typer.Option("--mask-presets/--no-mask-presets", help="Apply matching burned-in mask presets.")]
MaskUsRegions = Annotated[bool | None, typer.Option("--mask-us-regions/--no-mask-us-regions", help="Blank outside ultrasound regions (default: on for US).", show_default=False)]

# De-identification
Profile = Annotated[str, typer.Option(help="De-identification profile from presets/profiles (see `dcmexport presets`).")]
Retain = Annotated[list[str] | None, typer.Option("--retain", help=RETAIN_HELP)]
Clean = Annotated[list[str] | None, typer.Option("--clean", help=CLEAN_HELP)]
SafeHarbor = Annotated[bool, typer.Option(help="HIPAA Safe Harbor: dates reduced to the year, ages over 89 become 090Y.")]
KeyFile = Annotated[Path | None, typer.Option(help="Secret key for consistent pseudonyms across runs (else DCMEXPORT_KEY, else random).", exists=True, dir_okay=False)]
PatientMap = Annotated[Path | None, typer.Option(help="CSV original_patient_id,new_patient_id,new_patient_name for a cohort.", exists=True, dir_okay=False)]
Linkage = Annotated[Path | None, typer.Option(help="Add original -> pseudonym pairs to this CSV (outside --out; mode 0600; kept across runs) for the data custodian.")]

# Running a batch
Overwrite = Annotated[bool, typer.Option(help="Redo every output that already exists (by default only those made under other options are redone).")]
KeepExisting = Annotated[bool, typer.Option(help="Never replace an existing output; one made under other options is reported as kept (exit 1).")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes; 0 = the machine's cores.", min=0)]
Timeout = Annotated[float | None, typer.Option(help="Per-object time limit in seconds (stops a runaway object; nothing of it is kept).")]
LogFile = Annotated[Path | None, typer.Option(help="Append a PHI-free line per object to this file (inputs by SHA-256, never by path).", dir_okay=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary table.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
Debug = Annotated[bool, typer.Option(help="Show tracebacks (may quote file contents: keep them private).")]

# Distributing a batch (issue #13)
ExecutorChoice = Annotated[ExecutorName, typer.Option("--executor", help="Where objects are processed: local (this machine, --jobs processes) or dask (a dask.distributed cluster; pip install 'dcmexport[dask]').", case_sensitive=False)]
Scheduler = Annotated[str | None, typer.Option("--scheduler", help="With --executor dask: the scheduler's address, e.g. tcp://10.0.0.5:8786 (default: a local cluster of --jobs workers).", show_default=False)]
SchedulerFile = Annotated[Path | None, typer.Option("--scheduler-file", help="With --executor dask: the scheduler's file (dask scheduler --scheduler-file FILE).", exists=True, dir_okay=False, show_default=False)]
ShardPart = Annotated[str | None, typer.Option("--shard", help="Process only part I of N (0-based, e.g. 3/8), for job arrays; auto: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; auto/N: from JOB_COMPLETION_INDEX. Then: dcmexport merge OUT.", show_default=False)]
