"""One object's work under guard: a wall-clock limit, and every failure turned into a PHI-free result."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from dcmexport.errors import (
    DcmexportError,
    TimeLimitError,
)
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


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitError in this (main) thread after ``seconds`` of wall-clock time.

    SIGALRM interrupts Python code between bytecodes; a long C call (a decoder)
    is interrupted when it returns. Off when ``seconds`` is None or outside the
    main thread (signals can only be handled there).
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _Alarm(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_guarded(path: Path, body: Callable[[ExportResult], None], timeout: float | None = None) -> ExportResult:
    """Run one object's work; turn every failure into a PHI-free result (fail closed per object)."""
    started = time.perf_counter()
    result = ExportResult(source=path, status=FAILED)
    try:
        try:
            with quiet_pydicom(), _time_limit(timeout):
                body(result)
        except _Alarm:
            if result.status != WRITTEN:  # the alarm may also fire just after the object completed
                raise TimeLimitError(f"took longer than --timeout {timeout:g} s; stopped, nothing written") from None
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
