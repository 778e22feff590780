"""The network options of ``export``, ``deid`` and ``find``, coerced once into a query, settings and inputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.net import NetSettings
    from dcmexport.sources.network import RemoteInput
    from dcmexport.sources.remote import Query

_SAY_WHAT = "say what to take from it (--study, --series-uid, --accession, --patient-id or --study-date)"


def net_settings(calling_aet: str, move_dest: str | None, timeout: float, auth_file: Path | None,
                 ca_file: Path | None) -> NetSettings:
    """``--calling-aet``, ``--move-dest``, ``--net-timeout``, ``--auth-file`` (or the environment), ``--ca-file``.

    Raises:
        UsageError: a malformed value, or an auth file others may read.
    """
    from dcmexport.net import NetSettings, parse_move_dest
    from dcmexport.net.credentials import load_credentials

    return NetSettings(calling_aet=calling_aet, move_dest=parse_move_dest(move_dest) if move_dest else None,
                       timeout=timeout, credentials=load_credentials(auth_file), ca_file=ca_file)


def net_query(study: list[str] | None, series_uid: list[str] | None, accession: list[str] | None,
              patient_id: list[str] | None, study_date: str | None) -> Query | None:
    """``--study``, ``--series-uid``, ``--accession``, ``--patient-id``, ``--study-date``; None when none is given
    (a local run then loads none of the retrieval machinery)."""
    if not (study or series_uid or accession or patient_id or study_date):
        return None
    from dcmexport.sources.remote import Query

    return Query(tuple(study or ()), tuple(series_uid or ()), tuple(accession or ()), tuple(patient_id or ()),
                 study_date)


def net_inputs(values: list[Path], query: Query | None, settings: NetSettings) -> list[Path | RemoteInput]:
    """Local paths as they are; network specs with the query.

    Raises:
        UsageError: a spec without a query, a query without a spec, or a malformed spec.
    """
    from dcmexport.errors import UsageError
    from dcmexport.net import is_spec, parse_spec
    from dcmexport.sources.network import RemoteInput

    inputs: list[Path | RemoteInput] = []
    for value in values:
        if not is_spec(value):
            inputs.append(value)
        elif query is None or query.is_empty:
            raise UsageError(f"{parse_spec(value)}: {_SAY_WHAT}")
        else:
            inputs.append(RemoteInput(parse_spec(value), query, settings))
    if query is not None and all(isinstance(i, Path) for i in inputs):
        raise UsageError("--study, --series-uid, --accession, --patient-id and --study-date select objects of a "
                         "network source (pacs://AET@host:port or dicomweb+https://host/path)")
    return inputs
