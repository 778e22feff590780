"""Result types of a run: one :class:`ExportResult` per input object, one :class:`BatchResult` per run.

Shared by the pipeline (which fills them), the executors (which carry them back
from workers) and the audit records (which write them down).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import LinkageRecord


class Status(enum.StrEnum):
    """What happened to one input object; the exit code derives from it (:attr:`ok`)."""

    WRITTEN = "written"
    SKIPPED = "skipped"  # legitimately not an image (non-DICOM, SR...) or already exported alike
    FAILED = "failed"
    REFUSED = "refused"  # may carry burned-in text that no mask covers
    KEPT = "kept"  # an existing output made under other options was kept (not replaced), as asked

    @property
    def ok(self) -> bool:
        return self in (Status.WRITTEN, Status.SKIPPED)


WRITTEN, SKIPPED, FAILED, REFUSED, KEPT = Status.WRITTEN, Status.SKIPPED, Status.FAILED, Status.REFUSED, Status.KEPT

#: Expected non-failures: a folder holds non-DICOM files and pixel-less objects.
STATUS_BY_REASON = {"burned-in": REFUSED, "not-dicom": SKIPPED, "no-pixels": SKIPPED}


@dataclass(frozen=True)
class TextHit:
    """One place where OCR read text (``--redact-text``), as the manifest records it: never the text.

    Attributes:
        stage: ``detect`` (the redaction's detection) or ``check`` (its second pass, after masking).
        category: detection: ``name``, ``id``, ``date``, ``time`` (a PHI-like word, masked),
            ``word`` (another word, masked), ``band`` (a text-like band no pass could read,
            masked whole) or ``kept`` (an allow-listed word, or harmless inside an image region);
            second pass: ``inside`` (read inside a masked area) or the PHI-like category.
        confidence: Tesseract's word confidence, 0-100 (0 for a ``band``).
        box: ``(x0, y0, x1, y1)``; output pixels in an :class:`ExportResult`.
    """

    stage: str
    category: str
    confidence: float
    box: tuple[float, float, float, float]


#: The stages and categories a :class:`TextHit` may name (the manifest reader drops others).
TEXT_HIT_STAGES = ("detect", "check")
TEXT_HIT_CATEGORIES = ("name", "id", "date", "time", "word", "band", "kept", "inside")


@dataclass
class DatasetFacts:
    """An object's row of ``dataset.csv``: de-identified attributes only (pseudonyms, never originals).

    Filled by the worker from the DE-IDENTIFIED dataset and the written image; the client
    writes it (:mod:`dcmexport.audit.dataset`).
    """

    patient_id: str = ""
    study_uid: str = ""
    series_uid: str = ""
    instance_uid: str = ""
    modality: str = ""
    rows: int | None = None  # of the output image (or the DICOM output)
    columns: int | None = None
    pixel_spacing: str = ""  # mm per output pixel, ``row\\column``, when the object records a physical spacing
    window: str = ""  # ``C/W`` (``C/W,C/W,C/W`` for --window A,B,C); empty: VOI LUT, range or colour


@dataclass
class ExportResult:
    """What happened to one input object. ``reason`` and ``notes`` never hold PHI."""

    source: Path
    status: Status
    outputs: list[Path] = field(default_factory=list)
    reason: str | None = None
    error_kind: str | None = None
    frames: int = 0
    fps: float | None = None
    fps_source: str | None = None
    notes: list[str] = field(default_factory=list)
    action_counts: dict[str, int] = field(default_factory=dict)
    input_sha256: str | None = None
    #: SHA-256 of input files beside the object that shaped its outputs (the presentation state applied);
    #: they join the object's fingerprint, so a re-run redoes the object when one of them changed
    shaping_inputs: list[str] = field(default_factory=list, repr=False)
    #: the fingerprint the object's outputs were made under, when it is not the run's (see shaping_inputs)
    fingerprint: str | None = field(default=None, repr=False)
    seconds: float = 0.0
    #: blanked rectangles and kept ultrasound regions, (x0, y0, x1, y1) in OUTPUT pixels (for the review page)
    mask_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    keep_boxes: list[tuple[int, int, int, int]] | None = None
    #: boxes the OCR redaction (--redact-text) masked, also in ``mask_boxes``; OUTPUT pixels (review page)
    text_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: what OCR read for --redact-text, as counts and seconds (never the words: they may be PHI)
    text_findings: dict[str, float] = field(default_factory=dict)
    #: where OCR read text for --redact-text: stage, category, confidence and box (OUTPUT pixels), never the text
    text_hits: list[TextHit] = field(default_factory=list)
    #: existing outputs made under other options, kept as they are (status ``kept``): this run vouches for nothing in them
    kept_outputs: list[Path] = field(default_factory=list)
    #: the de-identified (0008,0018) SOPInstanceUID (a keyed pseudonym unless --retain uids): lets the
    #: batch tell two inputs of one instance apart from two copies; never printed or recorded
    instance_uid: str | None = field(default=None, repr=False)
    #: original -> pseudonym pairs first seen on this object: PHI, for --linkage only; never printed or logged
    links: list[LinkageRecord] = field(default_factory=list, repr=False)
    #: de-identified attributes for ``--dataset`` (None: not a written output)
    dataset: DatasetFacts | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return Status(self.status).ok


@dataclass
class BatchResult:
    """All results of one run, plus run-level notes (e.g. that the key was ephemeral).

    Results whose status is in ``fold`` are counted, not kept: a run of millions of
    objects (``fold`` = written, and skipped when nothing prints them) then holds the
    counts, the distinct notes of the folded results and the results to report.
    """

    results: list[ExportResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest: Path | None = None
    fold: frozenset[Status] = frozenset()
    #: results counted but not kept, by status, and their distinct notes
    folded: dict[Status, int] = field(default_factory=dict)
    folded_notes: set[str] = field(default_factory=set)
    #: folded results that were DICOM objects (not a non-DICOM file skipped): the run found something
    folded_objects: int = 0

    def add(self, result: ExportResult) -> None:
        """Take one result: kept in :attr:`results`, or counted when its status is folded."""
        status = Status(result.status)
        if status in self.fold:
            self.folded[status] = self.folded.get(status, 0) + 1
            self.folded_notes.update(result.notes)
            if result.error_kind != "not-dicom":
                self.folded_objects += 1
        else:
            self.results.append(result)

    def count(self, status: str) -> int:
        return self.folded.get(Status(status), 0) + sum(1 for r in self.results if r.status == status)

    def result_notes(self) -> set[str]:
        """The distinct notes of every result, kept or folded."""
        return {n for r in self.results for n in r.notes} | self.folded_notes

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and all(s.ok for s in self.folded)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed or was refused, else 1 (2 is the CLI's usage error)."""
        return 0 if self.ok else 1
