"""``dcmexport presets``: the de-identification profiles and burned-in mask presets shipped in presets/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dcmexport.cli.app import app
from dcmexport.cli.common import collector_paused, out_console, usage_errors

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

PRESETS_EPILOG = """\
Examples:

  dcmexport presets                 # profiles and the burned-in mask presets

  dcmexport presets --no-masks      # profiles and window presets

  dcmexport presets --no-masks --no-windows   # profiles only
"""


@app.command("presets", epilog=PRESETS_EPILOG)
def presets_command(
    masks: Annotated[bool, typer.Option("--masks/--no-masks", help="List the mask presets too.")] = True,
    windows: Annotated[bool, typer.Option("--windows/--no-windows", help="List the window presets (--window NAME) too.")] = True,
) -> None:
    """List de-identification profiles, window presets and burned-in mask presets."""
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
        if windows:
            out_console.print(window_presets_table(), markup=False)
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


def window_presets_table() -> Table:
    """The window presets of presets/windows.toml as a table; the sources are cited in its caption."""
    from rich.table import Table
    from rich.text import Text

    from dcmexport.windows import load_window_presets

    presets = load_window_presets().values()
    sources = {p.source.key: p.source for p in presets}
    caption = "\n".join(f"[{key}] {source.cite()}" for key, source in sources.items())
    table = Table(title="window presets (--window NAME)", caption=Text(caption), caption_justify="left",
                  header_style="bold")
    for col in ("name", "center / width", "modalities", "region", "source"):
        table.add_column(col, overflow="fold")
    for p in presets:
        table.add_row(p.name, f"{p.center:g} / {p.width:g} {p.units}", ", ".join(p.modalities), p.region,
                      Text(f"[{p.source.key}]" + (f" {p.note}" if p.note else "")))
    return table
