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

Inputs = Annotated[list[Path], typer.Argument(help="DICOM files or folders (searched recursively), or a network source pacs://AET@host:port or dicomweb+https://host/path.", show_default=False)]
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
