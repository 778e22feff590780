"""The per-run audit trail: ``manifest.jsonl`` in the output directory (JSON Lines).

One ``run`` record (tool version, profile and options, whether the key was
ephemeral), then one ``object`` record per input: its SHA-256, status, output
names, frame and rate facts and counts of de-identification actions by kind.
Never a PHI value: input *paths* are not recorded either (a file name can carry
a patient's name); the SHA-256 identifies the input for the custodian.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dcmexport.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import Key
    from dcmexport.results import ExportResult

MANIFEST_NAME = "manifest.jsonl"


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, paths and containers as plain JSON values (dicts keyed by field name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


class Manifest:
    """Append-only JSON Lines writer; each line is flushed as it is written, fsynced at close."""

    def __init__(self, path: Path, fingerprint: str | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        try:  # O_NOFOLLOW: a symlink planted at manifest.jsonl must not redirect the audit trail
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise UsageError(
                f"{path.name} in --out cannot be opened ({exc.strerror}); if it is a symlink, remove it"
            ) from None
        self._fh = os.fdopen(fd, "a", encoding="utf-8")

    @classmethod
    def open(cls, out_dir: Path, *, tool_version: str, options: Any, key: Key, command: str = "export",
             fingerprint: str | None = None, name: str = MANIFEST_NAME) -> Manifest:
        """Open ``out_dir/manifest.jsonl`` and write the run record.

        Args:
            out_dir: the output directory.
            tool_version: dcmexport's version.
            options: the run's options (a dataclass; the output directory itself is omitted).
            key: only whether it is ephemeral is recorded, never the key.
            command: ``export`` or ``deid``.
            fingerprint: the outputs' fingerprint (:mod:`dcmexport.pipeline.resume`), recorded per object.
            name: the file in ``out_dir`` (a shard writes its own part, :mod:`dcmexport.pipeline.shards`).
        """
        manifest = cls(out_dir / name, fingerprint)
        opts = jsonable(options)
        if isinstance(opts, dict):
            opts.pop("out_dir", None)
        manifest._write(
            {
                "record": "run",
                "tool": "dcmexport",
                "command": command,
                "version": tool_version,
                "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "options": opts,
                "key": "ephemeral" if key.ephemeral else "provided",
                "fingerprint": fingerprint,
            }
        )
        return manifest

    def record(self, result: ExportResult, *, out_dir: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Append one object record (PHI-free by construction: no paths of inputs, no values).

        ``outputs`` lists only files this record vouches for (written, or found made under the
        same fingerprint); a ``kept`` object's files, made under other options, are listed as
        ``kept`` so that no reader takes this run's masks and notes for theirs. ``extra``
        adds PHI-free fields (a shard's keyed ``input_id``).
        """

        def names(paths: list[Path]) -> list[str]:
            return [p.name if p.parent == out_dir else str(p.relative_to(out_dir)) for p in paths]

        self._write(
            {
                "record": "object",
                "input_sha256": result.input_sha256,
                "status": result.status,
                "error_kind": result.error_kind,
                "reason": result.reason,
                "outputs": names(result.outputs),
                "kept": names(result.kept_outputs),
                "fingerprint": self.fingerprint if result.outputs else None,
                "frames": result.frames,
                "fps": result.fps,
                "fps_source": result.fps_source,
                "notes": result.notes,
                "actions": result.action_counts,
                "masks": [list(b) for b in result.mask_boxes],
                "keep": None if result.keep_boxes is None else [list(b) for b in result.keep_boxes],
                "seconds": round(result.seconds, 3),
                **(extra or {}),
            }
        )

    def write_record(self, record: Mapping[str, Any]) -> None:
        """Append a record of another kind (a shard's ``shard`` records); PHI-free by the caller's contract."""
        self._write(dict(record))

    def _write(self, record: dict[str, Any]) -> None:
        # Flushed per line (a crash keeps what the OS has); fsynced once at close. Outputs
        # themselves are fsynced before their rename, and resuming trusts outputs, not this file.
        self._fh.write(json.dumps(record, sort_keys=True) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_output_fingerprints(out_dir: Path, name: str = MANIFEST_NAME) -> dict[str, str]:
    """Map each output name in ``out_dir``'s manifest to the fingerprint of the last record vouching for it.

    Records without a fingerprint (older versions) vouch for nothing, so their
    outputs are redone. Unparsable lines are ignored: resuming then redoes more,
    never less. A missing manifest gives an empty map.
    """
    fingerprints: dict[str, str] = {}
    try:
        with open(out_dir / name, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                _vouch(line, fingerprints)
    except OSError:
        return {}
    return fingerprints


def _vouch(line: str, fingerprints: dict[str, str]) -> None:
    """Apply one manifest line to the name -> fingerprint map (the last record for a name wins)."""
    try:
        record = json.loads(line)
    except ValueError:
        return
    if not isinstance(record, dict) or record.get("record") != "object":
        return
    outputs = record.get("outputs")
    if not isinstance(outputs, list):
        return
    fp = record.get("fingerprint")
    for name in outputs:
        if not isinstance(name, str):
            continue
        if isinstance(fp, str):
            fingerprints[name] = fp
        else:
            fingerprints.pop(name, None)
