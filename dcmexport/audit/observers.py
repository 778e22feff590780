"""Side concerns of a run as batch observers: the run log, the linkage table, the review page.

Each watches the batch (``on_start``, ``on_result``, ``on_finish``: the protocol
of :class:`dcmexport.pipeline.batch.BatchObserver`) in the client process; the
CLI wires the ones its flags ask for, instead of calling them around the batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.audit.runlog import RunLog
    from dcmexport.results import BatchResult, ExportResult


class _Observer:
    def on_start(self, total: int) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        return None

    def on_finish(self, batch: BatchResult) -> None:
        return None


class RunLogObserver(_Observer):
    """Appends one PHI-free line per result to an open :class:`RunLog` (``--log``)."""

    def __init__(self, runlog: RunLog) -> None:
        self.runlog = runlog

    def on_result(self, result: ExportResult) -> None:
        self.runlog.record(result)


class WrittenCounter(_Observer):
    """Counts objects written so far (results arrive only once their files have their final names)."""

    def __init__(self) -> None:
        self.written = 0

    def on_result(self, result: ExportResult) -> None:
        self.written += result.status == "written"


class LinkageObserver(_Observer):
    """Adds the run's original -> pseudonym pairs to the ``--linkage`` table when the batch ends.

    The pairs are PHI: they go to the table (0600, outside ``--out``) and nowhere else;
    the batch's note names only the table's path.
    """

    def __init__(self, path: Path, out_dir: Path) -> None:
        self.path, self.out_dir = path, out_dir

    def on_finish(self, batch: BatchResult) -> None:
        from dcmexport.audit.linkage import write_linkage

        count = write_linkage(self.path, (rec for r in batch.results for rec in r.links), self.out_dir)
        batch.notes.append(f"linkage table: {count} new pairs added to {self.path} "
                           "(PHI: keep it with the data custodian)")


class ReviewObserver(_Observer):
    """Writes ``review.html`` for the output directory when the batch ends (``--review``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def on_finish(self, batch: BatchResult) -> None:
        from dcmexport.audit.review import write_review

        batch.notes.append(f"review page: {write_review(self.out_dir)}")
