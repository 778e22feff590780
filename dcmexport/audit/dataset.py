"""``dataset.csv`` / ``dataset.parquet`` in ``--out`` (``--dataset``): one row per output file.

Each row is the output's path relative to ``--out`` and de-identified attributes of its
object (:class:`~dcmexport.results.DatasetFacts`, filled by the worker from the
de-identified dataset, never from the original): pseudonymous patient, study, series and
instance IDs, modality, output rows and columns, pixel spacing (mm per output pixel),
the window used, frames, frame rate and the number of masked rectangles.

Written by the client, as an observer of the batch (like the manifest): rows of this
run's written objects go to a temporary file as results arrive; at the end the table
is rewritten atomically with the rows of earlier runs whose paths this run did not
write again, then this run's rows. A re-run that skips everything adds nothing, and a
redone output keeps one row. A shard (``--shard I/N``) writes its own part,
``dataset.shard-I-of-N.csv``; ``dcmexport merge`` folds the parts into the table.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmexport.atomic import atomic_output
from dcmexport.errors import MissingDependencyError, UsageError
from dcmexport.scratch import open_scratch

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.results import BatchResult, ExportResult

DATASET_COLUMNS = ("path", "patient_id", "study_uid", "series_uid", "instance_uid", "modality", "rows", "columns",
                   "pixel_spacing", "window", "frames", "fps", "masks")
DATASET_NAMES = ("dataset.csv", "dataset.parquet")
#: A shard's part of the table, ``dataset.shard-3-of-8.csv``, until ``dcmexport merge``.
DATASET_PART = re.compile(r"^dataset\.shard-(\d+)-of-(\d+)\.(csv|parquet)$")


def dataset_name(fmt: str, shard: tuple[int, int] | None = None) -> str:
    """The table's file name: ``dataset.csv``, or a shard's part ``dataset.shard-I-of-N.csv``."""
    return f"dataset.{fmt}" if shard is None else f"dataset.shard-{shard[0]}-of-{shard[1]}.{fmt}"


def require_pyarrow() -> Any:
    """Import pyarrow.parquet, or fail with the install hint.

    Raises:
        MissingDependencyError: pyarrow is not installed.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("--dataset parquet needs pyarrow: pip install pyarrow "
                                     "(or use --dataset csv)") from None
    return pq


def rows_of(result: ExportResult, out_dir: Path) -> Iterator[dict[str, str]]:
    """The table rows of one written result: one per output file (none when nothing was written)."""
    facts = result.dataset
    if facts is None or result.status != "written":
        return
    for output in result.outputs:
        yield {
            "path": output.relative_to(out_dir).as_posix(),
            "patient_id": facts.patient_id, "study_uid": facts.study_uid, "series_uid": facts.series_uid,
            "instance_uid": facts.instance_uid, "modality": facts.modality,
            "rows": "" if facts.rows is None else str(facts.rows),
            "columns": "" if facts.columns is None else str(facts.columns),
            "pixel_spacing": facts.pixel_spacing, "window": facts.window,
            "frames": str(result.frames), "fps": "" if result.fps is None else f"{result.fps:g}",
            "masks": str(len(result.mask_boxes)),
        }


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a dataset table (CSV or Parquet), all values as text, streamed.

    Raises:
        UsageError: the file is not a dcmexport dataset table (other columns).
    """
    if path.suffix == ".parquet":
        source = require_pyarrow().ParquetFile(path)
        if tuple(source.schema_arrow.names) != DATASET_COLUMNS:
            raise UsageError(f"{path} is not a dcmexport dataset table; not changed")
        for batch in source.iter_batches(batch_size=_BATCH):
            for row in batch.to_pylist():
                yield {k: "" if v is None else str(v) for k, v in row.items()}
        return
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != DATASET_COLUMNS:
            raise UsageError(f"{path} is not a dcmexport dataset table; not changed")
        yield from reader


#: Rows per Parquet batch, read or written.
_BATCH = 65_536


def write_rows(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """Write ``rows`` to ``path`` (CSV or Parquet by suffix), atomically and streamed; return how many."""
    count = 0
    with atomic_output(path, overwrite=True) as tmp:
        if path.suffix == ".parquet":
            require_pyarrow()
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(name, pa.string()) for name in DATASET_COLUMNS])
            with pq.ParquetWriter(tmp, schema) as writer:
                for chunk in _chunks(iter(rows), _BATCH):
                    writer.write_table(pa.table({n: pa.array([r[n] for r in chunk], pa.string())
                                                 for n in DATASET_COLUMNS}, schema=schema))
                    count += len(chunk)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer_csv = csv.DictWriter(fh, DATASET_COLUMNS, lineterminator="\n")
                writer_csv.writeheader()
                for row in rows:
                    writer_csv.writerow(row)
                    count += 1
    return count


def _chunks(rows: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def combine(target: Path, newer: Iterable[Path | Iterable[dict[str, str]]]) -> int:
    """Rewrite ``target`` with its rows, then each of ``newer`` (files or row streams) in order; a later
    row for a path replaces an earlier one, at its own place. Returns the rows written.

    Memory stays flat in the table's size: the rows meet in an SQLite scratch table keyed by
    path (a table of millions of rows would not fit a dict), then stream out in order.
    """
    with tempfile.TemporaryDirectory(prefix="dcmexport-dataset-") as scratch:
        _, db = open_scratch(Path(scratch), "rows-")
        try:
            db.execute("CREATE TABLE rows (path TEXT PRIMARY KEY, seq INTEGER, data TEXT)")
            seq = 0
            for source in [target, *newer]:
                if isinstance(source, Path):
                    if not source.is_file():
                        continue
                    source = read_rows(source)
                for row in source:
                    seq += 1  # a redone output: its newest row, at the end
                    db.execute("INSERT OR REPLACE INTO rows VALUES (?, ?, ?)",
                               (row["path"], seq, json.dumps([row[c] for c in DATASET_COLUMNS])))
            db.execute("CREATE INDEX by_seq ON rows (seq)")
            ordered = (dict(zip(DATASET_COLUMNS, json.loads(data), strict=True))
                       for (data,) in db.execute("SELECT data FROM rows ORDER BY seq"))
            return write_rows(target, ordered)
        finally:
            db.close()


class DatasetObserver:
    """Writes the run's rows to the dataset table when the batch ends (``--dataset csv|parquet``)."""

    def __init__(self, out_dir: Path, fmt: str, shard: tuple[int, int] | None = None) -> None:
        self.out_dir, self.path = out_dir, out_dir / dataset_name(fmt, shard)
        self.count = 0
        self._rows = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 - closed at the end
        self._writer = csv.DictWriter(self._rows, DATASET_COLUMNS, lineterminator="\n")

    def on_start(self, total: int | None) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        for row in rows_of(result, self.out_dir):
            self._writer.writerow(row)
            self.count += 1

    def on_finish(self, batch: BatchResult) -> None:
        self._rows.seek(0)
        try:
            total = combine(self.path, [csv.DictReader(self._rows, DATASET_COLUMNS)])
        finally:
            self._rows.close()
        batch.notes.append(f"dataset table: {self.count} rows added to {self.path} ({total} in all)")


def merge_dataset_parts(out_dir: Path, count: int) -> int | None:
    """Fold the shards' dataset parts into ``dataset.csv`` / ``dataset.parquet``; remove them.

    Returns:
        The rows of the merged table, or None when no shard wrote a part.
    """
    parts: dict[str, list[tuple[int, Path]]] = {}
    for path in out_dir.iterdir():
        match = DATASET_PART.match(path.name)
        if match and int(match[2]) == count and path.is_file() and not path.is_symlink():
            parts.setdefault(match[3], []).append((int(match[1]), path))
    total = None
    for fmt, found in sorted(parts.items()):
        ordered = [p for _, p in sorted(found)]
        total = combine(out_dir / f"dataset.{fmt}", ordered)
        for path in ordered:
            path.unlink()
    return total


#: Files of a run in ``--out`` that are not outputs (no row in the table).
_NOT_OUTPUTS = re.compile(r"^(manifest(\.shard-\d+-of-\d+)?\.jsonl|dataset(\.shard-\d+-of-\d+)?\.(csv|parquet)"
                          r"|review\.html|\..*)$")


def iter_table_problems(out_dir: Path) -> Iterator[tuple[str, str]]:
    """Check ``out_dir``'s dataset table against its files: (file, PHI-free detail) per problem.

    Every row's path must exist inside ``out_dir``, and every output file (not the manifest,
    the table, the review page or a hidden file) must have a row. Nothing when there is no table.
    """
    from dcmexport.paths import resolve_child

    for name in DATASET_NAMES:
        table = out_dir / name
        if not table.is_file():
            continue
        try:
            rows = list(read_rows(table))  # verify reads the whole table: errors surface here
        except (UsageError, MissingDependencyError, OSError, csv.Error) as exc:
            yield str(table), f"cannot be read as a dataset table ({type(exc).__name__})"
            continue
        listed = set()
        for row in rows:
            listed.add(row["path"])
            target = resolve_child(out_dir, row["path"])
            if target is None or not target.is_file():
                yield str(table), "a row names a file that does not exist in the output folder"
        for path in sorted(out_dir.rglob("*")):
            rel = path.relative_to(out_dir)
            if path.is_file() and not any(_NOT_OUTPUTS.match(part) for part in rel.parts) \
                    and rel.as_posix() not in listed:
                yield str(path), f"output without a row in {name}"
