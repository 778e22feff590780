"""``dcmexport verify``: re-read outputs and report what should not be there."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dcmexport.cli import app, params
from dcmexport.cli.common import (
    collector_paused,
    configure_logging,
    deid_options_from_flags,
    existing_paths,
    out_console,
    usage_errors,
)

VERIFY_EPILOG = """\
Examples:

  dcmexport verify out/

  dcmexport verify out/ --against study/

  dcmexport verify out/ --against study/ --against more/ --profile research --json

Exit status: 0 nothing found (or only findings that do not fail: pixels accepted
by the user with --accept-burned-in, weak evidence such as a short or common value
or one inside a longer word), 1 findings, 2 usage error.

Findings name the file, the kind and a tag, keyword or chunk; values only with --show-values.

On a terminal the findings are a table; piped, one tab-separated line each.
"""


@app.command("verify", epilog=VERIFY_EPILOG)
def verify_command(
    paths: Annotated[list[Path], typer.Argument(help="Output files or folders to check (searched recursively).", show_default=False)],
    against: Annotated[list[Path] | None, typer.Option("--against", "-a", help="Original DICOM file, folder, zip or DICOMDIR the outputs came from (repeatable): search outputs for its PHI values.")] = None,
    profile: Annotated[str, typer.Option(help="De-identification profile the outputs were made with (see `dcmexport presets`).")] = "basic",
    retain: params.Retain = None,
    clean: params.Clean = None,
    safe_harbor: Annotated[bool, typer.Option(help="The outputs were made with --safe-harbor.")] = False,
    patient_map: Annotated[Path | None, typer.Option(help="The --patient-map CSV of the export: its pseudonyms are accepted.", exists=True, dir_okay=False)] = None,
    show_values: Annotated[bool, typer.Option(help="Also print the offending values (PHI: only on a private screen).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line.")] = False,
    debug: params.Debug = False,
) -> None:
    """Check outputs for PHI: DICOM attributes the profile removes, media metadata, and input values."""
    from rich.table import Table

    with collector_paused():
        from dcmexport.audit.verify import verify_paths

    configure_logging(debug)
    existing_paths([*paths, *(against or [])])
    with usage_errors(debug):
        options = deid_options_from_flags(profile, retain, clean, safe_harbor)
        pseudonyms: list[str] = []
        if patient_map is not None:
            from dcmexport.audit.linkage import read_patient_map

            pseudonyms = [v for pair in read_patient_map(patient_map).values() for v in pair]
        if against:
            _refuse_inputs_as_outputs(paths, against)
        report = verify_paths(paths, against=against or (), options=options, pseudonyms=pseudonyms,
                              show_values=show_values)
    if json_out:
        payload = {
            "files_checked": report.files_checked,
            "values_searched": report.values_searched,
            "findings": [
                {"file": f.file, "kind": f.kind, "category": f.category, "fails": f.category.fails, "detail": f.detail,
                 **({"value": f.value} if show_values else {})}
                for f in report.findings
            ],
            "summary": report.summary(),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        raise typer.Exit(report.exit_code)
    if report.findings and not quiet and not out_console.is_terminal:
        # Piped or captured: one tab-separated line per finding, never wrapped (grep-friendly).
        for f in report.findings:
            typer.echo("\t".join([f.file, f.kind, f.detail, *([f.value or ""] if show_values else [])]))
    elif report.findings and not quiet:
        table = Table(title="dcmexport verify: findings", header_style="bold")
        for col in ("file", "kind", "detail"):
            table.add_column(col, overflow="fold")
        if show_values:
            table.add_column("value (PHI)", overflow="fold")
        for f in report.findings:
            table.add_row(f.file, f.kind, f.detail, *([f.value or ""] if show_values else []))
        out_console.print(table)
    typer.echo(report.summary())
    raise typer.Exit(report.exit_code)


def _refuse_inputs_as_outputs(paths: list[Path], against: list[Path]) -> None:
    """Stop when a path to verify looks like an original: ``--against a b`` takes only ``a``.

    Raises:
        UsageError: with the repeated ``--against`` form to use instead.
    """
    from dcmexport.audit.verify.run import looks_like_input
    from dcmexport.errors import UsageError

    reasons = {p: looks_like_input(p) for p in paths}
    inputs = [p for p, reason in reasons.items() if reason is not None]
    if not inputs:
        return
    outputs = [str(p) for p in paths if reasons[p] is None] or ["OUT"]
    form = " ".join(["dcmexport verify", *outputs, *(f"--against {p}" for p in [*against, *inputs])])
    raise UsageError(
        f"{reasons[inputs[0]]}: it looks like an original input, not a dcmexport output. "
        f"--against takes one value each time; repeat it for every original: {form}"
    )
