"""Critical sections that an asynchronous exception (the ``--timeout`` alarm) must not split.

The per-object time limit (:mod:`dcmexport.pipeline.guard`) raises from a SIGALRM
handler, between any two bytecodes of the main thread. A few short sections must run
whole or not at all, or the cleanup that follows the exception fails:

- starting a child process: interrupted inside :class:`subprocess.Popen`, the child
  runs on unowned (nobody kills it) and creates its output file after the cleanup removed it;
- starting a thread: interrupted inside :meth:`threading.Thread.start` (which waits for
  the thread to signal that it runs), the thread cannot be joined afterwards
  (``RuntimeError: cannot join thread before it is started``, issue #18 item 3).

Inside :func:`critical_section`, :func:`raise_unless_deferred` (called by the alarm
handler) keeps its exception pending; it is raised when the outermost section ends.
Only the main thread defers (signal handlers run there); elsewhere a section does nothing.
"""

from __future__ import annotations

import threading
from types import TracebackType


class _State:
    depth = 0
    pending: BaseException | None = None


class critical_section:  # noqa: N801 - used like a function: ``with critical_section():``
    """Run a short block whole: an asynchronous exception raised meanwhile waits for its end.

    Keep the block short and free of waits that may not end (a child's start, a
    thread's start): the time limit is late by as long as the block lasts.
    """

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            _State.depth += 1
            self._counted = True
        else:
            self._counted = False

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._counted:
            return
        _State.depth -= 1
        if _State.depth == 0 and _State.pending is not None:
            pending, _State.pending = _State.pending, None
            raise pending


def raise_unless_deferred(exc: BaseException) -> None:
    """Raise ``exc`` now, or, inside a :func:`critical_section` of the main thread, when it ends.

    Called from a signal handler (which runs in the main thread).
    """
    if _State.depth > 0 and threading.current_thread() is threading.main_thread():
        _State.pending = exc
        return
    raise exc


def discard_pending() -> None:
    """Forget an exception still pending (the guard that armed it has ended)."""
    _State.pending = None
