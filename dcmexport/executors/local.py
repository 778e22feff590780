"""The local executor: tasks in this process, or in a pool of worker processes, in groups whose outputs
are fsynced in the background and renamed when the group ends."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice

from dcmexport.atomic import (
    deferred_commits,
    temporary_tag,
)
from dcmexport.deid import Deidentifier
from dcmexport.errors import (
    EncodeError,
)
from dcmexport.options import (
    ExportOptions,
)
from dcmexport.pipeline.resume import ResumeIndex
from dcmexport.pipeline.tasks import RunContext, Task, run_task
from dcmexport.pipeline.writing import remove_outputs
from dcmexport.results import (
    FAILED,
    WRITTEN,
    ExportResult,
)

#: Objects per group, and the time after which a sequential run closes its group early
#: (so results of slow objects, e.g. clips, are reported without waiting for others).
_GROUP_MAX = 8
_GROUP_SECONDS = 0.5
#: Groups queued per worker, and groups per worker whose results may wait behind a slow one: the
#: tasks and results held at once are bounded, whatever the number of inputs.
_GROUPS_AHEAD = 4
_GROUPS_BUFFERED = 64


class LocalExecutor:
    """Runs tasks in this process (``jobs`` <= 1) or in a pool of ``jobs`` worker processes.

    Results come back in task order. Each worker builds its de-identifier once from
    the run's :class:`RunContext` (its initializer), never per task.
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def run(self, tasks: Iterable[Task], context: RunContext,
            on_frame: Callable[[], None] | None = None) -> Iterator[ExportResult]:
        """Run every task; yield each result as its group completes (see :class:`Executor`).

        ``tasks`` is consumed as the workers need more (a few groups ahead of them),
        so a run of millions of objects holds a bounded number of tasks.
        """
        pending = iter(tasks)
        # Enough to size the groups as for a known total: any more gives the largest groups.
        head = list(islice(pending, self.jobs * _GROUP_MAX * 8 + 1 if self.jobs > 1 else 2))
        if self.jobs <= 1 or len(head) <= 1:
            yield from _run_sequential(chain(head, pending), context, on_frame)
            return
        # Imported here: a one-object or --jobs 1 run never starts workers (start-up time, issue #7).
        from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

        with ProcessPoolExecutor(max_workers=self.jobs, initializer=_init_worker, initargs=(context,)) as pool:
            # Small groups: a file takes ~10 ms, so the pipe round trip per group is
            # negligible, while big groups can leave one worker idle at the end of a
            # batch. Each group's files are fsynced in the background and renamed
            # when the group ends (see run_group).
            size = max(1, min(_GROUP_MAX, len(head) // (self.jobs * 8)))
            groups = _chunks(chain(head, pending), size)
            # In task order; a few groups per worker are queued, and results finished behind a
            # slow group (a long clip) wait for it, up to _GROUPS_BUFFERED groups per worker.
            inflight: deque[Future[list[ExportResult]]] = deque()
            try:
                while True:
                    running = sum(1 for f in inflight if not f.done())
                    room = min(self.jobs * _GROUPS_AHEAD - running, self.jobs * _GROUPS_BUFFERED - len(inflight))
                    for group in islice(groups, max(0, room)):
                        inflight.append(pool.submit(_run_group_in_worker, group))
                    if not inflight:
                        break
                    if not inflight[0].done():
                        wait([f for f in inflight if not f.done()], return_when=FIRST_COMPLETED)
                        continue
                    yield from inflight.popleft().result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def _chunks(tasks: Iterator[Task], size: int) -> Iterator[list[Task]]:
    while group := list(islice(tasks, size)):
        yield group


#: A de-identifier memoises the UIDs it remaps and records each linkage pair it sees (for
#: --linkage), so it grows with every object (~0.6 kB each for CT slices). A worker (or an
#: in-process run) starts a fresh one after this many pairs: pseudonyms are a pure function
#: of the key, only the memos go (a pair seen again is reported again; the linkage table
#: keeps one row).
RENEW_AFTER_PAIRS = 50_000


def renewed(deidentifier: Deidentifier, context: RunContext) -> Deidentifier:
    """``deidentifier``, or a fresh one of the same key once its memos have grown past :data:`RENEW_AFTER_PAIRS`."""
    return context.deidentifier() if deidentifier.linkage_count() > RENEW_AFTER_PAIRS else deidentifier


_WORKER: list[tuple[RunContext, Deidentifier]] = []  # this pool worker's run and de-identifier


def _init_worker(context: RunContext) -> None:
    """Build the worker's own de-identifier from the run's key (pseudonyms are a pure function of it)."""
    _WORKER[:] = [(context, context.deidentifier())]


def _run_group_in_worker(tasks: list[Task]) -> list[ExportResult]:
    assert _WORKER, "worker not initialised"
    context, deidentifier = _WORKER[0]
    deidentifier = renewed(deidentifier, context)
    _WORKER[0] = (context, deidentifier)
    return run_group(iter(tasks), context.options, deidentifier, context.resume, None, tag=context.temp_tag)


def _run_sequential(tasks: Iterator[Task], context: RunContext,
                    on_frame: Callable[[], None] | None) -> Iterator[ExportResult]:
    deidentifier = context.deidentifier()
    while results := run_group(tasks, context.options, deidentifier, context.resume, on_frame,
                               seconds=_GROUP_SECONDS, tag=context.temp_tag):
        yield from results
        deidentifier = renewed(deidentifier, context)


def run_group(tasks: Iterator[Task], options: ExportOptions, deidentifier: Deidentifier, resume: ResumeIndex,
               on_frame: Callable[[], None] | None, *, seconds: float | None = None,
               tag: str = "") -> list[ExportResult]:
    """Run up to _GROUP_MAX tasks whose outputs are fsynced in the background and renamed at the end.

    Each object's outputs get their final names only after all of them are
    fsynced, and only if the object succeeded; an fsync or rename error fails
    that object (fail closed: none of its files survives). Temporaries are
    named with the run's ``tag`` (:func:`dcmexport.atomic.temporary_tag`).
    """
    started = time.perf_counter()
    results: list[ExportResult] = []
    spans: list[tuple[ExportResult, int, int]] = []
    with temporary_tag(tag), deferred_commits() as commits:
        for task in tasks:
            since = commits.mark()
            result = run_task(task, options, deidentifier, resume, on_frame)
            if result.status != WRITTEN:
                commits.discard(since)
            spans.append((result, since, commits.mark()))
            results.append(result)
            if len(results) >= _GROUP_MAX or (seconds is not None and time.perf_counter() - started > seconds):
                break
        for result, since, until in spans:
            if since == until:
                continue
            error = commits.commit(since, until)
            if error is not None:
                remove_outputs(result.outputs)  # any renamed before the error: the object fails whole
                result.status, result.outputs, result.error_kind = FAILED, [], EncodeError.reason
                result.reason = (f"the output could not be written to disk ({type(error).__name__}: "
                                 f"{error.strerror or 'I/O error'}); check free space and permissions")
    return results
