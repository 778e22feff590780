"""The data custodian's files: the linkage table written by ``--linkage`` and the ``--patient-map`` read in.

The linkage table *is* PHI (original -> pseudonym pairs). It is refused inside
the output directory (which is meant to be shared), created with mode 0600 and
replaced atomically; a later run adds its pairs to the existing table (never
losing a row). Nothing else in dcmexport ever writes these values.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from dcmexport.atomic import atomic_output
from dcmexport.deid import LinkageRecord
from dcmexport.errors import UsageError
from dcmexport.paths import contains

LINKAGE_COLUMNS = ("kind", "original", "pseudonym")
PATIENT_MAP_COLUMNS = ("original_patient_id", "new_patient_id", "new_patient_name")


def check_linkage_path(path: Path, out_dir: Path | None = None) -> None:
    """Check ``--linkage`` before anything is written: a file path the table can be kept at.

    The commands call this first, so that a bad path is a usage error with no output written
    (without a key file, a run's pairs could not be recreated later). Nothing is created here.

    Args:
        path: the ``--linkage`` path.
        out_dir: the (shareable) output directory, which must not contain the table.

    Raises:
        UsageError: ``path`` is a directory, lies under a file, is inside ``out_dir``, or is an
            existing file that is not a dcmexport linkage table in UTF-8 (it is never overwritten).
    """
    if out_dir is not None and contains(out_dir.resolve(), path.resolve(), or_equal=True):
        raise UsageError("--linkage must be outside the --out directory (the linkage table is PHI)")
    if path.is_dir():
        raise UsageError(f"--linkage {path} is a directory; name a CSV file in it, e.g. {path / 'linkage.csv'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--linkage {path}: {parent} is not a directory")
            break
    if path.exists() or path.is_symlink():
        _read_table(path)


def _read_table(path: Path) -> list[tuple[str, str, str]]:
    """The rows of an existing linkage table (UTF-8, a BOM allowed), header checked.

    Raises:
        UsageError: not a regular file, unreadable, not UTF-8, or not a linkage table.
    """
    if not path.is_file():
        raise UsageError(f"--linkage {path} is not a regular file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"--linkage {path}: not UTF-8 text; dcmexport writes and appends its linkage "
                         "table in UTF-8") from None
    except OSError as exc:
        raise UsageError(f"--linkage {path}: cannot be read ({exc.strerror})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(rows[0]) != LINKAGE_COLUMNS or any(len(row) != len(LINKAGE_COLUMNS) for row in rows[1:]):
        raise UsageError(f"--linkage {path} exists and is not a dcmexport linkage table "
                         f"(header {','.join(LINKAGE_COLUMNS)}); refusing to touch it")
    return [(kind, original, pseudonym) for kind, original, pseudonym in rows[1:]]


def write_linkage(path: Path, records: Iterable[LinkageRecord], out_dir: Path) -> int:
    """Add this run's pairs to the linkage CSV (mode 0600, replaced atomically); return how many were new.

    An existing table is read and kept: a second run never loses a row. Rows are
    deduplicated as whole (kind, original, pseudonym) triples, so the pairs of runs made
    with different keys are all kept.

    Raises:
        UsageError: see :func:`check_linkage_path`.
    """
    check_linkage_path(path, out_dir)
    existing = _read_table(path) if path.exists() else []
    rows: dict[tuple[str, str, str], None] = dict.fromkeys(existing)
    before = len(rows)
    for rec in records:
        rows.setdefault((rec.kind, rec.original, rec.pseudonym), None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LINKAGE_COLUMNS)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
        os.chmod(tmp, 0o600)
    return len(rows) - before


def read_patient_map(path: Path) -> dict[str, tuple[str, str]]:
    """Read a ``--patient-map`` CSV: ``original_patient_id,new_patient_id,new_patient_name``.

    Raises:
        UsageError: missing columns, an empty new ID, or a duplicate original ID (row numbers only).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"--patient-map {path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:  # the message names the offset only, never the bytes around it
        raise UsageError(f"--patient-map {path}: not UTF-8 text (byte offset {exc.start}); "
                         "save it as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(PATIENT_MAP_COLUMNS) <= set(reader.fieldnames):
        raise UsageError(f"--patient-map {path}: the header must be {','.join(PATIENT_MAP_COLUMNS)}")
    mapping: dict[str, tuple[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        original = (row["original_patient_id"] or "").strip()
        new_id = (row["new_patient_id"] or "").strip()
        new_name = (row["new_patient_name"] or "").strip() or new_id
        if not original or not new_id:
            raise UsageError(f"--patient-map {path}: row {line} needs original_patient_id and new_patient_id")
        if original in mapping:
            raise UsageError(f"--patient-map {path}: row {line} repeats an original_patient_id")
        mapping[original] = (new_id, new_name)
    return mapping
