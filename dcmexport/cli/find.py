"""``dcmexport find``: list the studies and series a PACS or DICOMweb service holds for a query.

UIDs, modalities and counts are shown (they are what ``export --study`` /
``--series-uid`` take); values that identify the patient (Patient ID and name,
dates, accession number, descriptions) only with ``--show-values``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dcmexport.cli import params
from dcmexport.cli.app import app
from dcmexport.cli.common import configure_logging, err_console, out_console, usage_errors
from dcmexport.cli.net import net_query, net_settings

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.sources.remote import StudyRow

FIND_EPILOG = """\
Examples:

  dcmexport find pacs://PACS@pacs.example.org:104 --patient-id 12345

  dcmexport find dicomweb+https://pacs.example.org/dicom-web --study-date 20240101-20240131 --json

  dcmexport find pacs://ORTHANC@localhost:4242 --accession A123 --show-values

Then take what you chose: dcmexport export SOURCE --study UID --out DIR (or --series-uid UID).

Exit status: 0 something matched, 1 nothing matched or the server failed, 2 usage error.
"""


def _rows(studies: list[StudyRow], show_values: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n, study in enumerate(studies, 1):
        row: dict[str, Any] = {
            "study": n, "series": None, "modality": ",".join(study.modalities),
            "series_count": study.series_count if study.series_count is not None else len(study.series),
            "objects": study.count, "uid": study.study_uid,
        }
        if show_values:
            row["values"] = study.values
        rows.append(row)
        for m, series in enumerate(study.series, 1):
            item: dict[str, Any] = {"study": n, "series": m, "modality": series.modality, "number": series.number,
                                    "objects": series.count, "uid": series.series_uid}
            if show_values:
                item["values"] = series.values
            rows.append(item)
    return rows


def _print_table(rows: list[dict[str, Any]], show_values: bool) -> None:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", title="studies and series (values hidden: --show-values)"
                  if not show_values else "studies and series (PHI shown)")
    for column in ("study", "series", "modality", "objects", "UID", *(["values"] if show_values else [])):
        table.add_column(column, overflow="fold")
    for row in rows:
        is_study = row["series"] is None
        objects = "" if row["objects"] is None else str(row["objects"])
        if is_study:
            objects = f"{objects} in {row['series_count']} series".strip()
        values = "; ".join(f"{k} {v}" for k, v in row.get("values", {}).items() if v)
        table.add_row(str(row["study"]), "" if is_study else str(row["series"]), row["modality"], objects,
                      row["uid"], *([values] if show_values else []), style="bold" if is_study else None)
    out_console.print(table)


@app.command("find", epilog=FIND_EPILOG)
def find_command(
    source: Annotated[str, typer.Argument(help="pacs://AET@host:port or dicomweb+https://host/path.", show_default=False)],
    study: params.Study = None,
    series_uid: params.SeriesUid = None,
    accession: params.Accession = None,
    patient_id: params.PatientId = None,
    study_date: params.StudyDate = None,
    calling_aet: params.CallingAet = "DCMEXPORT",
    net_timeout: params.NetTimeout = 30.0,
    auth_file: params.AuthFile = None,
    ca_file: params.CaFile = None,
    show_values: Annotated[bool, typer.Option(help="Also show Patient ID and name, dates, accession numbers and descriptions (PHI: only on a private screen).")] = False,
    json_out: params.JsonOut = False,
    debug: params.Debug = False,
) -> None:
    """List the studies and series of a PACS or DICOMweb service that match a query."""
    from dcmexport.errors import UsageError
    from dcmexport.net import parse_spec
    from dcmexport.sources.network import open_remote

    configure_logging(debug)
    with usage_errors(debug):
        query = net_query(study, series_uid, accession, patient_id, study_date)
        if query is None:  # it would list the whole archive
            raise UsageError(f"{parse_spec(source)}: say what to list: --patient-id, --study-date, --study, "
                             "--accession or --series-uid")
        remote = open_remote(parse_spec(source), net_settings(calling_aet, None, net_timeout, auth_file, ca_file))
        try:
            studies = remote.find_studies(query)
        finally:
            remote.close()
    rows = _rows(studies, show_values)
    if json_out:
        sys.stdout.write(json.dumps({"source": str(parse_spec(source)), "studies": len(studies), "rows": rows},
                                    indent=2) + "\n")
    elif out_console.is_terminal:
        _print_table(rows, show_values)
    else:
        for row in rows:
            values = "\t".join(f"{k}={v}" for k, v in row.get("values", {}).items())
            sys.stdout.write("\t".join(str(x) for x in (
                "study" if row["series"] is None else "series", row["study"], row["series"] or "", row["modality"],
                "" if row["objects"] is None else row["objects"], row["uid"])) + (f"\t{values}" if values else "")
                + "\n")
    if not studies:
        err_console.print(f"dcmexport: nothing matches the query at {parse_spec(source)}", markup=False)
        raise typer.Exit(1)
