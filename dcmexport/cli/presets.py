"""``dcmexport presets``: the de-identification profiles and burned-in mask presets shipped in presets/."""

from __future__ import annotations

from typing import Annotated

import typer

from dcmexport.cli.app import app
from dcmexport.cli.common import collector_paused, out_console, usage_errors

PRESETS_EPILOG = """\
Examples:

  dcmexport presets                 # profiles and the burned-in mask presets

  dcmexport presets --no-masks      # profiles only
"""


@app.command("presets", epilog=PRESETS_EPILOG)
def presets_command(
    masks: Annotated[bool, typer.Option("--masks/--no-masks", help="List the mask presets too.")] = True,
) -> None:
    """List de-identification profiles and burned-in mask presets."""
    from rich.table import Table

    with collector_paused():
        from dcmexport.deid import list_profiles, load_profile
        from dcmexport.mask import load_mask_presets
        from dcmexport.presets import presets_dir

    with usage_errors():
        out_console.print(f"presets directory: {presets_dir()}", markup=False)
        table = Table(title="de-identification profiles (--profile)", header_style="bold")
        table.add_column("profile")
        table.add_column("options on")
        for name in list_profiles():
            table.add_row(name, ", ".join(load_profile(name).enabled()) or "(Basic Profile only)")
        out_console.print(table)
        if masks:
            presets = load_mask_presets()
            mt = Table(title=f"burned-in mask presets ({len(presets)})", header_style="bold")
            for col in ("name", "matches", "rectangles"):
                mt.add_column(col)
            for p in presets:
                conditions = [
                    f"{k}={'|'.join(map(str, v))}" for k, v in vars(p.match).items() if v
                ]
                mt.add_row(p.name, " ".join(conditions), str(len(p.rects)))
            out_console.print(mt)
