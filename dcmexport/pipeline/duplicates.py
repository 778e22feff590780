"""Inputs of one run that hold the same instance, told apart in the client, in bounded memory.

A run of millions of objects cannot keep every SOP Instance UID it has seen in a
dict (about 300 bytes per object with the input's digest and path), so the table
lives in an SQLite file in the run's private temporary folder: memory holds
SQLite's page cache (2 MB by default), whatever the number of objects. The file
holds digests of the UIDs (BLAKE2b, never the UIDs) and input paths; it is removed
with the folder at the end of the run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dcmexport.pipeline.resume import DUPLICATE_REASON
from dcmexport.pipeline.scratch import open_scratch
from dcmexport.results import SKIPPED, WRITTEN, BatchResult, ExportResult


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _outputs_digest(outputs: list[Path]) -> bytes:
    return _digest("\0".join(sorted(str(p) for p in outputs)))


class DuplicateInstances:
    """A batch observer: inputs of one run that hold the same (0008,0018) SOPInstanceUID.

    Same content: the later one is a duplicate (skipped), whichever worker ran it; a
    pool's workers cannot see each other's outputs, so without this both would say
    written. Other content under one SOP Instance UID: both are exported, and each
    later one says which input (by SHA-256, never by path: notes go to the manifest)
    holds the same instance; the batch's note names the paths for the user.
    """

    def __init__(self, workdir: Path) -> None:
        self.path, self._db = open_scratch(workdir, "instances-")
        # first: the first result of each instance; written: each (instance, content) written, and its outputs
        self._db.execute("CREATE TABLE first (uid BLOB PRIMARY KEY, sha TEXT, source BLOB)")
        self._db.execute("CREATE TABLE written (uid BLOB, sha TEXT, outputs BLOB, PRIMARY KEY (uid, sha))")
        self._clashes: list[tuple[Path, Path]] = []  # rare: kept in memory

    def on_start(self, total: int | None) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        uid = result.instance_uid
        if uid is None:
            return
        key, sha = _digest(uid), result.input_sha256 or ""
        if result.status == WRITTEN:
            outputs = _outputs_digest(result.outputs)
            made = self._db.execute("SELECT outputs FROM written WHERE uid = ? AND sha = ?", (key, sha)).fetchone()
            if made is None:
                self._db.execute("INSERT INTO written VALUES (?, ?, ?)", (key, sha, outputs))
            elif made[0] == outputs:
                result.status, result.reason = SKIPPED, DUPLICATE_REASON
        first = self._db.execute("SELECT sha, source FROM first WHERE uid = ?", (key,)).fetchone()
        if first is None:
            self._db.execute("INSERT INTO first VALUES (?, ?, ?)", (key, sha, os.fsencode(result.source)))
            return
        first_sha, first_source = first
        if sha == first_sha:
            return
        digest = (first_sha or "unknown")[:16]
        result.notes.append(f"duplicate (0008,0018) SOPInstanceUID: the input sha256:{digest} holds the same "
                            "instance with other content; both exported")
        self._clashes.append((Path(os.fsdecode(first_source)), result.source))

    def on_finish(self, batch: BatchResult) -> None:
        for first, later in self._clashes:
            batch.notes.append(f"{first} and {later} hold the same (0008,0018) SOPInstanceUID with different "
                               "content; both were exported")

    def close(self) -> None:
        """Close and remove the table (the run's folder goes too); the clashes found stay for :meth:`on_finish`."""
        self._db.close()
        self.path.unlink(missing_ok=True)
