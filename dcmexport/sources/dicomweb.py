"""A DICOMweb service (``dicomweb+https://host/path``): QIDO-RS queries, then WADO-RS per series.

Each series is one WADO-RS request whose multipart answer is read part by part
as it streams in (PS3.18 10.4): an object is exported while the next ones are
still arriving, and memory holds one object, whatever the series' length.
"""

from __future__ import annotations

from typing import Any

from dcmexport.net import NetSettings, WebSpec
from dcmexport.net.web import WebClient
from dcmexport.sources.pacs import SERIES_VALUES, STUDY_VALUES
from dcmexport.sources.remote import RemoteSource, SeriesRef, SeriesRow, Sink, StudyRow

_STUDY_FIELDS = (*STUDY_VALUES, "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
_SERIES_FIELDS = (*SERIES_VALUES, "Modality", "SeriesNumber", "NumberOfSeriesRelatedInstances")


def _values(item: dict[str, Any], keyword: str) -> list[str]:
    """The values of one attribute of a DICOM JSON object (PS3.18 F.2), person names by their alphabetic form."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    element = item.get(f"{tag:08X}") if tag is not None else None
    if not isinstance(element, dict):
        return []
    values = element.get("Value") or []
    return [str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v) for v in values]


def _text(item: dict[str, Any], keyword: str) -> str:
    return "\\".join(_values(item, keyword))


def _count(item: dict[str, Any], keyword: str) -> int | None:
    values = _values(item, keyword)
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


class WebSource(RemoteSource):
    """A DICOMweb service as a source of objects."""

    spec: WebSpec

    def __init__(self, spec: WebSpec, settings: NetSettings) -> None:
        super().__init__(spec, settings)
        self.web = WebClient(spec, settings)

    def query_studies(self, filters: dict[str, str]) -> list[StudyRow]:
        return [
            StudyRow(_text(item, "StudyInstanceUID"), tuple(_values(item, "ModalitiesInStudy")),
                     _count(item, "NumberOfStudyRelatedSeries"), _count(item, "NumberOfStudyRelatedInstances"),
                     {k: _text(item, k) for k in STUDY_VALUES})
            for item in self.web.search("studies", filters, _STUDY_FIELDS)
        ]

    def query_series(self, study_uid: str) -> list[SeriesRow]:
        return [
            SeriesRow(_text(item, "SeriesInstanceUID"), _text(item, "Modality"), _text(item, "SeriesNumber"),
                      _count(item, "NumberOfSeriesRelatedInstances"), {k: _text(item, k) for k in SERIES_VALUES})
            for item in self.web.search("series", {}, _SERIES_FIELDS, study_uid=study_uid)
        ]

    def query_series_uid(self, series_uid: str) -> str | None:
        items = self.web.search("series", {"SeriesInstanceUID": series_uid}, ("StudyInstanceUID",))
        return _text(items[0], "StudyInstanceUID") or None if items else None

    def retrieve(self, ref: SeriesRef, sink: Sink) -> None:
        for data in self.web.iter_series_files(ref.study_uid, ref.series_uid):
            sink.put(data)

    def abort(self) -> None:
        self.web.abort()

    def close(self) -> None:
        self.web.close()
