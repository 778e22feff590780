"""The Dask executor: one task per object (a ``--series`` group is one task) on a dask.distributed cluster.

Results stream back as they finish (``as_completed``); this process, the client,
alone writes the manifest, progress, run log and linkage (the observers). Workers
write outputs straight into ``--out`` with the same atomic temporary-then-rename as
the local executor, so ``--out`` must be one path that every worker sees: a probe
file checks that before the first task. A task that loses its worker (killed, out of
memory) runs again on another worker; nothing of the lost attempt survives (its
temporary file is removed at the end of the run).

Trust model: the run's context, including the de-identification key, goes to the
scheduler once (a worker plugin) and from there to every worker of the run: whoever
runs the scheduler or a worker can read the key, as they can read the identified
inputs. It is never part of a task: task keys are opaque (``dcmexport-<random>``),
and a task's arguments are the run's id and one object's input paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path
from types import ModuleType
from typing import Any

from dcmexport._version import __version__
from dcmexport.atomic import temporary_prefix
from dcmexport.errors import MissingDependencyError, UsageError
from dcmexport.pipeline.tasks import RunContext, Task
from dcmexport.results import FAILED, ExportResult

INSTALL_HINT = "--executor dask needs dask.distributed: pip install 'dcmexport[dask]'"

#: Why ``--timeout`` and ``--executor dask`` do not go together.
DASK_TIMEOUT = ("--timeout is not supported with --executor dask (tasks run in worker threads, where a time "
                "limit cannot stop them); leave it out")


def import_distributed() -> ModuleType:
    """``distributed``, imported on first use (never by the CLI's start-up).

    Raises:
        MissingDependencyError: it is not installed (the message says how to install it).
    """
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(INSTALL_HINT) from None
    return distributed


class DaskExecutor:
    """Runs tasks on a dask.distributed cluster; yields results in the order they finish.

    Args:
        scheduler: a running scheduler's address (``tcp://host:8786``).
        scheduler_file: a scheduler file (``dask scheduler --scheduler-file``, dask-jobqueue).
        client: an existing ``distributed.Client`` (the caller keeps it open).
        workers: worker processes of the ``LocalCluster`` started when none of the above
            is given (one thread each).
        retries: extra attempts of a task that raised on a worker (a lost worker's task is
            always run again, up to Dask's ``allowed-failures``).
        wait_for_workers: seconds to wait for a first worker (a cluster scaling up).

    Raises:
        MissingDependencyError: dask.distributed is not installed.
        UsageError: both ``scheduler`` and ``scheduler_file``.
    """

    def __init__(self, *, scheduler: str | None = None, scheduler_file: Path | None = None, client: Any = None,
                 workers: int | None = None, retries: int = 2, wait_for_workers: float = 60.0) -> None:
        import_distributed()
        if scheduler and scheduler_file:
            raise UsageError("give --scheduler or --scheduler-file, not both")
        self.scheduler, self.scheduler_file, self.client = scheduler, scheduler_file, client
        self.workers, self.retries, self.wait_for_workers = workers, retries, wait_for_workers

    def run(self, tasks: Iterable[Task], context: RunContext,
            on_frame: Callable[[], None] | None = None) -> Iterator[ExportResult]:
        """Run every task on the cluster; yield each result as it finishes (see :class:`Executor`).

        ``on_frame`` is ignored (frames are encoded on the workers).

        Raises:
            UsageError: no scheduler at the address, no worker, ``--out`` not shared, another
                dcmexport version on a worker, or ``--timeout`` (not enforceable in worker threads).
        """
        if context.options.timeout:
            raise UsageError(DASK_TIMEOUT)
        distributed = import_distributed()
        with self._connect(distributed) as client:
            yield from _Run(client, context, self.retries, distributed).results(iter(tasks))

    @contextlib.contextmanager
    def _connect(self, distributed: ModuleType) -> Iterator[Any]:
        if self.client is not None:
            yield self._ready(self.client)
            return
        with contextlib.ExitStack() as stack:
            if self.scheduler or self.scheduler_file:
                where = f"--scheduler {self.scheduler}" if self.scheduler else f"--scheduler-file {self.scheduler_file}"
                try:
                    client = distributed.Client(self.scheduler, scheduler_file=str(self.scheduler_file)
                                                if self.scheduler_file else None)
                except (OSError, ValueError) as exc:
                    raise UsageError(f"{where}: cannot reach the Dask scheduler ({type(exc).__name__}); "
                                     "is it running, and the address right?") from None
            else:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.ERROR))
                client = distributed.Client(cluster)
            stack.enter_context(client)
            yield self._ready(client)

    def _ready(self, client: Any) -> Any:
        if not client.nthreads():
            try:
                client.wait_for_workers(1, timeout=self.wait_for_workers)
            except TimeoutError:
                raise UsageError(f"no Dask worker joined the scheduler within {self.wait_for_workers:g} s") from None
        return client


class _Run:
    """One run on a client: probe ``--out``, install the context, stream tasks and results."""

    def __init__(self, client: Any, context: RunContext, retries: int, distributed: ModuleType) -> None:
        self.client, self.retries, self.distributed = client, retries, distributed
        self.local_out = context.options.out_dir
        # Workers have other working directories: they get absolute paths.
        self.remote_out = context.options.out_dir.absolute()
        self.context = replace(context, options=replace(context.options, out_dir=self.remote_out))
        self.run_id = secrets.token_hex(8)
        self.window = max(64, 8 * sum(client.nthreads().values()))

    def results(self, tasks: Iterator[Task]) -> Iterator[ExportResult]:
        from dcmexport.executors import dask_worker as remote

        nonce = secrets.token_hex(16)
        probe = self.remote_out / f"{temporary_prefix(self.context.temp_tag)}probe-{secrets.token_hex(6)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(nonce)
        plugin = remote.RunPlugin(self.run_id, self.context, str(probe), nonce)
        pending: dict[str, tuple[Task, Any]] = {}  # by task key: the task and its future
        try:
            self._check_workers(remote, probe, nonce)
            self.client.register_plugin(plugin, name=plugin.name)
            completed = self.distributed.as_completed()
            self._submit(remote, tasks, pending, completed)
            for done in completed.batches():
                # One gather per batch of finished futures: a blocking .result() per future costs
                # a round trip to the client's event loop each (~10 ms per task measured here).
                finished = [f for f in done if f.status == "finished"]
                values = dict(zip([f.key for f in finished], self.client.gather(finished), strict=True))
                results = [self._collect(future, pending.pop(future.key)[0], values.get(future.key))
                           for future in done]
                for future in done:
                    future.release()
                if len(pending) <= self.window // 2:
                    self._submit(remote, tasks, pending, completed)
                yield from results
        finally:
            if pending:
                with contextlib.suppress(Exception):
                    self.client.cancel([future for _, future in pending.values()])
            with contextlib.suppress(Exception):
                self.client.unregister_worker_plugin(plugin.name)
            with contextlib.suppress(OSError):
                probe.unlink()

    def _submit(self, remote: ModuleType, tasks: Iterator[Task], pending: dict[str, tuple[Task, Any]],
                completed: Any) -> None:
        batch = list(islice(tasks, max(0, self.window - len(pending))))
        if not batch:
            return
        payloads = [remote.Payload(Task(t.kind, tuple(p.absolute() for p in t.paths), Path())) for t in batch]
        keys = [f"dcmexport-{secrets.token_hex(10)}" for _ in batch]  # opaque: never a path or a name
        futures = self.client.map(remote.run_remote, [self.run_id] * len(batch), payloads, key=keys, pure=False,
                                  retries=self.retries)
        for future, task in zip(futures, batch, strict=True):
            pending[future.key] = (task, future)
            completed.add(future)

    def _collect(self, future: Any, task: Task, value: ExportResult | None) -> ExportResult:
        if value is not None:
            result = value
        else:
            try:
                error = future.exception()
            except Exception as exc:  # noqa: BLE001 - cancelled: the scheduler lost it
                error = exc
            if isinstance(error, self.distributed.KilledWorker):
                result = ExportResult(source=task.label, status=FAILED, error_kind="worker-lost",
                                      reason="the Dask workers running it were lost repeatedly (crash or out of "
                                             "memory); nothing of it was kept")
            else:
                result = ExportResult(source=task.label, status=FAILED, error_kind="internal",
                                      reason=f"failed on the Dask worker ({type(error).__name__}); nothing of it "
                                             "was kept")
        result.source = task.label
        result.outputs = [self._local(p) for p in result.outputs]
        result.kept_outputs = [self._local(p) for p in result.kept_outputs]
        return result

    def _local(self, path: Path) -> Path:
        try:
            return self.local_out / path.relative_to(self.remote_out)
        except ValueError:
            return path

    def _check_workers(self, remote: ModuleType, probe: Path, nonce: str) -> None:
        """Every worker sees ``--out`` (reads the client's probe, writes a reply the client reads) and
        runs this dcmexport version.

        Raises:
            UsageError: naming the first worker's host and what failed.
        """
        try:
            answers: dict[str, dict[str, str]] = self.client.run(remote.answer_probe, str(probe), nonce)
        except Exception as exc:  # noqa: BLE001 - e.g. dcmexport not importable on a worker
            raise UsageError(f"the Dask workers could not check --out ({type(exc).__name__}); is dcmexport "
                             f"{__version__} installed on every worker?") from None
        problems: list[str] = []
        for answer in answers.values():
            host = answer.get("host", "?")
            reply = Path(answer["reply"]) if "reply" in answer else None
            if answer.get("version") != __version__:
                problems.append(f"a worker on {host} runs dcmexport {answer.get('version')}, this client "
                                f"{__version__}: install the same version on every worker")
            elif reply is None:
                problems.append(f"a worker on {host}: {answer.get('error')}")
            elif remote.read_probe(str(reply)) != nonce:
                problems.append(f"a worker on {host} wrote to --out, but not where this machine sees it")
            if reply is not None:
                with contextlib.suppress(OSError):
                    reply.unlink()
        if problems:
            raise UsageError(f"--out {self.local_out} must be one path that every Dask worker sees (a shared "
                             f"filesystem, mounted at the same path): {problems[0]}"
                             + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
