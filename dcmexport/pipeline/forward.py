"""Forwarding: each de-identified object, once written, is stored in a research archive.

A *post-write step* (:class:`~dcmexport.pipeline.batch.PostWriteStep`), not an
observer: it runs in the client after the executor has committed the object's
files (fsynced and renamed, so what is sent is exactly what ``--out`` holds), and
before the manifest, the run log and the progress record the result, so that they
record whether the object reached the archive. One connection serves the whole
run. Only objects this run vouches for are sent (written, or found made under the
same options); nothing that failed de-identification or masking, or was refused
or kept, ever is.

A failed store fails the object: one line, exit 1. The files this run wrote for
it are removed, so a re-run redoes and sends it. Transient failures (no answer,
out of resources, HTTP 5xx) are retried with exponential backoff, a bounded number
of times; after several objects in a row failed that way, the rest are not tried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from dcmexport.errors import NetworkError
from dcmexport.net import NetSettings, PacsSpec, SendError, Spec, parse_spec
from dcmexport.pipeline.writing import remove_outputs
from dcmexport.results import FAILED, SKIPPED, WRITTEN, ExportResult


class Destination(Protocol):
    """Where objects are stored: one ``send`` per Part 10 file."""

    def send(self, path: Path) -> None: ...

    def close(self) -> None: ...


def open_destination(spec: Spec, settings: NetSettings) -> Destination:
    """C-STORE for ``pacs://``, STOW-RS for ``dicomweb+https://``.

    Raises:
        MissingDependencyError: pynetdicom or dicomweb-client is not installed.
    """
    if isinstance(spec, PacsSpec):
        from dcmexport.net.dimse import StoreScu

        return StoreScu(spec, settings)
    from dcmexport.net.web import WebClient

    return WebClient(spec, settings)


class ForwardStep:
    """Store each written object's ``.dcm`` output at ``destination`` (see the module docstring)."""

    def __init__(self, destination: Destination, name: str, *, attempts: int = 3, backoff: float = 0.5,
                 give_up_after: int = 3, sleep: Callable[[float], None] = time.sleep) -> None:
        self.destination, self.name = destination, name
        self.attempts, self.backoff, self.give_up_after, self.sleep = max(1, attempts), backoff, give_up_after, sleep
        self.sent: set[Path] = set()
        self._failing = 0  # objects in a row that failed transiently after every attempt

    @classmethod
    def to(cls, spec: str | Spec, settings: NetSettings | None = None, **kwargs: object) -> ForwardStep:
        """A step forwarding to a spec (``pacs://AET@host:port``, ``dicomweb+https://host/path``).

        Raises:
            UsageError: a malformed spec.
        """
        parsed = parse_spec(spec, "--to") if isinstance(spec, str) else spec
        return cls(open_destination(parsed, settings or NetSettings()), str(parsed), **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> ForwardStep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destination.close()

    def after_write(self, result: ExportResult) -> None:
        """Send the result's DICOM outputs; on failure, fail the result and remove what this run wrote."""
        dicom = [p for p in result.outputs if p.suffix == ".dcm"]
        if result.status not in (WRITTEN, SKIPPED) or not dicom:
            return
        for path in [p for p in dicom if p not in self.sent]:
            error = self._send(path)
            if error is not None:
                if result.status == WRITTEN:
                    remove_outputs(result.outputs)
                result.status, result.outputs, result.error_kind = FAILED, [], NetworkError.reason
                result.reason = f"not stored: {error}"
                return
            self.sent.add(path)
        result.notes.append(f"stored at {self.name}")

    def _send(self, path: Path) -> str | None:
        if self._failing >= self.give_up_after:
            return (f"{self.name}: not tried: the last {self._failing} objects could not be stored "
                    "(the archive is unreachable or out of resources)")
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                self.destination.send(path)
            except SendError as exc:
                if not exc.transient:
                    return str(exc)
                if attempt == self.attempts:
                    self._failing += 1
                    return f"{exc} (after {attempt} attempts)"
                self.sleep(delay)
                delay *= 2
            except NetworkError as exc:
                return str(exc)
            except (OSError, ValueError) as exc:  # the file could not be read; its text may quote a path
                return f"{self.name}: the written file could not be sent ({type(exc).__name__})"
            else:
                self._failing = 0
                return None
        return None  # pragma: no cover - the loop returns
