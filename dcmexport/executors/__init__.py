"""Ways to run a batch's tasks. An executor takes the tasks and the run's shared context and streams
results back; it keeps the atomic-output guarantees (each object's outputs appear whole or not at all).

Add a new way to run (a cluster, a queue) as one module here implementing :class:`Executor`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.pipeline.tasks import RunContext, Task
    from dcmexport.results import ExportResult


class Executor(Protocol):
    """Runs tasks and yields one result per task, as they complete (in any order).

    Each result's ``source`` is its task's label. The executor sends ``context``
    (options, key, resume index) to each worker once; a task carries only its kind,
    input paths and label. ``on_frame`` is a per-frame progress hook that executors
    running tasks in other processes may ignore.
    """

    def run(self, tasks: Sequence[Task], context: RunContext,
            on_frame: Callable[[], None] | None = None) -> Iterator[ExportResult]: ...
