"""A batch: discover the inputs, plan tasks, hand them to an executor, let observers record the results."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from dcmexport._version import __version__
from dcmexport.atomic import (
    fsync_directory,
    remove_stale_temporaries,
)
from dcmexport.audit.manifest import Manifest
from dcmexport.deid import Key
from dcmexport.executors import Executor
from dcmexport.executors.local import LocalExecutor
from dcmexport.options import (
    ExportOptions,
)
from dcmexport.paths import outside_of
from dcmexport.pipeline.resume import load_resume_index, output_fingerprint
from dcmexport.pipeline.tasks import RunContext, TaskKind, plan_tasks
from dcmexport.results import (
    BatchResult,
    ExportResult,
)
from dcmexport.sources import iter_inputs


class BatchObserver(Protocol):
    """A side concern that watches a batch (progress, manifest, run log, linkage...): dicognito's
    pipeline filters. Called in the client process, in this order: ``on_start`` once with the
    number of results to come, ``on_result`` per result as it completes, ``on_finish`` once."""

    def on_start(self, total: int) -> None: ...

    def on_result(self, result: ExportResult) -> None: ...

    def on_finish(self, batch: BatchResult) -> None: ...


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
    inputs: str | Path | Iterable[str | Path],
    options: ExportOptions,
    *,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    executor: Executor | None = None,
    observers: Sequence[BatchObserver] = (),
    on_frame: Callable[[], None] | None = None,
) -> BatchResult:
    """Run one batch: discover inputs, plan tasks, run them on ``executor``, tell ``observers``.

    The manifest is always written (``manifest.jsonl`` in ``--out``); it observes the
    batch like any other side concern, first.
    """
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    require_backends(options)  # before any output: a missing OCR program stops the run (exit 2), never a silent pass
    batch = BatchResult()
    if key is None:
        key = Key.from_env() or Key.random()
    if key.ephemeral:
        batch.notes.append(
            "no key given (--key-file or DCMEXPORT_KEY): pseudonyms are random for this run and link to nothing"
        )
    options.out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(options.out_dir)
    out_resolved = options.out_dir.resolve()
    fingerprint = output_fingerprint(kind, options, key, patient_map)
    resume = load_resume_index(options.out_dir, fingerprint, overwrite=options.overwrite,
                               keep_existing=options.keep_existing)
    context = RunContext(options, key, patient_map, resume)
    runner = executor if executor is not None else LocalExecutor(1)
    manifest = Manifest.open(options.out_dir, tool_version=__version__, options=options, key=key, command=kind,
                             fingerprint=fingerprint)
    batch.manifest = manifest.path
    watchers: list[BatchObserver] = [ManifestObserver(manifest, options.out_dir), *observers]
    with tempfile.TemporaryDirectory(prefix="dcmexport-") as workdir, manifest:
        # Outputs are never re-read when --out lies inside an input folder.
        outside = outside_of(out_resolved)
        items = (i for i in iter_inputs(paths, Path(workdir)) if outside(i.path))
        tasks = plan_tasks(kind, items, options)
        for watcher in watchers:
            watcher.on_start(len(tasks))
        for result in runner.run(tasks, context, on_frame):
            batch.results.append(result)
            for watcher in watchers:
                watcher.on_result(result)
    fsync_directory(options.out_dir)  # one directory sync for all the renames of the batch
    for watcher in watchers:
        watcher.on_finish(batch)
    return batch


def require_backends(options: ExportOptions) -> None:
    """Check the optional programs the options need, once, at start-up.

    Raises:
        MissingDependencyError: ``--redact-text`` or ``--ocr-check`` without pytesseract or
            the tesseract program (the message names ``tesseract-ocr`` and the pip extra).
    """
    if options.mask.redact_text != "off" or options.mask.ocr_check != "off":
        from dcmexport.mask.ocr import require_ocr

        require_ocr()


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
