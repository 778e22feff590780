"""A PACS over DIMSE (``pacs://CALLED_AET@host:port``): C-FIND, then C-GET or C-MOVE, series by series.

Study Root Query/Retrieve (PS3.4 C.6.2). Queries run on one association; each
series is listed at IMAGE level (SOP classes for C-GET's storage contexts, SOP
Instance UIDs for C-MOVE's acceptance list), then retrieved:

- C-GET (default): the objects come back on the same association (C-STORE
  sub-operations, SCP role negotiated per SOP class, every transfer syntax offered
  so the archive sends what it holds);
- C-MOVE (``--move-dest AET:port``): the archive sends them to dcmexport's own
  storage SCP, which the archive must know under that AE title.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dcmexport.errors import NetworkError
from dcmexport.net import NetSettings, PacsSpec
from dcmexport.net.dimse import Dimse, StorageServer
from dcmexport.sources.remote import RemoteSource, SeriesRef, SeriesRow, Sink, StudyRow

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association

#: Study-level attributes shown by ``find --show-values`` only (they identify the patient).
STUDY_VALUES = ("PatientID", "PatientName", "StudyDate", "AccessionNumber", "StudyDescription")
SERIES_VALUES = ("SeriesDescription", "SeriesDate")


def _values(ds: Dataset, keyword: str) -> list[str]:
    from pydicom.multival import MultiValue

    value = ds.get(keyword)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue | list | tuple) else [str(value)]


def _text(ds: Dataset, keyword: str) -> str:
    return "\\".join(_values(ds, keyword))


def _count(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _identifier(level: str, **keys: str) -> Dataset:
    from pydicom.dataset import Dataset

    ds = Dataset()
    if any(not v.isascii() for v in keys.values()):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


#: Transfer syntaxes offered for C-GET, each in a context of its own: the archive accepts ONE syntax per
#: context, and sends an object in the syntax it holds only if a context accepted that syntax (otherwise it
#: must transcode, which Orthanc 1.10 cannot do for JPEG 2000). Most common first.
RETRIEVE_SYNTAXES = (
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108",
)


def storage_contexts(classes: list[str], limit: int) -> list[tuple[str, list[str]]]:
    """(SOP class, transfer syntaxes) presentation contexts for C-GET, at most ``limit`` of them.

    Each syntax gets a context of its own while they fit; when they do not, a class's
    last context carries the syntaxes left (the archive picks one of those).
    """
    per_class = max(1, min(len(RETRIEVE_SYNTAXES), limit // max(1, len(classes))))
    contexts: list[tuple[str, list[str]]] = []
    for uid in classes:
        singles = [[ts] for ts in RETRIEVE_SYNTAXES[: per_class - 1]]
        contexts.extend((uid, syntaxes) for syntaxes in [*singles, list(RETRIEVE_SYNTAXES[per_class - 1 :])])
    return contexts


class PacsSource(RemoteSource):
    """A DIMSE archive as a source of objects."""

    spec: PacsSpec

    def __init__(self, spec: PacsSpec, settings: NetSettings) -> None:
        super().__init__(spec, settings)
        self.dimse = Dimse(spec, settings)
        self._query: Association | None = None
        self._server: StorageServer | None = None
        self._sink: Sink | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """One association for all the queries of a resolution (``find``, ``resolve``)."""
        ae = self.dimse.new_ae()
        ae.add_requested_context(self.dimse.pn.sop_class.StudyRootQueryRetrieveInformationModelFind)
        with self.dimse.association(ae) as assoc:
            self._query = assoc
            try:
                yield
            finally:
                self._query = None

    def _find(self, identifier: Dataset) -> list[Dataset]:
        if self._query is None:
            with self.session():
                return self._find(identifier)
        return list(self.dimse.find(self._query, identifier))

    def query_studies(self, filters: dict[str, str]) -> list[StudyRow]:
        keys = {k: filters.get(k, "") for k in ("StudyInstanceUID", "PatientID", "AccessionNumber", "StudyDate")}
        identifier = _identifier("STUDY", **keys, PatientName="", StudyDescription="", ModalitiesInStudy="",
                                 NumberOfStudyRelatedSeries="", NumberOfStudyRelatedInstances="")
        rows = []
        for match in self._find(identifier):
            rows.append(StudyRow(
                str(match.get("StudyInstanceUID", "")), tuple(_values(match, "ModalitiesInStudy")),
                _count(match, "NumberOfStudyRelatedSeries"), _count(match, "NumberOfStudyRelatedInstances"),
                {k: _text(match, k) for k in STUDY_VALUES},
            ))
        return rows

    def query_series(self, study_uid: str) -> list[SeriesRow]:
        identifier = _identifier("SERIES", StudyInstanceUID=study_uid, SeriesInstanceUID="", Modality="",
                                 SeriesNumber="", SeriesDescription="", SeriesDate="",
                                 NumberOfSeriesRelatedInstances="")
        return [
            SeriesRow(str(m.get("SeriesInstanceUID", "")), _text(m, "Modality"), _text(m, "SeriesNumber"),
                      _count(m, "NumberOfSeriesRelatedInstances"), {k: _text(m, k) for k in SERIES_VALUES})
            for m in self._find(identifier)
        ]

    def query_series_uid(self, series_uid: str) -> str | None:
        matches = self._find(_identifier("SERIES", SeriesInstanceUID=series_uid, StudyInstanceUID=""))
        return str(matches[0].StudyInstanceUID) if matches and matches[0].get("StudyInstanceUID") else None

    def find_studies(self, query: Any) -> list[StudyRow]:
        with self.session():
            return super().find_studies(query)

    def resolve(self, query: Any) -> list[SeriesRef]:
        """As :meth:`RemoteSource.resolve`; first, with ``--move-dest``, check that its port is free.

        Raises:
            NetworkError: the storage SCP's port is taken (before anything is asked or written).
        """
        if self.settings.move_dest is not None:
            aet, port = self.settings.move_dest
            try:
                with socket.create_server(("", port)):
                    pass
            except OSError as exc:
                raise NetworkError(f"--move-dest {aet}:{port}: cannot listen on port {port} "
                                   f"({exc.strerror or 'in use'})") from None
        return super().resolve(query)

    def _instances(self, ref: SeriesRef) -> tuple[list[str], list[str]]:
        """(SOP Instance UIDs, SOP Class UIDs) of one series, from an IMAGE-level C-FIND (asked again, twice
        at most, when it lists fewer objects than the series-level answer said: see :meth:`series_of`)."""
        identifier = _identifier("IMAGE", StudyInstanceUID=ref.study_uid, SeriesInstanceUID=ref.series_uid,
                                 SOPInstanceUID="", SOPClassUID="")
        for _ in range(3):
            matches = self._find(identifier)
            if matches and len(matches) >= (ref.count or 0):
                break
        instances = [str(m.SOPInstanceUID) for m in matches if m.get("SOPInstanceUID")]
        classes = sorted({str(m.SOPClassUID) for m in matches if m.get("SOPClassUID")})
        return instances, classes

    def retrieve(self, ref: SeriesRef, sink: Sink) -> None:
        instances, classes = self._instances(ref)
        if not instances:
            return
        retrieve_key = _identifier("SERIES", StudyInstanceUID=ref.study_uid, SeriesInstanceUID=ref.series_uid)
        if self.settings.move_dest is None:
            self._get(retrieve_key, classes, sink)
        else:
            self._move(retrieve_key, instances, sink)
        if sink.count < len(instances):
            raise NetworkError(f"{self.spec}: {len(instances) - sink.count} of {len(instances)} objects "
                               "were not received")

    def _get(self, identifier: Dataset, classes: list[str], sink: Sink) -> None:
        pn = self.dimse.pn
        ae = self.dimse.new_ae()
        ae.add_requested_context(pn.sop_class.StudyRootQueryRetrieveInformationModelGet)
        if not classes:  # the archive listed no SOP Class UID: offer the common storage classes
            classes = [c.abstract_syntax for c in pn.StoragePresentationContexts]
        classes = classes[:127]
        for uid, syntaxes in storage_contexts(classes, 127):
            ae.add_requested_context(uid, syntaxes)
        roles = [pn.build_role(uid, scp_role=True) for uid in classes]

        def on_store(event: Any) -> int:
            try:
                sink.put(event.encoded_dataset())
            except Exception:
                return 0xA700
            return 0x0000

        with self.dimse.association(ae, ext_neg=roles, handlers=[(pn.evt.EVT_C_STORE, on_store)]) as assoc:
            model = pn.sop_class.StudyRootQueryRetrieveInformationModelGet
            self.dimse.finish_retrieve("C-GET", assoc.send_c_get(identifier, model))

    def _move(self, identifier: Dataset, instances: list[str], sink: Sink) -> None:
        pn = self.dimse.pn
        assert self.settings.move_dest is not None
        aet, port = self.settings.move_dest
        if self._server is None:
            self._server = StorageServer(self.dimse, aet, port, self._deliver).__enter__()
        self._sink = sink
        self._server.expected = set(instances)
        ae = self.dimse.new_ae()
        ae.add_requested_context(pn.sop_class.StudyRootQueryRetrieveInformationModelMove)
        try:
            with self.dimse.association(ae) as assoc:
                model = pn.sop_class.StudyRootQueryRetrieveInformationModelMove
                self.dimse.finish_retrieve("C-MOVE", assoc.send_c_move(identifier, aet, model),
                                           f"; does the archive know {aet} at this machine's address, port {port}?")
        finally:
            self._server.expected = set()

    def _deliver(self, data: bytes) -> None:
        if self._sink is None:
            raise NetworkError("no retrieval in progress")
        self._sink.put(data)

    def abort(self) -> None:
        self.dimse.abort_all()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.__exit__(None, None, None)
