"""``--log FILE``: a plain-text, PHI-free line per object, flushed as each finishes.

Objects are identified by their input's SHA-256 (``sha256sum FILE`` matches it)
and their output names, never by the input path (a file name can carry a
patient's name) or by any dataset value; reasons are dcmexport's own
keyword-only messages.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.results import ExportResult


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def format_log_line(result: ExportResult) -> str:
    """One line: time, status, input digest, outputs, reason, notes."""
    digest = (result.input_sha256 or "unknown")[:16]
    parts = [_now(), result.status, f"input=sha256:{digest}"]
    if result.outputs:
        parts.append("outputs=" + ",".join(p.name for p in result.outputs))
    if result.reason:
        parts.append(f"reason={result.reason}")
    parts.extend(f"note={note}" for note in result.notes)
    return " | ".join(parts)


class RunLog:
    """Append-only log file; every line is flushed at once so a crash loses nothing written."""

    def __init__(self, path: Path, command: str, version: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()/__exit__
        self.write(f"{_now()} | start | dcmexport {version} {command}")

    def write(self, line: str) -> None:
        self._fh.write(line.replace("\n", " ") + "\n")
        self._fh.flush()

    def record(self, result: ExportResult) -> None:
        self.write(format_log_line(result))

    def close(self) -> None:
        if not self._fh.closed:
            self.write(f"{_now()} | end")
            self._fh.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
