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

# Figures (issue #15): window presets, presentation states, overlays, crop and zoom, scale bar, print resolution
WindowName = Annotated[str | None, typer.Option(help="Use the file's window whose (0028,1055) explanation is this text (e.g. LUNG).")]
PresentationState = Annotated[str | None, typer.Option("--presentation-state", help="Apply a Grayscale Softcopy Presentation State: a FILE, or auto (states among the inputs that reference the image). States are consumed, never exported.", show_default=False)]
AnnotationsOpt = Annotated[str, typer.Option("--annotations", help="Presentation-state annotations to burn in: none, graphics, or text (graphics and text objects; text can carry PHI and is checked like burned-in text).")]
Overlays = Annotated[bool, typer.Option("--overlays/--no-overlays", help="Burn the 60xx overlay planes (graphics; ROI as outlines). Off by default: overlays can carry identifying text.")]
OverlayColor = Annotated[str | None, typer.Option(help="Overlay colour: white, black, yellow..., #RRGGBB or a grey level 0..255 (default white).", show_default=False)]
Crop = Annotated[str | None, typer.Option(help="Crop X,Y,W,H in stored pixels from the top-left corner.", show_default=False)]
CropMm = Annotated[str | None, typer.Option(help="Crop X,Y,W,H in millimetres from the pixel spacing.", show_default=False)]
Zoom = Annotated[float, typer.Option(help="Scale the output by this factor (after aspect correction and crop).")]
ScaleBarOpt = Annotated[str | None, typer.Option("--scale-bar", help="Draw a scale bar: auto, or a length such as 10mm or 1cm (needs a trustworthy pixel spacing).", show_default=False)]
ScaleBarCorner = Annotated[str, typer.Option(help="Scale bar corner: bottom-right, bottom-left, top-right, top-left.")]
Dpi = Annotated[float | None, typer.Option(help="Resolution written into PNG/TIFF/JPEG; with --width-mm the image is resampled to print that wide.", show_default=False)]
WidthMm = Annotated[float | None, typer.Option(help="Printed width in mm (a journal column): the dpi follows from the output width.", show_default=False)]

