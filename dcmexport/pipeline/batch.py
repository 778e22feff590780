"""A batch: discover the inputs, plan tasks, hand them to an executor, let observers record the results."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dcmexport._version import __version__
from dcmexport.atomic import (
    fsync_directory,
    remove_stale_temporaries,
)
from dcmexport.audit.dataset import DatasetObserver, require_pyarrow
from dcmexport.audit.manifest import MANIFEST_NAME, Manifest, ShardRecord
from dcmexport.deid import Key
from dcmexport.errors import UsageError
from dcmexport.executors import Executor
from dcmexport.executors.local import LocalExecutor
from dcmexport.options import (
    DatasetFormat,
    ExportOptions,
    check_out_dir,
)
from dcmexport.paths import outside_of
from dcmexport.pipeline.duplicates import DuplicateInstances
from dcmexport.pipeline.planning import iter_tasks
from dcmexport.pipeline.resume import load_resume_index, output_fingerprint
from dcmexport.pipeline.shards import InputRoots, Shard
from dcmexport.pipeline.startup import prepare_options
from dcmexport.pipeline.tasks import RunContext, TaskKind
from dcmexport.results import (
    BatchResult,
    ExportResult,
    Status,
)
from dcmexport.sources import iter_inputs
from dcmexport.sources.network import RemoteInput, split_inputs

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.sources.remote import Retrieval


class BatchObserver(Protocol):
    """A side concern that watches a batch (progress, manifest, run log, linkage...): dicognito's
    pipeline filters. Called in the client process, in this order: ``on_start`` once with the
    number of results to come (None when the run is too large to plan ahead: discovery
    streams), ``on_result`` per result as it completes, ``on_finish`` once."""

    def on_start(self, total: int | None) -> None: ...

    def on_result(self, result: ExportResult) -> None: ...

    def on_finish(self, batch: BatchResult) -> None: ...


class PostWriteStep(Protocol):
    """A step on each result after its outputs are committed and before observers record it
    (forwarding to an archive): it may turn the result into a failure. Runs in the client.

    A context manager: entered before the first object, left at the end (connections).
    """

    def __enter__(self) -> PostWriteStep: ...

    def __exit__(self, *exc: object) -> None: ...

    def after_write(self, result: ExportResult) -> None: ...


class Observers:
    """Base with no-op hooks, for observers that care about some events only."""

    def on_start(self, total: int | None) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        return None

    def on_finish(self, batch: BatchResult) -> None:
        return None


#: Tasks planned ahead to tell observers the exact total; a larger run starts with the total unknown
#: (None) rather than wait for, or hold, its whole plan.
TOTAL_LOOKAHEAD = 1000


def run_batch(
    kind: TaskKind,
    inputs: str | Path | RemoteInput | Iterable[str | Path | RemoteInput],
    options: ExportOptions,
    *,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    executor: Executor | None = None,
    observers: Sequence[BatchObserver] = (),
    on_frame: Callable[[], None] | None = None,
    steps: Sequence[PostWriteStep] = (),
    shard: Shard | None = None,
    fold: Iterable[Status] = (),
) -> BatchResult:
    """Run one batch: discover inputs, plan tasks, run them on ``executor``, tell ``observers``.

    Discovery and planning stream: tasks are made as the executor asks for them. The
    manifest is always written (``manifest.jsonl`` in ``--out``, or the shard's own
    part); it observes the batch like any other side concern, first. Network inputs
    are queried before ``--out`` is touched (a refusal or a stall fails before anything
    is written), then retrieved while the pipeline runs. ``steps`` see each result
    before the observers.

    Args:
        shard: process only this shard's objects (:mod:`dcmexport.pipeline.shards`); needs a key.
        fold: statuses whose results are counted, not kept, in the returned batch (memory flat in the run).

    Raises:
        UsageError: ``shard`` without a key (each shard would pseudonymise differently), or with
            a network input (a shard's part of a query is not defined).
    """
    paths, remote = split_inputs(inputs)
    if shard is not None and remote:
        raise UsageError("--shard applies to files and folders; a network source is queried whole by one run")
    options = prepare_options(options)  # files and programs the options name: checked once, before any write
    if options.dataset is DatasetFormat.PARQUET:
        require_pyarrow()  # before --out is touched: a usage problem, not one per object
    runner = executor if executor is not None else LocalExecutor(1)
    retrievals = prepare_retrievals(kind, remote, options, runner)
    batch = BatchResult(fold=frozenset(fold))
    if key is None:
        key = Key.from_env() or Key.random()
    if key.ephemeral:
        if shard is not None:
            raise UsageError("--shard needs a key (--key-file or DCMEXPORT_KEY), the same for every shard: "
                             "with a random key each shard would pseudonymise differently")
        batch.notes.append(
            "no key given (--key-file or DCMEXPORT_KEY): pseudonyms are random for this run and link to nothing"
        )
    try:
        options.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission: the user's --out, before any object
        check_out_dir(options.out_dir)
        raise UsageError(f"--out {options.out_dir}: cannot create the directory ({exc.strerror})") from None
    tag = shard.tag if shard is not None else ""
    remove_stale_temporaries(options.out_dir, tag)  # a shard's own only: other shards may be writing
    out_resolved = options.out_dir.resolve()
    fingerprint = output_fingerprint(kind, options, key, patient_map)
    parts = [shard.manifest_name] if shard is not None else []
    resume = load_resume_index(options.out_dir, fingerprint, overwrite=options.overwrite,
                               keep_existing=options.keep_existing, parts=parts)
    context = RunContext(options, key, patient_map, resume, temp_tag=tag)
    roots = InputRoots(paths)
    manifest = Manifest.open(options.out_dir, tool_version=__version__, options=options, key=key, command=kind,
                             fingerprint=fingerprint, name=shard.manifest_name if shard else MANIFEST_NAME)
    batch.manifest = manifest.path
    recorder = ManifestObserver(manifest, options.out_dir)
    if shard is not None:
        recorder.identify = input_ids(key, roots)
        manifest.record_shard(ShardRecord("start", shard.index, shard.count,
                                          inputs=key.digest("shard-inputs", roots.signature()).hex()[:32]))
    with tempfile.TemporaryDirectory(prefix="dcmexport-") as workdir, manifest, contextlib.ExitStack() as stack:
        # Duplicates first: the manifest records what it concluded.
        duplicates = DuplicateInstances(Path(workdir))
        stack.callback(duplicates.close)
        watchers: list[BatchObserver] = [duplicates, recorder, *observers]
        if options.dataset is not None:  # after the duplicate check: a duplicate adds no row
            watchers.insert(2, DatasetObserver(options.out_dir, options.dataset.value,
                                               (shard.index, shard.count) if shard is not None else None))
        for step in steps:
            stack.enter_context(step)
        # Outputs are never re-read when --out lies inside an input folder.
        outside = outside_of(out_resolved)
        items = (i for i in iter_inputs(paths, Path(workdir)) if outside(i.path))
        planned = iter_tasks(kind, items, options, workdir=Path(workdir), identify=roots.identity,
                             keep=shard.owns if shard is not None else None)
        head = list(islice(planned, TOTAL_LOOKAHEAD + 1))
        total = len(head) + sum(r.expected for r in retrievals) if len(head) <= TOTAL_LOOKAHEAD else None
        for watcher in watchers:
            watcher.on_start(total)
        results = chain(runner.run(chain(head, planned), context, on_frame), chain.from_iterable(
            iter_remote_results(kind, stack.enter_context(r), options, runner, context, on_frame)
            for r in retrievals))  # each retrieval starts when its turn comes, and stops with the batch
        for result in results:
            for step in steps:
                step.after_write(result)
            for watcher in watchers:
                watcher.on_result(result)
            batch.add(result)  # after the observers: the duplicate check may turn a result into skipped
        # Leftovers of workers killed in the middle of an object (their tasks ran again elsewhere).
        remove_stale_temporaries(options.out_dir, tag)
        if shard is not None:
            manifest.record_shard(ShardRecord("end", shard.index, shard.count, objects=recorder.count))
    fsync_directory(options.out_dir)  # one directory sync for all the renames of the batch
    for watcher in watchers:
        watcher.on_finish(batch)
    return batch


def prepare_retrievals(kind: TaskKind, remote: list[RemoteInput], options: ExportOptions,
                       runner: Executor) -> list[Retrieval]:
    """Query each network input now (their machinery is imported only when there is one)."""
    if not remote:
        return []
    from dcmexport.pipeline.remote import unit_size, wants_whole_series
    from dcmexport.sources.network import prepare_retrieval

    whole = wants_whole_series(kind, options)
    return [prepare_retrieval(r, whole_series=whole, unit_size=unit_size(runner)) for r in remote]


def iter_remote_results(kind: TaskKind, retrieval: Retrieval, options: ExportOptions, runner: Executor,
                        context: RunContext, on_frame: Callable[[], None] | None) -> Iterator[ExportResult]:
    """The results of one network input (see :mod:`dcmexport.pipeline.remote`)."""
    from dcmexport.pipeline import remote

    yield from remote.iter_remote_results(kind, retrieval, options, runner, context, on_frame)


class ManifestObserver(Observers):
    """Records each result in the run's manifest as it completes.

    ``identify`` gives each object a shard's keyed ``input_id``, which ``dcmexport merge``
    uses to find objects recorded by two shards.
    """

    def __init__(self, manifest: Manifest, out_dir: Path) -> None:
        self.manifest, self.out_dir = manifest, out_dir
        self.identify: Callable[[ExportResult], str] | None = None
        self.count = 0

    def on_result(self, result: ExportResult) -> None:
        self.manifest.record(result, out_dir=self.out_dir,
                             input_id=self.identify(result) if self.identify is not None else None)
        self.count += 1


def input_ids(key: Key, roots: InputRoots) -> Callable[[ExportResult], str]:
    """A shard record's ``input_id``: a keyed digest of the input's identity (never its path)."""

    def identify(result: ExportResult) -> str:
        return key.digest("input-id", roots.identity(result.source)).hex()[:32]

    return identify


class CallbackObserver(Observers):
    """Plain callables as an observer (the API's ``on_start`` / ``on_result`` arguments)."""

    def __init__(self, on_start: Callable[[int | None], None] | None = None,
                 on_result: Callable[[ExportResult], None] | None = None) -> None:
        self._on_start, self._on_result = on_start, on_result

    def on_start(self, total: int | None) -> None:
        if self._on_start is not None:
            self._on_start(total)

    def on_result(self, result: ExportResult) -> None:
        if self._on_result is not None:
            self._on_result(result)
