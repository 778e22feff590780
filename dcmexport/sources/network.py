"""Network inputs: a spec plus a query (:class:`RemoteInput`), dispatched to its protocol's module.

``pacs://AET@host:port`` -> :mod:`dcmexport.sources.pacs` (pynetdicom);
``dicomweb+https://host/path`` -> :mod:`dcmexport.sources.dicomweb` (dicomweb-client).
Add a protocol as one module implementing :class:`~dcmexport.sources.remote.RemoteSource`
plus one branch in :func:`open_remote`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dcmexport.errors import UsageError
from dcmexport.net import NetSettings, PacsSpec, Spec, is_spec, parse_spec

if TYPE_CHECKING:  # pragma: no cover - the retrieval machinery loads only when a network input is used
    from dcmexport.sources.remote import Query, RemoteSource, Retrieval


@dataclass(frozen=True)
class RemoteInput:
    """A network source and what to take from it: an input of ``export()`` / ``deidentify()``.

    ``on_retrieved`` is told the running number of objects retrieved (progress), from
    the retrieving thread.
    """

    spec: Spec
    query: Query
    settings: NetSettings = field(default_factory=NetSettings)
    on_retrieved: Callable[[int], None] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, query: Query, settings: NetSettings | None = None) -> RemoteInput:
        """From a spec string (``pacs://AET@host:port``, ``dicomweb+https://host/path``).

        Raises:
            UsageError: a malformed spec.
        """
        return cls(parse_spec(text), query, settings or NetSettings())

    def __str__(self) -> str:
        return str(self.spec)


def open_remote(spec: Spec, settings: NetSettings) -> RemoteSource:
    """The source for ``spec``: a PACS (DIMSE) or a DICOMweb service.

    Raises:
        MissingDependencyError: pynetdicom or dicomweb-client is not installed.
    """
    if isinstance(spec, PacsSpec):
        from dcmexport.sources.pacs import PacsSource

        return PacsSource(spec, settings)
    from dcmexport.sources.dicomweb import WebSource

    return WebSource(spec, settings)


def split_inputs(
    inputs: str | os.PathLike[str] | RemoteInput | Iterable[str | os.PathLike[str] | RemoteInput],
) -> tuple[list[Path], list[RemoteInput]]:
    """Local paths and network inputs, each in the order given.

    Raises:
        UsageError: a bare spec string (a network input needs a query: build a :class:`RemoteInput`).
    """
    many = [inputs] if isinstance(inputs, str | os.PathLike | RemoteInput) else list(inputs)
    local: list[Path] = []
    remote: list[RemoteInput] = []
    for item in many:
        if isinstance(item, RemoteInput):
            remote.append(item)
        elif is_spec(item):
            raise UsageError(f"{parse_spec(item)}: say what to take from it (--study, --series-uid, --accession, "
                             "--patient-id or --study-date)")
        else:
            local.append(Path(item))
    return local, remote


def prepare_retrieval(remote: RemoteInput, *, whole_series: bool, unit_size: int = 1) -> Retrieval:
    """Query the archive now and return its retrieval, not yet started (enter it to start).

    Querying first means a refusal, a stall or an empty answer fails before
    anything is written to ``--out``.

    Raises:
        UsageError: an empty query. InputError: nothing matches. NetworkError: refused, failed, no answer.
    """
    from dcmexport.sources.remote import Retrieval

    source = open_remote(remote.spec, remote.settings)
    try:
        refs = source.resolve(remote.query)
    finally:
        source.close()  # nothing stays open until the retrieval starts (connections are made again)
    return Retrieval(source, refs, whole_series=whole_series, unit_size=unit_size, on_retrieved=remote.on_retrieved,
                     misses=source.misses)
