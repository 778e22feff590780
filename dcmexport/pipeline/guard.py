"""One object's work under guard: a wall-clock limit, and every failure turned into a PHI-free result."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dcmexport.errors import (
    DcmexportError,
    TimeLimitError,
)
from dcmexport.interrupts import discard_pending, raise_unless_deferred
from dcmexport.read import (
    quiet_pydicom,
    sha256_file,
)
from dcmexport.results import (
    FAILED,
    STATUS_BY_REASON,
    WRITTEN,
    ExportResult,
)

log = logging.getLogger("dcmexport")


class _Alarm(BaseException):
    """Raised by the SIGALRM handler. A BaseException, so that no ``except Exception`` in a
    stage or library can swallow it; cleanup in ``finally`` / ``except BaseException`` still runs."""


class TimeLimit:
    """Raise :class:`_Alarm` in this (main) thread after ``seconds`` of wall-clock time.

    SIGALRM interrupts Python code between bytecodes; a long C call (a decoder)
    is interrupted when it returns; a :func:`~dcmexport.interrupts.critical_section`
    (starting ffmpeg or a thread) is finished first. Off when ``seconds`` is None or
    outside the main thread (signals can only be handled there).

    ``expired`` tells afterwards whether the alarm went off: whatever exception then
    comes out of the body (a library may turn the alarm into its own error while it
    cleans up) is the time limit's doing.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        self._previous: object = None
        self._armed = False

    def _on_alarm(self, signum: int, frame: object) -> None:
        self.expired = True
        raise_unless_deferred(_Alarm(self.seconds))

    def __enter__(self) -> TimeLimit:
        if self.seconds and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
            self._armed = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]
            discard_pending()
            self._armed = False


def run_guarded(path: Path, body: Callable[[ExportResult], None], timeout: float | None = None) -> ExportResult:
    """Run one object's work; turn every failure into a PHI-free result (fail closed per object).

    Once ``timeout`` has expired, the object is reported as timed out whatever the
    exception that ends it (issue #18 item 3), unless it was already written.
    """
    started = time.perf_counter()
    result = ExportResult(source=path, status=FAILED)
    limit = TimeLimit(timeout)
    try:
        try:
            with quiet_pydicom(), limit:
                body(result)
        except (_Alarm, Exception) as exc:
            if limit.expired and result.status != WRITTEN:
                log.debug("stopped by --timeout", exc_info=not isinstance(exc, _Alarm))
                raise TimeLimitError(f"took longer than --timeout {timeout:g} s; stopped, nothing written") from None
            if not isinstance(exc, _Alarm):  # an alarm just after the object completed is harmless
                raise
    except DcmexportError as exc:
        result.status = STATUS_BY_REASON.get(exc.reason, FAILED)
        result.reason = str(exc)
        result.error_kind = exc.reason
        result.outputs = []
    except MemoryError:
        result.reason = "out of memory while processing; try --frames first or a smaller object"
        result.error_kind = "memory"
        result.outputs = []
    except Exception as exc:  # a bug or an unforeseen library error: report the type only (its text may hold values)
        log.debug("unexpected error", exc_info=True)
        result.reason = f"internal error ({type(exc).__name__}); run with --debug for details"
        result.error_kind = "internal"
        result.outputs = []
    if result.input_sha256 is None and result.status != WRITTEN:
        with contextlib.suppress(OSError, DcmexportError):
            result.input_sha256 = sha256_file(path)  # lets the custodian match a failure without its path
    result.seconds = time.perf_counter() - started
    return result
