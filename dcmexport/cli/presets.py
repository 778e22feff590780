"""``dcmexport presets``: the de-identification profiles and burned-in mask presets shipped in presets/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from dcmexport.cli.app import app
from dcmexport.cli.common import collector_paused, out_console, usage_errors

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

    from dcmexport.mask import MaskPreset

PRESETS_EPILOG = """\
Examples:

  dcmexport presets                 # profiles and the burned-in mask presets

  dcmexport presets --no-masks      # profiles and window presets

  dcmexport presets --no-masks --no-windows   # profiles only
"""

#: A table needs this many columns besides the longest name; a narrower console gets a list.
_TABLE_SPARE = 40


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
        names = list_profiles()
        table = Table(title="de-identification profiles (--profile)", header_style="bold")
        table.add_column("profile", no_wrap=True, min_width=max((len(n) for n in names), default=7))
        table.add_column("options on", overflow="fold")
        for name in names:
            table.add_row(name, ", ".join(load_profile(name).enabled()) or "(Basic Profile only)")
        out_console.print(table)
        if windows:
            out_console.print(window_presets_table(), markup=False)
        if masks:
            print_mask_presets(load_mask_presets())


def print_mask_presets(presets: Sequence[MaskPreset]) -> None:
    """Print the mask presets with their names whole (issue #19 item 10: names are copied into rules).

    A table when the console has room for the longest name and the conditions; otherwise
    each name on a line of its own (never cut, even past the edge) with its conditions
    wrapped and indented below it.
    """
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    title = f"burned-in mask presets ({len(presets)})"
    longest = max((len(p.name) for p in presets), default=4)
    rows = [(p.name, " ".join(f"{k}={'|'.join(map(str, v))}" for k, v in vars(p.match).items() if v), len(p.rects))
            for p in presets]  # fmt: skip
    if out_console.width >= longest + _TABLE_SPARE:
        table = Table(title=title, header_style="bold")
        table.add_column("name", no_wrap=True, min_width=longest)
        table.add_column("matches", overflow="fold")
        table.add_column("rects", justify="right", no_wrap=True)
        for name, conditions, count in rows:
            table.add_row(name, conditions, str(count))
        out_console.print(table)
        return
    out_console.print(title, markup=False, highlight=False)
    for name, conditions, count in rows:
        out_console.print(Text.assemble((name, "bold"), f"  {count} rect{'' if count == 1 else 's'}"),
                          no_wrap=True, overflow="ignore", crop=False)  # fmt: skip
        out_console.print(Padding(Text(conditions, overflow="fold"), (0, 0, 0, 4)))


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
