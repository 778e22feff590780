"""``dcmexport merge OUT``: combine the manifest (and linkage) parts that shards wrote.

Each shard's part holds its runs: a ``run`` record, a ``shard`` start record, its
object records (each with a keyed ``input_id``) and, if the run finished, a ``shard``
end record. Merging appends every part to ``manifest.jsonl`` (which keeps its
history, as the manifest of re-runs does), then checks, for each shard of N, its
newest run in the combined manifest, earlier merges included:

- a shard with no run, or whose newest run has no end record, is *missing* objects
  (not run, or killed: run it again and merge again);
- an ``input_id`` recorded by the newest runs of two shards is a *duplicated* object
  (shards given different inputs or counts);
- newest runs with different fingerprints were made under different options, keys or
  versions; with different ``inputs`` digests, from different input arguments (each
  shard then partitioned another list: objects may be missing or done twice).

Memory stays flat in the number of objects: the combined file is streamed, and the
``input_id`` set used to find duplicates lives in an SQLite file in a temporary folder.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmexport.atomic import atomic_output
from dcmexport.audit.manifest import (
    MANIFEST_NAME,
    PART_PATTERN,
    ObjectRecord,
    RunRecord,
    ShardRecord,
    iter_manifest,
)
from dcmexport.errors import UsageError

_CHUNK = 1 << 20


@dataclass
class MergeReport:
    """What ``merge`` found and did."""

    count: int
    merged_parts: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # shards with no run at all
    unfinished: list[int] = field(default_factory=list)  # newest run without an end record
    objects: int = 0  # object records in the newest runs of the N shards
    duplicated: int = 0  # input_ids recorded by more than one shard
    fingerprints: int = 0  # distinct fingerprints among the newest runs
    inputs: int = 0  # distinct input-argument digests among the newest runs
    linkage_pairs: int | None = None

    @property
    def problems(self) -> list[str]:
        """One PHI-free line per problem (empty: the shards add up to one whole run)."""
        lines = [f"shard {i}/{self.count} has no run in {MANIFEST_NAME} or a part: its objects are missing "
                 f"(run it with --shard {i}/{self.count}, then merge again)" for i in self.missing]
        lines += [f"shard {i}/{self.count} did not finish: some of its objects may be missing (run it again with "
                  f"--shard {i}/{self.count}, then merge again)" for i in self.unfinished]
        if self.duplicated:
            lines.append(f"{self.duplicated} objects were recorded twice in the shards' newest runs (a shard run "
                         "under another's index, or inputs given twice)")
        if self.fingerprints > 1:
            lines.append(f"the shards ran under {self.fingerprints} different sets of options, keys or versions")
        if self.inputs > 1:
            lines.append(f"the shards were given {self.inputs} different lists of inputs: objects may be missing "
                         "or done twice (give every shard the same inputs, in the same order)")
        return lines


def find_parts(out_dir: Path) -> dict[tuple[int, int], Path]:
    """The manifest parts in ``out_dir``, by (index, count)."""
    parts: dict[tuple[int, int], Path] = {}
    if out_dir.is_dir():
        for path in out_dir.iterdir():
            match = PART_PATTERN.match(path.name)
            if match and path.is_file() and not path.is_symlink():
                parts[(int(match[1]), int(match[2]))] = path
    return parts


def merge_parts(out_dir: Path, linkage: Path | None = None) -> MergeReport:
    """Append every manifest part in ``out_dir`` to ``manifest.jsonl`` (atomically), remove the parts, check.

    Args:
        out_dir: the shards' common ``--out``.
        linkage: the ``--linkage`` path the shards were given: its parts are added to it.

    Returns:
        The report; its :attr:`MergeReport.problems` are empty when the shards add up to one run.

    Raises:
        UsageError: no parts, or parts of runs with different shard counts.
    """
    parts = find_parts(out_dir)
    if not parts:
        raise UsageError(f"{out_dir}: no manifest parts (manifest.shard-I-of-N.jsonl) to merge")
    counts = sorted({count for _, count in parts})
    if len(counts) > 1:
        raise UsageError(f"{out_dir} holds parts of runs with different shard counts ({', '.join(map(str, counts))}): "
                         "merge each run's parts in their own --out")
    report = MergeReport(count=counts[0], merged_parts=sorted(index for index, _ in parts))
    target = out_dir / MANIFEST_NAME
    with tempfile.TemporaryDirectory(prefix="dcmexport-merge-") as scratch, \
            atomic_output(target, overwrite=True) as tmp:
        with open(tmp, "wb") as combined:
            for source in ([target] if target.is_file() else []) + [parts[key] for key in sorted(parts)]:
                _append(source, combined)
        _check(tmp, report, Path(scratch) / "ids.sqlite")
    for path in parts.values():
        path.unlink()
    if linkage is not None:
        report.linkage_pairs = merge_linkage(linkage, report.count)
    return report


def _append(source: Path, combined: Any) -> None:
    with open(source, "rb") as fh:
        last = b"\n"
        while chunk := fh.read(_CHUNK):
            combined.write(chunk)
            last = chunk[-1:]
        if last != b"\n":  # a part cut off mid-line (a killed shard): keep the next record on its own line
            combined.write(b"\n")


def _sections(path: Path, count: int) -> Iterator[tuple[int, int, RunRecord | ObjectRecord | ShardRecord]]:
    """(run number, shard index, record) for the records of the runs of shards of ``count``."""
    section, shard, run = 0, None, None
    for record in iter_manifest(path):
        if isinstance(record, RunRecord):
            section, shard, run = section + 1, None, record
        elif isinstance(record, ShardRecord) and record.event == "start" and record.count == count:
            shard = record.index
            if run is not None:
                yield section, shard, run
        if shard is not None and record is not None:
            yield section, shard, record


def _check(path: Path, report: MergeReport, ids_path: Path) -> None:
    newest: dict[int, int] = {}
    for section, shard, _ in _sections(path, report.count):
        newest[shard] = section
    report.missing = [i for i in range(report.count) if i not in newest]
    finished: set[int] = set()
    fingerprints: set[str] = set()
    inputs: set[str] = set()
    ids = sqlite3.connect(ids_path)
    ids.execute("CREATE TABLE ids (id TEXT PRIMARY KEY)")
    for section, shard, record in _sections(path, report.count):
        if newest.get(shard) != section:
            continue
        if isinstance(record, RunRecord) and record.fingerprint is not None:
            fingerprints.add(record.fingerprint)
        elif isinstance(record, ShardRecord) and record.event == "end":
            finished.add(shard)
        elif isinstance(record, ShardRecord) and record.inputs is not None:
            inputs.add(record.inputs)
        elif isinstance(record, ObjectRecord):
            report.objects += 1
            if record.input_id is not None:
                inserted = ids.execute("INSERT OR IGNORE INTO ids VALUES (?)", (record.input_id,)).rowcount
                report.duplicated += 1 - inserted
    ids.close()
    report.unfinished = sorted(set(newest) - finished)
    report.fingerprints = len(fingerprints)
    report.inputs = len(inputs)


def linkage_parts(linkage: Path, count: int) -> list[Path]:
    """The shards' parts of the ``--linkage`` table (``links.shard-I-of-N.csv``)."""
    prefix, suffix = f"{linkage.stem}.shard-", f"-of-{count}{linkage.suffix}"
    return sorted(p for p in linkage.parent.glob(f"{prefix}*{suffix}") if p.is_file() and not p.is_symlink())


def merge_linkage(linkage: Path, count: int) -> int:
    """Add the linkage parts' pairs to ``linkage`` (mode 0600, atomically); remove the parts; return the pairs.

    Raises:
        UsageError: a part or the table is not a dcmexport linkage table.
    """
    from dcmexport.audit.linkage import LINKAGE_COLUMNS

    rows: dict[tuple[str, ...], None] = {}
    parts = linkage_parts(linkage, count)
    for source in ([linkage] if linkage.is_file() else []) + parts:
        table = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8-sig"), newline="")))
        if not table or tuple(table[0]) != LINKAGE_COLUMNS:
            raise UsageError(f"{source} is not a dcmexport linkage table; not merged")
        rows.update(dict.fromkeys(tuple(row) for row in table[1:] if len(row) == len(LINKAGE_COLUMNS)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LINKAGE_COLUMNS)
    writer.writerows(rows)
    with atomic_output(linkage, overwrite=True) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
    for part in parts:
        part.unlink()
    return len(rows)

