"""A batch: discover the inputs, plan tasks, hand them to an executor, let observers record the results."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import Protocol

from dcmexport import __version__
from dcmexport.atomic import (
    fsync_directory,
    remove_stale_temporaries,
)
from dcmexport.audit.manifest import MANIFEST_NAME, Manifest, ShardRecord
from dcmexport.deid import Key
from dcmexport.errors import UsageError
from dcmexport.executors import Executor
from dcmexport.executors.local import LocalExecutor
from dcmexport.options import (
    ExportOptions,
)
from dcmexport.paths import outside_of
from dcmexport.pipeline.planning import iter_tasks
from dcmexport.pipeline.resume import load_resume_index, output_fingerprint
from dcmexport.pipeline.shards import InputRoots, Shard
from dcmexport.pipeline.tasks import RunContext, TaskKind
from dcmexport.results import (
    BatchResult,
    ExportResult,
    Status,
)
from dcmexport.sources import iter_inputs


class BatchObserver(Protocol):
    """A side concern that watches a batch (progress, manifest, run log, linkage...): dicognito's
    pipeline filters. Called in the client process, in this order: ``on_start`` once with the
    number of results to come (None when the run is too large to plan ahead: discovery
    streams), ``on_result`` per result as it completes, ``on_finish`` once."""

    def on_start(self, total: int | None) -> None: ...

    def on_result(self, result: ExportResult) -> None: ...

    def on_finish(self, batch: BatchResult) -> None: ...


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
    inputs: str | Path | Iterable[str | Path],
    options: ExportOptions,
    *,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    executor: Executor | None = None,
    observers: Sequence[BatchObserver] = (),
    on_frame: Callable[[], None] | None = None,
    shard: Shard | None = None,
    fold: Iterable[Status] = (),
) -> BatchResult:
    """Run one batch: discover inputs, plan tasks, run them on ``executor``, tell ``observers``.

    Discovery and planning stream: tasks are made as the executor asks for them. The
    manifest is always written (``manifest.jsonl`` in ``--out``, or the shard's own
    part); it observes the batch like any other side concern, first.

    Args:
        shard: process only this shard's objects (:mod:`dcmexport.pipeline.shards`); needs a key.
        fold: statuses whose results are counted, not kept, in the returned batch (memory flat in the run).

    Raises:
        UsageError: ``shard`` without a key (each shard would pseudonymise differently).
    """
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
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
    options.out_dir.mkdir(parents=True, exist_ok=True)
    tag = shard.tag if shard is not None else ""
    remove_stale_temporaries(options.out_dir, tag)  # a shard's own only: other shards may be writing
    out_resolved = options.out_dir.resolve()
    fingerprint = output_fingerprint(kind, options, key, patient_map)
    parts = [shard.manifest_name] if shard is not None else []
    resume = load_resume_index(options.out_dir, fingerprint, overwrite=options.overwrite,
                               keep_existing=options.keep_existing, parts=parts)
    context = RunContext(options, key, patient_map, resume, temp_tag=tag)
    runner = executor if executor is not None else LocalExecutor(1)
    roots = InputRoots(paths)
    manifest = Manifest.open(options.out_dir, tool_version=__version__, options=options, key=key, command=kind,
                             fingerprint=fingerprint, name=shard.manifest_name if shard else MANIFEST_NAME)
    batch.manifest = manifest.path
    recorder = ManifestObserver(manifest, options.out_dir)
    if shard is not None:
        recorder.identify = input_ids(key, roots)
        manifest.record_shard(ShardRecord("start", shard.index, shard.count,
                                          inputs=key.digest("shard-inputs", roots.signature()).hex()[:32]))
    watchers: list[BatchObserver] = [recorder, *observers]
    with tempfile.TemporaryDirectory(prefix="dcmexport-") as workdir, manifest:
        # Outputs are never re-read when --out lies inside an input folder.
        outside = outside_of(out_resolved)
        items = (i for i in iter_inputs(paths, Path(workdir)) if outside(i.path))
        planned = iter_tasks(kind, items, options, workdir=Path(workdir), identify=roots.identity,
                             keep=shard.owns if shard is not None else None)
        head = list(islice(planned, TOTAL_LOOKAHEAD + 1))
        for watcher in watchers:
            watcher.on_start(len(head) if len(head) <= TOTAL_LOOKAHEAD else None)
        for result in runner.run(chain(head, planned), context, on_frame):
            batch.add(result)
            for watcher in watchers:
                watcher.on_result(result)
        # Leftovers of workers killed in the middle of an object (their tasks ran again elsewhere).
        remove_stale_temporaries(options.out_dir, tag)
        if shard is not None:
            manifest.record_shard(ShardRecord("end", shard.index, shard.count, objects=recorder.count))
    fsync_directory(options.out_dir)  # one directory sync for all the renames of the batch
    for watcher in watchers:
        watcher.on_finish(batch)
    return batch


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
