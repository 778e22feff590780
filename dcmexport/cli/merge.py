"""``dcmexport merge``: combine the manifest and linkage parts of a sharded run (``--shard I/N``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcmexport.cli.app import app
from dcmexport.cli.common import err_console, usage_errors

MERGE_EPILOG = """\
Examples:

  dcmexport merge out/                                   # after every shard of --shard I/N has finished

  dcmexport merge out/ --linkage ~/custodian/links.csv   # also the shards' linkage parts
"""


@app.command("merge", epilog=MERGE_EPILOG)
def merge_command(
    out: Annotated[Path, typer.Argument(help="The --out directory the shards wrote to.", exists=True, file_okay=False)],
    linkage: Annotated[Path | None, typer.Option(help="The --linkage path the shards were given: add their parts to it.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Combine the shards' manifest parts into OUT/manifest.jsonl; report missing or duplicated objects (exit 1)."""
    from dcmexport.audit.merge import merge_parts

    with usage_errors(debug):
        report = merge_parts(out, linkage)
    err_console.print(f"merged {len(report.merged_parts)} manifest parts of {report.count} shards into "
                      f"{out / 'manifest.jsonl'}: {report.objects} objects in the shards' newest runs", markup=False)
    if report.linkage_pairs is not None:
        err_console.print(f"linkage table: {report.linkage_pairs} pairs in {linkage} (PHI: keep it with the data "
                          "custodian)", markup=False)
    for problem in report.problems:
        err_console.print(f"dcmexport: {problem}", markup=False)
    raise typer.Exit(1 if report.problems else 0)
