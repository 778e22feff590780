"""``dcmexport inspect FILE``: what would be removed or replaced, and how the pixels would be treated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcmexport.cli import app
from dcmexport.cli.common import collector_paused, deid_options_from_flags, out_console, usage_errors

INSPECT_EPILOG = """\
Examples:

  dcmexport inspect us_clip.dcm                        # what would be removed, frames, rate, masks

  dcmexport inspect ct.dcm --profile research          # under another profile
"""


@app.command("inspect", epilog=INSPECT_EPILOG)
def inspect_command(
    file: Annotated[Path, typer.Argument(help="One DICOM file.", exists=True, dir_okay=False)],
    profile: Annotated[str, typer.Option(help="De-identification profile to evaluate.")] = "basic",
    show_values: Annotated[bool, typer.Option(help="Also print the current values (PHI: only on a private screen).")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """List the attributes that carry PHI and the action for each (keywords only), plus frames, rate, spacing and masks."""
    from rich.table import Table

    with collector_paused():
        from dcmexport.audit.inspect import inspect_file
        from dcmexport.options import MaskOptions

    with usage_errors(debug):
        info = inspect_file(file, deid_options_from_flags(profile, None, None, False), MaskOptions(),
                            show_values=show_values)
    table = Table(title=f"de-identification ({profile})", header_style="bold")
    for col in ("tag", "keyword / path", "action"):
        table.add_column(col)
    if show_values:
        table.add_column("value (PHI)", overflow="fold")  # folded over lines, never cut
    for row in info.rows:
        cells = [row.tag, row.path or row.keyword or "(private)", row.action]
        if show_values:
            cells.append(info.values.get(row.path, ""))
        table.add_row(*cells)
    out_console.print(table)
    facts = [
        ("SOP Class", info.sop_class),
        ("Modality", info.modality),
        ("Burned In Annotation", info.burned_in_annotation),
        ("frames", "-" if info.frames is None else str(info.frames)),
        ("frame rate", "-" if info.fps is None else f"{info.fps:g} fps ({info.fps_source})"),
        ("pixel spacing", info.spacing or "unknown (no aspect correction)"),
        ("ultrasound regions", str(info.us_regions)),
        ("mask presets matching", ", ".join(info.presets) or "none"),
        ("burned-in risk", info.burned_in_reason or "none known"),
        ("mask plan", info.mask_plan),
    ]
    for name, value in facts:
        out_console.print(f"{name}: {value}", markup=False)
