"""What runs on a Dask worker: the run's context, installed once by a worker plugin, and the task function.

Imported by :mod:`dcmexport.executors.dask` only (it needs ``distributed``). The
run's :class:`~dcmexport.pipeline.tasks.RunContext` (options, key, resume index)
travels once, inside :class:`RunPlugin`, which the scheduler hands to every worker
of the run, including workers that join or restart later; tasks carry only the
run's id and one group's input paths, under an opaque key.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from dcmexport._version import __version__
from dcmexport.deid import Deidentifier
from dcmexport.executors.local import renewed, run_group
from dcmexport.pipeline.tasks import RunContext, Task
from dcmexport.results import FAILED, ExportResult

#: Runs whose context this worker holds, by run id (removed by the plugin's teardown).
_RUNS: dict[str, RunState] = {}

#: glibc's mallopt parameters, and what a run sets while it holds a worker. Dask's nanny starts
#: workers with MALLOC_TRIM_THRESHOLD_=65536 (``distributed.nanny.pre-spawn-environ``), and any
#: explicit threshold turns glibc's dynamic mmap threshold off: every array above 128 KiB (a
#: 512x512 slice is 512 KiB as int16, 2 MiB as float64) is then mmap'ed, page-faulted in and
#: zeroed afresh. Measured in one process with that variable, 512x512 CT slices to PNG: 7.4 ms per
#: object, 5.8 ms with the thresholds below (as glibc's own dynamic ones would grow): -21 %.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_RUN_MMAP_THRESHOLD = 16 << 20
_RUN_TRIM_THRESHOLD = 64 << 20  # at most this much freed heap is kept by the worker between objects
_GLIBC_MMAP_THRESHOLD = 128 << 10  # glibc's default, static once a threshold is set


def _tune_malloc(run: bool) -> None:
    """While a run holds this worker (``run``), serve arrays from the heap; after it, Dask's settings again.

    Only where the nanny set ``MALLOC_TRIM_THRESHOLD_`` and glibc's ``mallopt`` exists;
    a worker without it keeps glibc's dynamic thresholds, which need no help.
    """
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
    if not trim.isdigit():
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, _RUN_MMAP_THRESHOLD if run else _GLIBC_MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _RUN_TRIM_THRESHOLD if run else int(trim))


#: The worker's statistical profiler, stopped while a run holds the worker. Every 10 ms
#: (``distributed.worker.profile.interval``) it takes the GIL from the task's thread and walks
#: its stack; with it, a worker took 1 ms more CPU per 512x512 CT slice (7.5 against 6.5 ms
#: in a pool process) and was 6 % slower in wall time than without it. The dashboard's
#: profile of a dcmexport run is therefore empty; it restarts when the run ends.
_PAUSED: list[Any] = []


def _pause_profiler(worker: Any) -> None:
    callback = getattr(worker, "periodic_callbacks", {}).get("profile")
    if callback is not None and callback.is_running():
        callback.stop()
        _PAUSED.append(callback)


def _resume_profiler(worker: Any) -> None:
    while _PAUSED:
        _PAUSED.pop().start()


class RunState:
    """One run's context on one worker, with a de-identifier per worker thread."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self._local = threading.local()

    def deidentifier(self) -> Deidentifier:
        """This thread's de-identifier (Deidentifier memoises and records pairs: not shared across threads)."""
        current: Deidentifier | None = getattr(self._local, "deidentifier", None)
        fresh = self.context.deidentifier() if current is None else renewed(current, self.context)
        self._local.deidentifier = fresh
        return fresh


class RunPlugin(WorkerPlugin):
    """Installs one run's context on a worker (setup) and removes it (teardown).

    Setup first checks that the worker sees the client's probe file in ``--out``
    (the same bytes): a worker joining later on a machine without the shared
    filesystem then refuses the run's tasks instead of writing outputs elsewhere.
    """

    def __init__(self, run_id: str, context: RunContext, probe: str, nonce: str) -> None:
        self.run_id, self.context, self.probe, self.nonce = run_id, context, probe, nonce
        self.name = f"dcmexport-{run_id}"

    def setup(self, worker: Any) -> None:
        if read_probe(self.probe) != self.nonce:
            raise RuntimeError("dcmexport: this worker does not see --out (the client's probe file); "
                               "--out must be on a filesystem every worker mounts at the same path")
        _RUNS[self.run_id] = RunState(self.context)
        _tune_malloc(run=True)
        _pause_profiler(worker)

    def teardown(self, worker: Any) -> None:
        _RUNS.pop(self.run_id, None)
        if not _RUNS:  # the last run on this worker ended: the worker as it was
            _tune_malloc(run=False)
            _resume_profiler(worker)

    def __repr__(self) -> str:  # never the context: it holds the key
        return f"<dcmexport run {self.run_id}>"


class Payload:
    """A group of tasks' input paths, sealed: Dask may print a failed task's arguments in its logs."""

    def __init__(self, tasks: tuple[Task, ...]) -> None:
        self.tasks = tasks

    def __repr__(self) -> str:
        return "<dcmexport tasks>"


def run_remote(run_id: str, payload: Payload) -> list[ExportResult]:
    """Run one group of tasks with the run's context installed on this worker (the Dask task function).

    One result per task, in the group's order. The group's outputs are fsynced in the
    background while the next object runs, and renamed when the group ends
    (:func:`~dcmexport.executors.local.run_group`): a worker lost before that leaves
    only temporaries, and the whole group runs again elsewhere.

    Raises:
        RuntimeError: this worker holds no context for the run (its setup refused it): Dask
            then runs the group elsewhere (``retries``).
    """
    state = _RUNS.get(run_id)
    if state is None:
        raise RuntimeError("dcmexport: no run context on this worker (its setup refused the run)")
    context, tasks = state.context, payload.tasks
    results: list[ExportResult] = []
    while len(results) < len(tasks):  # one pass unless the client sent more than a group holds
        try:
            results += run_group(iter(tasks[len(results):]), context.options, state.deidentifier(),
                                 context.resume, None, tag=context.temp_tag)
        except Exception as exc:  # noqa: BLE001 - run_group reports expected failures as results: a bug
            # Nothing of that group was renamed (run_group raised before its commits and removed its
            # temporaries): run its objects one by one, so that only the one with the bug fails.
            if len(tasks) - len(results) == 1:
                return [*results, _internal(exc)]
            results += [_alone(state, task) for task in tasks[len(results):]]
    return results


def _alone(state: RunState, task: Task) -> ExportResult:
    context = state.context
    try:
        (result,) = run_group(iter([task]), context.options, state.deidentifier(), context.resume, None,
                              tag=context.temp_tag)
    except Exception as exc:  # noqa: BLE001 - see run_remote
        return _internal(exc)
    return result


def _internal(exc: Exception) -> ExportResult:
    return ExportResult(source=Path(), status=FAILED, error_kind="internal",
                        reason=f"internal error on the Dask worker ({type(exc).__name__}); "
                               "run with --debug for details")


def read_probe(path: str) -> str | None:
    """The probe file's text, or None when this machine cannot read it."""
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def answer_probe(path: str, nonce: str) -> dict[str, str]:
    """Run on every worker before a run (``Client.run``): read the client's probe, write one back.

    Returns:
        ``version`` (dcmexport's on this worker), ``host``, and ``reply`` (the file this
        worker wrote beside the probe, for the client to read) or ``error``.
    """
    answer = {"version": __version__, "host": socket.gethostname()}
    if read_probe(path) != nonce:
        answer["error"] = "cannot read the client's probe file in --out"
        return answer
    reply = Path(f"{path}-{secrets.token_hex(4)}")
    try:
        fd = os.open(reply, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(nonce)
    except OSError as exc:
        answer["error"] = f"cannot write in --out ({exc.strerror})"
        return answer
    answer["reply"] = str(reply)
    return answer
