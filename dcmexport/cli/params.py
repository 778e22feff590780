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

# Help panels (rich_help_panel), in the order ``export --help`` shows them: most used first.
OUTPUT = "Output"
RENDERING = "Rendering"
CLIPS = "Clips"
BURNED_IN = "Burned-in text"
DEID = "De-identification"
BATCH = "Batch and audit"
FIGURES = "Figures"

Inputs = Annotated[list[Path], typer.Argument(help="DICOM files or folders (searched recursively), or a network source pacs://AET@host:port or dicomweb+https://host/path.", show_default=False)]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).", file_okay=False, rich_help_panel=OUTPUT, metavar="DIR")]

# Burned-in text
MaskFile = Annotated[Path | None, typer.Option(help="TOML file of mask rectangles.", exists=True, dir_okay=False, rich_help_panel=BURNED_IN, metavar="TOML")]
MaskPresets = Annotated[bool, typer.Option("--mask-presets/--no-mask-presets", help="Apply matching burned-in mask presets.", rich_help_panel=BURNED_IN)]
MaskUsRegions = Annotated[bool | None, typer.Option("--mask-us-regions/--no-mask-us-regions", help="Blank outside ultrasound regions (default: on for US).", show_default=False, rich_help_panel=BURNED_IN)]

# De-identification
Profile = Annotated[str, typer.Option(help="De-identification profile from presets/profiles (see `dcmexport presets`).", rich_help_panel=DEID, metavar="NAME")]
Retain = Annotated[list[str] | None, typer.Option("--retain", help=RETAIN_HELP, rich_help_panel=DEID, metavar="OPTION")]
Clean = Annotated[list[str] | None, typer.Option("--clean", help=CLEAN_HELP, rich_help_panel=DEID, metavar="OPTION")]
SafeHarbor = Annotated[bool, typer.Option("--safe-harbor", help="HIPAA Safe Harbor: dates reduced to the year, ages over 89 become 090Y.", rich_help_panel=DEID)]
KeyFile = Annotated[Path | None, typer.Option(help="Secret key for consistent pseudonyms across runs (else DCMEXPORT_KEY, else random).", exists=True, dir_okay=False, rich_help_panel=DEID, metavar="FILE")]
PatientMap = Annotated[Path | None, typer.Option(help="Explicit pseudonyms for a cohort: a CSV with the columns original_patient_id, new_patient_id, new_patient_name (UTF-8).", exists=True, dir_okay=False, rich_help_panel=DEID, metavar="CSV")]
Linkage = Annotated[Path | None, typer.Option(help="Add original -> pseudonym pairs to this CSV (outside --out; mode 0600; kept across runs) for the data custodian.", rich_help_panel=DEID, metavar="CSV")]

# Running a batch
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Redo every output that already exists (by default only those made under other options are redone).", rich_help_panel=BATCH)]
KeepExisting = Annotated[bool, typer.Option("--keep-existing", help="Never replace an existing output; one made under other options is reported as kept (exit 1).", rich_help_panel=BATCH)]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes; 0 = the machine's cores.", min=0, rich_help_panel=BATCH, metavar="N")]
Timeout = Annotated[float | None, typer.Option(help="Per-object time limit in seconds (stops a runaway object; nothing of it is kept).", rich_help_panel=BATCH, metavar="SECONDS")]
LogFile = Annotated[Path | None, typer.Option(help="Append a PHI-free line per object to this file (inputs by SHA-256, never by path).", dir_okay=False, rich_help_panel=BATCH, metavar="FILE")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary table.", rich_help_panel=BATCH)]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also list each non-DICOM file skipped (always in --log and --json).", rich_help_panel=BATCH)]
JsonOut = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.", rich_help_panel=BATCH)]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks (may quote file contents: keep them private).", rich_help_panel=BATCH)]

# Figures (issue #15): window presets, presentation states, overlays, crop and zoom, scale bar, print resolution
WindowName = Annotated[str | None, typer.Option(help="Use the file's window whose (0028,1055) explanation is this text (e.g. LUNG).", rich_help_panel=RENDERING)]
PresentationState = Annotated[str | None, typer.Option("--presentation-state", help="Apply a Grayscale Softcopy Presentation State: a FILE, or auto (states among the inputs that reference the image). States are consumed, never exported.", show_default=False, rich_help_panel=FIGURES)]
AnnotationsOpt = Annotated[str, typer.Option("--annotations", help="Presentation-state annotations to burn in: none, graphics, or text (graphics and text objects; text can carry PHI and is checked like burned-in text).", rich_help_panel=FIGURES)]
Overlays = Annotated[bool, typer.Option("--overlays/--no-overlays", help="Burn the 60xx overlay planes (graphics; ROI as outlines). Off by default: overlays can carry identifying text.", rich_help_panel=FIGURES)]
OverlayColor = Annotated[str | None, typer.Option(help="Overlay colour: white, black, yellow..., #RRGGBB or a grey level 0..255 (default white).", show_default=False, rich_help_panel=FIGURES)]
Crop = Annotated[str | None, typer.Option(help="Crop X,Y,W,H in stored pixels from the top-left corner.", show_default=False, rich_help_panel=FIGURES)]
CropMm = Annotated[str | None, typer.Option(help="Crop X,Y,W,H in millimetres from the pixel spacing.", show_default=False, rich_help_panel=FIGURES)]
Zoom = Annotated[float, typer.Option(help="Scale the output by this factor (after aspect correction and crop).", rich_help_panel=FIGURES)]
ScaleBarOpt = Annotated[str | None, typer.Option("--scale-bar", help="Draw a scale bar: auto, or a length such as 10mm or 1cm (needs a trustworthy pixel spacing).", show_default=False, rich_help_panel=FIGURES)]
ScaleBarCorner = Annotated[str, typer.Option(help="Scale bar corner: bottom-right, bottom-left, top-right, top-left.", rich_help_panel=FIGURES)]
Dpi = Annotated[float | None, typer.Option(help="Resolution written into PNG/TIFF/JPEG; with --width-mm the image is resampled to print that wide.", show_default=False, rich_help_panel=FIGURES)]
WidthMm = Annotated[float | None, typer.Option(help="Printed width in mm (a journal column): the dpi follows from the output width.", show_default=False, rich_help_panel=FIGURES)]

# Network sources and destinations (pacs://, dicomweb+https://)
_NET = "Network"
Study = Annotated[list[str] | None, typer.Option("--study", help="Study Instance UID to take from a network source (repeatable).", rich_help_panel=_NET, show_default=False)]
SeriesUid = Annotated[list[str] | None, typer.Option("--series-uid", help="Series Instance UID to take from a network source (repeatable).", rich_help_panel=_NET, show_default=False)]
Accession = Annotated[list[str] | None, typer.Option("--accession", help="Accession Number of the studies to take (repeatable).", rich_help_panel=_NET, show_default=False)]
PatientId = Annotated[list[str] | None, typer.Option("--patient-id", help="Patient ID whose studies to take (repeatable).", rich_help_panel=_NET, show_default=False)]
StudyDate = Annotated[str | None, typer.Option("--study-date", help="Study Date YYYYMMDD or range FROM-TO (20240101-20240131, 20240101-).", rich_help_panel=_NET, show_default=False)]
CallingAet = Annotated[str, typer.Option("--calling-aet", help="dcmexport's AE title towards a PACS.", rich_help_panel=_NET)]
MoveDest = Annotated[str | None, typer.Option("--move-dest", help="C-MOVE to dcmexport's own storage SCP AET:port (the PACS must know it); default C-GET.", rich_help_panel=_NET, show_default=False)]
NetTimeout = Annotated[float, typer.Option("--net-timeout", help="Seconds to wait for a server's answer before giving up.", rich_help_panel=_NET)]
AuthFile = Annotated[Path | None, typer.Option("--auth-file", help="DICOMweb credentials, TOML (token, or username and password), mode 0600; else DCMEXPORT_DICOMWEB_TOKEN / _USER / _PASSWORD.", rich_help_panel=_NET, dir_okay=False, show_default=False)]
CaFile = Annotated[Path | None, typer.Option("--ca-file", help="Also trust this CA certificate (PEM) for https.", rich_help_panel=_NET, dir_okay=False, show_default=False)]
ForwardTo = Annotated[str | None, typer.Option("--to", help="Also store each de-identified object here: pacs://AET@host:port (C-STORE) or dicomweb+https://host/path (STOW-RS).", rich_help_panel=_NET, show_default=False)]

# Distributing a batch (issue #13)
ExecutorChoice = Annotated[ExecutorName, typer.Option("--executor", help="Where objects are processed: local (this machine, --jobs processes) or dask (a dask.distributed cluster; pip install 'dcmexport[dask]').", case_sensitive=False, rich_help_panel=BATCH)]
Scheduler = Annotated[str | None, typer.Option("--scheduler", help="With --executor dask: the scheduler's address, e.g. tcp://10.0.0.5:8786 (default: a local cluster of --jobs workers).", show_default=False, rich_help_panel=BATCH)]
SchedulerFile = Annotated[Path | None, typer.Option("--scheduler-file", help="With --executor dask: the scheduler's file (dask scheduler --scheduler-file FILE).", exists=True, dir_okay=False, show_default=False, rich_help_panel=BATCH)]
ShardPart = Annotated[str | None, typer.Option("--shard", help="Process only part I of N (0-based, e.g. 3/8), for job arrays; auto: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; auto/N: from JOB_COMPLETION_INDEX. Then: dcmexport merge OUT.", show_default=False, rich_help_panel=BATCH)]
