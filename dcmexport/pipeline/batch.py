"""A batch: discover the inputs, plan tasks, hand them to an executor, let observers record the results."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dcmexport._version import __version__
from dcmexport.atomic import (
    fsync_directory,
    remove_stale_temporaries,
)
from dcmexport.audit.manifest import Manifest
from dcmexport.deid import Key
from dcmexport.errors import UsageError
from dcmexport.executors import Executor
from dcmexport.executors.local import LocalExecutor
from dcmexport.options import (
    ExportOptions,
    check_out_dir,
)
from dcmexport.paths import outside_of
from dcmexport.pipeline.resume import DUPLICATE_REASON, load_resume_index, output_fingerprint
from dcmexport.pipeline.startup import prepare_options
from dcmexport.pipeline.tasks import RunContext, TaskKind, plan_tasks
from dcmexport.results import (
    SKIPPED,
    WRITTEN,
    BatchResult,
    ExportResult,
)
from dcmexport.sources import iter_inputs
from dcmexport.sources.network import RemoteInput, split_inputs

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.sources.remote import Retrieval


class BatchObserver(Protocol):
    """A side concern that watches a batch (progress, manifest, run log, linkage...): dicognito's
    pipeline filters. Called in the client process, in this order: ``on_start`` once with the
    number of results to come, ``on_result`` per result as it completes, ``on_finish`` once."""

    def on_start(self, total: int) -> None: ...

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

    def on_start(self, total: int) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        return None

    def on_finish(self, batch: BatchResult) -> None:
        return None


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
) -> BatchResult:
    """Run one batch: discover inputs, plan tasks, run them on ``executor``, tell ``observers``.

    The manifest is always written (``manifest.jsonl`` in ``--out``); it observes the
    batch like any other side concern, first. Network inputs are queried before
    ``--out`` is touched (a refusal or a stall fails before anything is written), then
    retrieved while the pipeline runs. ``steps`` see each result before the observers.
    """
    paths, remote = split_inputs(inputs)
    options = prepare_options(options)  # files and programs the options name: checked once, before any write
    runner = executor if executor is not None else LocalExecutor(1)
    retrievals = prepare_retrievals(kind, remote, options, runner)
    batch = BatchResult()
    if key is None:
        key = Key.from_env() or Key.random()
    if key.ephemeral:
        batch.notes.append(
            "no key given (--key-file or DCMEXPORT_KEY): pseudonyms are random for this run and link to nothing"
        )
    try:
        options.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission: the user's --out, before any object
        check_out_dir(options.out_dir)
        raise UsageError(f"--out {options.out_dir}: cannot create the directory ({exc.strerror})") from None
    remove_stale_temporaries(options.out_dir)
    out_resolved = options.out_dir.resolve()
    fingerprint = output_fingerprint(kind, options, key, patient_map)
    resume = load_resume_index(options.out_dir, fingerprint, overwrite=options.overwrite,
                               keep_existing=options.keep_existing)
    context = RunContext(options, key, patient_map, resume)
    manifest = Manifest.open(options.out_dir, tool_version=__version__, options=options, key=key, command=kind,
                             fingerprint=fingerprint)
    batch.manifest = manifest.path
    # Duplicates first: the manifest records what it concluded.
    watchers: list[BatchObserver] = [DuplicateInstances(), ManifestObserver(manifest, options.out_dir), *observers]
    with tempfile.TemporaryDirectory(prefix="dcmexport-") as workdir, manifest, contextlib.ExitStack() as stack:
        for step in steps:
            stack.enter_context(step)
        # Outputs are never re-read when --out lies inside an input folder.
        outside = outside_of(out_resolved)
        items = (i for i in iter_inputs(paths, Path(workdir)) if outside(i.path))
        tasks = plan_tasks(kind, items, options)
        for watcher in watchers:
            watcher.on_start(len(tasks) + sum(r.expected for r in retrievals))
        results = itertools.chain(runner.run(tasks, context, on_frame), itertools.chain.from_iterable(
            iter_remote_results(kind, stack.enter_context(r), options, runner, context, on_frame)
            for r in retrievals))  # each retrieval starts when its turn comes, and stops with the batch
        for result in results:
            for step in steps:
                step.after_write(result)
            batch.results.append(result)
            for watcher in watchers:
                watcher.on_result(result)
    fsync_directory(options.out_dir)  # one directory sync for all the renames of the batch
    for watcher in watchers:
        watcher.on_finish(batch)
    return batch


class DuplicateInstances(Observers):
    """Inputs of one run that hold the same instance ((0008,0018) SOPInstanceUID), told apart in the client.

    Same content: the later one is a duplicate (skipped), whichever worker ran it; a
    pool's workers cannot see each other's outputs, so without this both would say
    written. Other content under one SOP Instance UID: both are exported, and each
    later one says which input (by SHA-256, never by path: notes go to the manifest)
    holds the same instance; the batch's note names the paths for the user.
    """

    def __init__(self) -> None:
        self._first: dict[str, ExportResult] = {}
        self._written: dict[tuple[str, str | None], ExportResult] = {}
        self._clashes: list[tuple[Path, Path]] = []

    def on_result(self, result: ExportResult) -> None:
        uid = result.instance_uid
        if uid is None:
            return
        if result.status == WRITTEN:
            made = self._written.setdefault((uid, result.input_sha256), result)
            if made is not result and set(made.outputs) == set(result.outputs):
                result.status, result.reason = SKIPPED, DUPLICATE_REASON
        first = self._first.setdefault(uid, result)
        if first is result or result.input_sha256 == first.input_sha256:
            return
        digest = (first.input_sha256 or "unknown")[:16]
        result.notes.append(f"duplicate (0008,0018) SOPInstanceUID: the input sha256:{digest} holds the same "
                            "instance with other content; both exported")
        self._clashes.append((first.source, result.source))

    def on_finish(self, batch: BatchResult) -> None:
        for first, later in self._clashes:
            batch.notes.append(f"{first} and {later} hold the same (0008,0018) SOPInstanceUID with different "
                               "content; both were exported")
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
    """Records each result in the run's manifest as it completes."""

    def __init__(self, manifest: Manifest, out_dir: Path) -> None:
        self.manifest, self.out_dir = manifest, out_dir

    def on_result(self, result: ExportResult) -> None:
        self.manifest.record(result, out_dir=self.out_dir)


class CallbackObserver(Observers):
    """Plain callables as an observer (the API's ``on_start`` / ``on_result`` arguments)."""

    def __init__(self, on_start: Callable[[int], None] | None = None,
                 on_result: Callable[[ExportResult], None] | None = None) -> None:
        self._on_start, self._on_result = on_start, on_result

    def on_start(self, total: int) -> None:
        if self._on_start is not None:
            self._on_start(total)

    def on_result(self, result: ExportResult) -> None:
        if self._on_result is not None:
            self._on_result(result)
