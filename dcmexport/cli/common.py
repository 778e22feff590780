"""Reporting shared by the commands: progress, the summary table, errors to exit codes.

Everything printed here is built from results whose reasons are PHI-free by
construction; input paths are printed because the user named them.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from dcmexport.errors import DcmexportError

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.api import BatchResult, ExportResult

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)

USAGE_EXIT = 2


@contextmanager
def usage_errors(debug: bool = False) -> Iterator[None]:
    """Turn a DcmexportError raised before or around a run into a one-line message and exit code 2/1."""
    try:
        yield
    except DcmexportError as exc:
        if debug:
            raise
        err_console.print(f"dcmexport: error: {exc}", markup=False)
        raise typer.Exit(USAGE_EXIT if exc.reason in ("usage", "preset", "input", "missing-dependency") else 1) from None


def configure_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("pydicom").disabled = True


def describe_result_line(result: ExportResult) -> str:
    """One line per object that did not simply get written: ``path: status: reason``."""
    return f"{result.source}: {result.status}: {result.reason}"


def print_summary(batch: BatchResult, *, as_json: bool, quiet: bool) -> None:
    """Print the failures (stderr), the summary table and run notes; or a JSON summary on stdout."""
    if as_json:
        payload = {
            "written": batch.count("written"),
            "skipped": batch.count("skipped"),
            "failed": batch.count("failed"),
            "refused": batch.count("refused"),
            "manifest": str(batch.manifest) if batch.manifest else None,
            "notes": batch.notes,
            "objects": [
                {
                    "input": str(r.source),
                    "status": r.status,
                    "reason": r.reason,
                    "outputs": [str(p) for p in r.outputs],
                    "frames": r.frames,
                    "fps": r.fps,
                    "fps_source": r.fps_source,
                    "notes": r.notes,
                }
                for r in batch.results
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    for result in batch.results:
        if result.status in ("failed", "refused"):
            err_console.print(describe_result_line(result), markup=False)
        elif result.status == "skipped" and not quiet:
            err_console.print(describe_result_line(result), markup=False, style="dim")
    if quiet:
        return
    notes = sorted({n for r in batch.results for n in r.notes if n.startswith("no frame timing")})
    table = Table(title="dcmexport summary", show_header=True, header_style="bold")
    for col in ("written", "skipped", "failed", "refused"):
        table.add_column(col, justify="right")
    table.add_row(*(str(batch.count(s)) for s in ("written", "skipped", "failed", "refused")))
    err_console.print(table)
    for note in [*batch.notes, *notes]:
        err_console.print(f"note: {note}", markup=False)
    if batch.manifest:
        err_console.print(f"manifest: {batch.manifest}", markup=False)


def existing_paths(paths: list[Path]) -> list[Path]:
    """Check the inputs exist up front so a typo is a usage error, not a failed object."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        err_console.print(f"dcmexport: error: no such file or directory: {missing[0]}", markup=False)
        raise typer.Exit(USAGE_EXIT)
    return paths
