"""The typer application every command registers on (its own module, so commands do not import the package face)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dcmexport",
    help="De-identify DICOM images and export them as PNG/JPG/TIFF stills or MP4/WebM/GIF clips.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,  # tracebacks can quote dataset values: never show them by default
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """De-identify DICOM images and export them as PNG/JPG/TIFF stills or MP4/WebM/GIF clips."""
