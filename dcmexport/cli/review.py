"""``dcmexport review``: write the self-contained review page of an output directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcmexport.cli import app
from dcmexport.cli.common import collector_paused, configure_logging, out_console, usage_errors

REVIEW_EPILOG = """\
Examples:

  dcmexport review slides/            # writes slides/review.html and prints its path

  dcmexport export study/ --out slides/ && dcmexport review slides/
"""


@app.command("review", epilog=REVIEW_EPILOG)
def review_command(
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="An output directory written by `dcmexport export` (holds manifest.jsonl).",
            file_okay=False,
            show_default=False,
        ),
    ],
    debug: Annotated[
        bool, typer.Option(help="Show tracebacks (may quote file contents: keep them private).")
    ] = False,
) -> None:
    """Write OUT_DIR/review.html: thumbnails of every output with masks outlined, for a visual PHI check.

    The page is one file with nothing external (no network, no other files):
    open it in a browser, tick each file once nothing identifying is visible,
    and download the review state as JSON for the record.
    """
    with collector_paused():
        from dcmexport.audit.review import write_review

    configure_logging(debug)
    with usage_errors(debug):
        path = write_review(out_dir)
    out_console.print(str(path), markup=False)
