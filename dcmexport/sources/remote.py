"""Objects from an archive: what to ask for (:class:`Query`), what was found, and a streaming retrieval.

A network source (PACS over DIMSE, DICOMweb) answers a query with series
(:class:`SeriesRef`), then retrieves them one series at a time into a private
temporary folder (mode 0700, removed at the end, also after an error or Ctrl-C).
A background thread retrieves while the pipeline exports what has arrived, at
most two series ahead, so a cohort is never fetched whole before the first object
is exported and the folder holds at most two series. Identified objects never
touch ``--out``.

Labels are PHI-free counters (``pacs:AET/study-2/series-1/17``): UIDs identify
patients too, and names or IDs never appear.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from dcmexport.errors import DcmexportError, InputError, NetworkError, UsageError
from dcmexport.net import NetSettings, Spec
from dcmexport.sources import InputItem

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_DATE = re.compile(r"^(\d{8})?-?(\d{8})?$")
#: Matching characters of C-FIND and QIDO-RS (PS3.4 C.2.2.2.4, PS3.18 8.3.4): a literal value must not widen a query.
_WILDCARDS = frozenset("*?\\")


def check_uid(uid: str, flag: str = "UID") -> str:
    """A UID as PS3.5 9.1 writes it (digits and dots, at most 64 characters)."""
    if len(uid) > 64 or not _UID.match(uid):
        raise UsageError(f"{flag}: not a UID (digits and dots, at most 64 characters)")
    return uid


def _check_literal(value: str, flag: str) -> str:
    if not value.strip() or _WILDCARDS & set(value) or len(value) > 64:
        raise UsageError(f"{flag}: give the exact value (no *, ? or backslash; at most 64 characters)")
    return value


def parse_date_range(text: str) -> str:
    """``--study-date``: ``YYYYMMDD``, ``FROM-TO``, ``FROM-`` or ``-TO`` (PS3.4 C.2.2.2.5 range matching)."""
    match = _DATE.match(text)
    if not text or match is None or not (match[1] or match[2]) or (
        match[1] and match[2] and match[1] > match[2]
    ):
        raise UsageError("--study-date: expected YYYYMMDD or FROM-TO (e.g. 20240101-20240131, 20240101-)")
    return text


@dataclass(frozen=True)
class Query:
    """What to take from an archive. Values of one kind are alternatives; kinds combine (AND).

    ``series`` selects series wherever they are; with study-level keys too, only
    series of matching studies.
    """

    studies: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    accessions: tuple[str, ...] = ()
    patient_ids: tuple[str, ...] = ()
    study_date: str | None = None

    def __post_init__(self) -> None:
        for uid in self.studies:
            check_uid(uid, "--study")
        for uid in self.series:
            check_uid(uid, "--series-uid")
        for value in self.accessions:
            _check_literal(value, "--accession")
        for value in self.patient_ids:
            _check_literal(value, "--patient-id")
        if self.study_date is not None:
            parse_date_range(self.study_date)

    @property
    def is_empty(self) -> bool:
        return not (self.studies or self.series or self.accessions or self.patient_ids or self.study_date)

    def study_filters(self) -> Iterator[dict[str, str]]:
        """One study-level match per combination of alternatives (keyword -> value)."""
        kinds = [("StudyInstanceUID", self.studies), ("AccessionNumber", self.accessions),
                 ("PatientID", self.patient_ids)]
        given = [[(k, v) for v in values] for k, values in kinds if values]
        for combination in itertools.product(*given):
            filters = dict(combination)
            if self.study_date:
                filters["StudyDate"] = self.study_date
            yield filters


@dataclass
class SeriesRow:
    """One series as the archive describes it. ``values`` may hold PHI (shown only on request)."""

    series_uid: str
    modality: str = ""
    number: str = ""
    count: int | None = None
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class StudyRow:
    """One study as the archive describes it. ``values`` may hold PHI (shown only on request)."""

    study_uid: str
    modalities: tuple[str, ...] = ()
    series_count: int | None = None
    count: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    series: list[SeriesRow] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesRef:
    """One series to retrieve; ``study_n`` and ``series_n`` count from 1 and name it in labels."""

    study_uid: str
    series_uid: str
    study_n: int
    series_n: int
    count: int | None = None


class Sink:
    """Where a backend puts retrieved objects: each becomes a private file and an item for the pipeline."""

    def __init__(self, retrieval: Retrieval, ref: SeriesRef) -> None:
        self._retrieval, self.ref = retrieval, ref
        self.count = 0
        self._lock = threading.Lock()

    def put(self, data: bytes) -> None:
        """Write one retrieved object (Part 10 bytes) and queue it for export.

        Raises:
            NetworkError: the retrieval was stopped (the backend should give up).
        """
        retrieval = self._retrieval
        if retrieval.stopped:
            raise NetworkError("retrieval stopped")
        with self._lock:
            self.count += 1
            number = self.count
        path = retrieval.folder / f"{next(retrieval.names):07d}.dcm"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        ref = self.ref
        label = Path(retrieval.source.spec.short, f"study-{ref.study_n}", f"series-{ref.series_n}", str(number))
        retrieval.delivered(InputItem(path, label))


class RemoteSource(ABC):
    """A server that answers queries and retrieves series (one module per protocol).

    Subclasses implement the three queries and :meth:`retrieve`; the study/series
    resolution of a :class:`Query` is shared.
    """

    spec: Spec

    def __init__(self, spec: Spec, settings: NetSettings) -> None:
        self.spec, self.settings = spec, settings
        #: what a value of the last query selected nothing of (PHI-free sentences)
        self.misses: list[str] = []

    @abstractmethod
    def query_studies(self, filters: dict[str, str]) -> list[StudyRow]:
        """Studies matching ``filters`` (keyword -> exact value or date range), without their series."""

    @abstractmethod
    def query_series(self, study_uid: str) -> list[SeriesRow]:
        """The series of one study."""

    @abstractmethod
    def query_series_uid(self, series_uid: str) -> str | None:
        """The Study Instance UID of a series, or None when the archive does not know it."""

    @abstractmethod
    def retrieve(self, ref: SeriesRef, sink: Sink) -> None:
        """Retrieve one series into ``sink``, object by object.

        Raises:
            NetworkError: refused, failed (some objects not sent), or no answer in time.
        """

    def abort(self) -> None:
        """Interrupt a retrieval in progress, from another thread (Ctrl-C, an error)."""
        return None

    def close(self) -> None:
        """Release connections."""
        return None

    def find_studies(self, query: Query) -> list[StudyRow]:
        """The studies (with their series) that ``query`` selects, in the order the archive gave them.

        A value the user gave that selects nothing (a ``--study`` UID the archive does
        not know, say) is noted in :attr:`misses`: a cohort must not silently shrink.

        Raises:
            UsageError: an empty query (it would select the whole archive).
            NetworkError: the archive refused, failed or did not answer.
        """
        if query.is_empty:
            raise UsageError(f"{self.spec}: say what to take: --study, --series-uid, --accession, --patient-id "
                             "or --study-date")
        self.misses = []
        studies: dict[str, StudyRow] = {}
        matched: set[tuple[str, str]] = set()
        study_keys = bool(query.studies or query.accessions or query.patient_ids or query.study_date)
        for filters in query.study_filters() if study_keys else ():
            rows = self.studies_matching(filters)
            if rows:
                matched.update(filters.items())
            for row in rows:
                studies.setdefault(check_uid(row.study_uid, "the archive's StudyInstanceUID"), row)
        for flag, keyword, values in (("--study", "StudyInstanceUID", query.studies),
                                      ("--accession", "AccessionNumber", query.accessions),
                                      ("--patient-id", "PatientID", query.patient_ids)):
            for k, value in enumerate(values, 1):
                if (keyword, value) not in matched:
                    self.misses.append(f"{flag} value {k} of {len(values)} matches no study")
        if query.series:
            return self._series_studies(query, studies)
        for study_n, row in enumerate(studies.values(), 1):
            row.series = self.series_of(row.study_uid)
            if not row.series:
                self.misses.append(f"study-{study_n}: the archive lists no series in it")
        return list(studies.values())

    def _series_studies(self, query: Query, selected: dict[str, StudyRow]) -> list[StudyRow]:
        """``--series-uid``: the studies holding those series (only among ``selected`` when other keys are given)."""
        others = bool(query.studies or query.accessions or query.patient_ids or query.study_date)
        wanted: dict[str, set[str]] = {}
        for k, uid in enumerate(query.series, 1):
            study_uid = self.query_series_uid(uid)
            if study_uid is None or (others and study_uid not in selected):
                self.misses.append(f"--series-uid value {k} of {len(query.series)} matches no series"
                                   + (" of the studies the other keys select" if study_uid else ""))
                continue
            wanted.setdefault(check_uid(study_uid, "the archive's StudyInstanceUID"), set()).add(uid)
        studies: dict[str, StudyRow] = {}
        for study_uid, series_uids in wanted.items():
            rows = self.query_studies({"StudyInstanceUID": study_uid}) or [StudyRow(study_uid)]
            row = studies.setdefault(study_uid, selected.get(study_uid, rows[0]))
            row.series = [s for s in self.series_of(study_uid) if s.series_uid in series_uids]
        return list(studies.values())

    def studies_matching(self, filters: dict[str, str]) -> list[StudyRow]:
        """:meth:`query_studies`, asked again (twice at most) when nothing matches (see :meth:`series_of`)."""
        for _ in range(3):
            rows = self.query_studies(filters)
            if rows:
                break
        return rows

    def series_of(self, study_uid: str) -> list[SeriesRow]:
        """:meth:`query_series`, asked again (twice at most) when it finds none: a study has series, and
        Orthanc 1.10 was seen to answer a series-level C-FIND now and then with no match (about 1 in 500)."""
        for _ in range(3):
            series = self.query_series(study_uid)
            if series:
                break
        return series

    def resolve(self, query: Query) -> list[SeriesRef]:
        """The series ``query`` selects, numbered for labels (what matched nothing: :attr:`misses`).

        Raises:
            InputError: nothing matches.
        """
        refs = []
        for study_n, study in enumerate(self.find_studies(query), 1):
            for series_n, series in enumerate(study.series, 1):
                refs.append(SeriesRef(study.study_uid, check_uid(series.series_uid, "the archive's SeriesInstanceUID"),
                                      study_n, series_n, series.count))
        if not refs:
            raise InputError(f"{self.spec}: no series matches the query")
        return refs


@dataclass(frozen=True)
class Unit:
    """Objects the pipeline can take now; or a failure, with the label of what failed."""

    items: Sequence[InputItem] = ()
    failure: tuple[Path, str] | None = None


class _SeriesEnd:
    def __init__(self, ref: SeriesRef, error: str | None) -> None:
        self.ref, self.error = ref, error


_END = object()
_LOG = logging.getLogger(__name__)
_AHEAD = 2  # series retrieved but not yet exported, at most


class Retrieval:
    """A running retrieval: a background thread fetching series, and :meth:`units` handing them over.

    Use as a context manager: entering starts the thread; leaving (normally, on an
    error or on Ctrl-C) stops it, aborts what is in flight, and removes the private folder.
    """

    def __init__(self, source: RemoteSource, refs: list[SeriesRef], *, whole_series: bool, unit_size: int = 1,
                 on_retrieved: Callable[[int], None] | None = None, misses: Sequence[str] = ()) -> None:
        self.source, self.refs, self.on_retrieved, self.misses = source, refs, on_retrieved, list(misses)
        self.whole_series, self.unit_size = whole_series, max(1, unit_size)
        self.folder = Path()
        self.names = itertools.count(1)
        self.retrieved = 0
        self._queue: queue.Queue[object] = queue.Queue()
        self._turns = threading.Semaphore(_AHEAD)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="dcmexport-retrieve", daemon=True)

    @property
    def expected(self) -> int:
        """Results to expect (a progress total): objects, or series when whole series are exported."""
        if self.whole_series:
            return len(self.refs) + len(self.misses)
        return sum(ref.count or 1 for ref in self.refs) + len(self.misses)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def delivered(self, item: InputItem) -> None:
        with self._lock:
            self.retrieved += 1
            count = self.retrieved
        self._queue.put(item)
        if self.on_retrieved is not None:
            self.on_retrieved(count)

    def __enter__(self) -> Retrieval:
        self.folder = Path(tempfile.mkdtemp(prefix="dcmexport-retrieved-"))  # mode 0700
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.source.abort()
        self._turns.release(_AHEAD)  # a thread waiting for its turn sees the stop
        if self._thread.is_alive():  # a daemon: one stuck in a read must not hold up the exit
            self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self.source.close()
        if self.folder != Path():
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self) -> None:
        try:
            for ref in self.refs:
                self._turns.acquire()
                if self._stop.is_set():
                    return
                sink = Sink(self, ref)
                try:
                    self.source.retrieve(ref, sink)
                    error = None
                    if ref.count is not None and sink.count < ref.count:
                        error = f"{ref.count - sink.count} of {ref.count} objects were not received"
                except DcmexportError as exc:
                    error = str(exc)
                except Exception as exc:  # a bug or a library error: its text could quote values
                    _LOG.debug("retrieval of a series failed", exc_info=True)  # shown with --debug only
                    error = f"retrieval failed ({type(exc).__name__}); run with --debug to see why"
                self._queue.put(_SeriesEnd(ref, None if self._stop.is_set() else error))
        finally:
            self._queue.put(_END)

    def units(self) -> Iterator[Unit]:
        """Hand retrieved objects over as they arrive (whole series when ``whole_series``).

        Each unit's files are removed once the caller asks for the next one; a
        series that failed ends with a failure unit (in ``whole_series`` mode, its
        objects are dropped: a clip never misses slices).
        """
        for miss in self.misses:  # values of the query that selected nothing: failures, first
            yield Unit(failure=(Path(self.source.spec.short, "query"), f"{self.source.spec}: {miss}"))
        pending: list[InputItem] = []
        while True:
            event = self._queue.get()
            if event is _END:
                return
            if isinstance(event, InputItem):
                pending.append(event)
                if not self.whole_series and (
                    len(pending) >= 4 * self.unit_size
                    or (len(pending) >= self.unit_size and self._queue.empty())
                ):
                    yield from self._hand_over(pending)
                    pending = []
                continue
            assert isinstance(event, _SeriesEnd)
            ref = event.ref
            if event.error is not None and self.whole_series:
                _remove(pending)
            elif pending:
                yield from self._hand_over(pending)
            pending = []
            if event.error is not None:
                label = Path(self.source.spec.short, f"study-{ref.study_n}", f"series-{ref.series_n}")
                yield Unit(failure=(label, event.error))
            self._turns.release()

    @staticmethod
    def _hand_over(items: list[InputItem]) -> Iterator[Unit]:
        try:
            yield Unit(items=list(items))
        finally:
            _remove(items)


def _remove(items: Sequence[InputItem]) -> None:
    for item in items:
        with contextlib.suppress(OSError):
            item.path.unlink()
