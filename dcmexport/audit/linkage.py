"""The data custodian's files: the linkage table written by ``--linkage`` and the ``--patient-map`` read in.

The linkage table *is* PHI (original -> pseudonym pairs). It is refused inside
the output directory (which is meant to be shared), created with mode 0600 and
written atomically; nothing else in dcmexport ever writes these values.
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

LINKAGE_COLUMNS = ("kind", "original", "pseudonym")
PATIENT_MAP_COLUMNS = ("original_patient_id", "new_patient_id", "new_patient_name")


def check_linkage_path(path: Path, out_dir: Path) -> None:
    """Refuse a linkage path inside the (shareable) output directory.

    Raises:
        UsageError: ``path`` is inside ``out_dir``.
    """
    out = out_dir.resolve()
    target = path.resolve()
    if target == out or out in target.parents:
        raise UsageError("--linkage must be outside the --out directory (the linkage table is PHI)")


def write_linkage(path: Path, records: Iterable[LinkageRecord], out_dir: Path) -> int:
    """Write the linkage CSV (mode 0600, atomically); return the number of distinct pairs.

    Raises:
        UsageError: ``path`` is inside ``out_dir``.
    """
    check_linkage_path(path, out_dir)
    seen: dict[tuple[str, str], str] = {}
    for rec in records:
        seen.setdefault((rec.kind, rec.original), rec.pseudonym)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LINKAGE_COLUMNS)
    for (kind, original), pseudonym in seen.items():
        writer.writerow((kind, original, pseudonym))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
        os.chmod(tmp, 0o600)
    return len(seen)


def read_patient_map(path: Path) -> dict[str, tuple[str, str]]:
    """Read a ``--patient-map`` CSV: ``original_patient_id,new_patient_id,new_patient_name``.

    Raises:
        UsageError: missing columns, an empty new ID, or a duplicate original ID (row numbers only).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"--patient-map {path}: cannot be read ({exc.strerror})") from None
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
