"""Ways to run a batch's tasks. An executor takes the tasks and the run's shared context and streams
results back; it keeps the atomic-output guarantees (each object's outputs appear whole or not at all).

Add a new way to run (a cluster, a queue) as one module here implementing :class:`Executor`,
and one line in :class:`ExecutorName` and :func:`make_executor`.

- :mod:`~dcmexport.executors.local`: this machine, in-process or a process pool (``--jobs``);
- :mod:`~dcmexport.executors.dask`: a dask.distributed cluster (optional extra ``dcmexport[dask]``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dcmexport.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.pipeline.tasks import RunContext, Task
    from dcmexport.results import ExportResult


class Executor(Protocol):
    """Runs tasks and yields one result per task, as they complete (in any order).

    Each result's ``source`` is its task's label. The executor sends ``context``
    (options, key, resume index) to each worker once; a task carries only its kind,
    input paths and label. ``tasks`` may be a stream of millions: an executor takes
    them as its workers need them, holding a bounded number at once. ``on_frame`` is
    a per-frame progress hook that executors running tasks in other processes may ignore.
    """

    def run(self, tasks: Iterable[Task], context: RunContext,
            on_frame: Callable[[], None] | None = None) -> Iterator[ExportResult]: ...


class ExecutorName(enum.StrEnum):
    """The executors ``--executor`` offers."""

    LOCAL = "local"
    DASK = "dask"


def make_executor(name: ExecutorName, *, jobs: int, scheduler: str | None = None,
                  scheduler_file: Path | None = None, timeout: float | None = None) -> Executor:
    """The executor ``--executor``, ``--jobs``, ``--scheduler`` and ``--scheduler-file`` ask for.

    Args:
        name: local or dask.
        jobs: local worker processes; for dask without a scheduler, the local cluster's workers.
        scheduler: a Dask scheduler's address; scheduler_file: a Dask scheduler file.
        timeout: the run's ``--timeout`` (refused with dask).

    Raises:
        UsageError: a scheduler given without ``--executor dask``, or both given; dask with a timeout.
        MissingDependencyError: dask.distributed is not installed (dask only).
    """
    if name is ExecutorName.LOCAL:
        if scheduler or scheduler_file:
            raise UsageError("--scheduler and --scheduler-file apply to --executor dask")
        from dcmexport.executors.local import LocalExecutor

        return LocalExecutor(jobs)
    from dcmexport.executors.dask import DASK_TIMEOUT, DaskExecutor

    if timeout:
        raise UsageError(DASK_TIMEOUT)

    return DaskExecutor(scheduler=scheduler, scheduler_file=scheduler_file, workers=jobs)
