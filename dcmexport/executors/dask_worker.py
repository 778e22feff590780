"""What runs on a Dask worker: the run's context, installed once by a worker plugin, and the task function.

Imported by :mod:`dcmexport.executors.dask` only (it needs ``distributed``). The
run's :class:`~dcmexport.pipeline.tasks.RunContext` (options, key, resume index)
travels once, inside :class:`RunPlugin`, which the scheduler hands to every worker
of the run, including workers that join or restart later; tasks carry only the
run's id and one task's input paths, under an opaque key.
"""

from __future__ import annotations

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

    def teardown(self, worker: Any) -> None:
        _RUNS.pop(self.run_id, None)

    def __repr__(self) -> str:  # never the context: it holds the key
        return f"<dcmexport run {self.run_id}>"


class Payload:
    """A task's input paths, sealed: Dask may print a failed task's arguments in its logs."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __repr__(self) -> str:
        return "<dcmexport task>"


def run_remote(run_id: str, payload: Payload) -> ExportResult:
    """Run one task with the run's context installed on this worker (the Dask task function).

    Raises:
        RuntimeError: this worker holds no context for the run (its setup refused it): Dask
            then runs the task elsewhere (``retries``).
    """
    state = _RUNS.get(run_id)
    if state is None:
        raise RuntimeError("dcmexport: no run context on this worker (its setup refused the run)")
    context = state.context
    try:
        (result,) = run_group(iter([payload.task]), context.options, state.deidentifier(), context.resume, None,
                              tag=context.temp_tag)
    except Exception as exc:  # run_group reports expected failures as results: this is a bug
        return ExportResult(source=Path(), status=FAILED, error_kind="internal",
                            reason=f"internal error on the Dask worker ({type(exc).__name__}); "
                                   "run with --debug for details")
    return result


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
