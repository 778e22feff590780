"""The public API: :func:`export` and :func:`deidentify`, and the types they take and return.

A facade over the pipeline (:mod:`dcmexport.pipeline`) and the executors
(:mod:`dcmexport.executors`): it coerces plain values into options once, then
runs a batch. It returns results and never prints: the CLI (or a notebook)
reports them. Every failure becomes an :class:`ExportResult` with a PHI-free
reason, so a batch goes on with the rest (fail closed per object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmexport.deid import Key
from dcmexport.errors import UsageError
from dcmexport.executors import Executor
from dcmexport.net import NetSettings
from dcmexport.options import ExportOptions, build_options
from dcmexport.pipeline.batch import BatchObserver, CallbackObserver, run_batch
from dcmexport.pipeline.shards import Shard
from dcmexport.pipeline.tasks import TaskKind
from dcmexport.results import BatchResult, ExportResult, Status
from dcmexport.sources.network import RemoteInput

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.sources.remote import Query

__all__ = ["BatchResult", "ExportOptions", "ExportResult", "Key", "NetSettings", "Query", "RemoteInput", "Shard", "Status",
           "build_options", "deidentify", "export"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the retrieval machinery stays out of a local run's start-up.
    if name == "Query":
        from dcmexport.sources.remote import Query

        return Query
    raise AttributeError(f"module 'dcmexport.api' has no attribute {name!r}")


def _executor(jobs: int, executor: Executor | None) -> Executor:
    if executor is not None:
        return executor
    from dcmexport.executors.local import LocalExecutor

    return LocalExecutor(jobs)


def _options(options: ExportOptions | None, out_dir: str | Path | None, kwargs: dict[str, object]) -> ExportOptions:
    if options is not None:
        return options
    if out_dir is None:
        raise UsageError("an output directory is required (--out DIR)")
    return build_options(out_dir, **kwargs)  # type: ignore[arg-type]


def export(
    inputs: str | Path | RemoteInput | Iterable[str | Path | RemoteInput],
    out_dir: str | Path | None = None,
    *,
    options: ExportOptions | None = None,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    on_result: Callable[[ExportResult], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    on_start: Callable[[int | None], None] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    observers: Sequence[BatchObserver] = (),
    shard: Shard | None = None,
    fold: Iterable[Status] = (),
    **kwargs: object,
) -> BatchResult:
    """Export files and folders of DICOM objects to de-identified media.

    Args:
        inputs: a path or paths; directories are searched recursively. A
            :class:`~dcmexport.sources.network.RemoteInput` takes objects from a PACS or DICOMweb service.
        out_dir: the output directory (created if needed); ignored when ``options`` is given.
        options: a full :class:`ExportOptions`; otherwise built from ``kwargs`` by :func:`build_options`.
        key: the pseudonymisation key; None -> ``DCMEXPORT_KEY`` or a random key for this run.
        patient_map: explicit original PatientID -> (new PatientID, new PatientName).
        on_result: called with each object's result as it completes (progress).
        on_frame: called after each encoded frame (progress; only with ``jobs=1``).
        on_start: called once, before the first object, with the number of results to
            come (zip members counted, a ``series`` counted once): a progress total; None
            when the run is larger than the plan made ahead (discovery streams).
        jobs: worker processes of the local executor; objects are independent, so outputs do not depend on it.
        executor: where tasks run (default: the local executor with ``jobs`` processes).
        observers: side concerns told of the batch's start, each result and its end.
        shard: process only this part of the inputs (``Shard(i, n)``); every shard needs the same key.
        fold: statuses whose results the returned batch counts instead of keeping, e.g.
            ``{Status.WRITTEN}``: memory flat in the number of objects.

    Returns:
        A :class:`BatchResult`; its ``exit_code`` is non-zero when anything failed.

    Raises:
        UsageError: bad options or no output directory.
        InputError: an input path does not exist.
    """
    return run_batch(TaskKind.EXPORT, inputs, _options(options, out_dir, kwargs), key=key, patient_map=patient_map,
                     executor=_executor(jobs, executor), on_frame=on_frame, shard=shard, fold=fold,
                     observers=[CallbackObserver(on_start, on_result), *observers])


def deidentify(
    inputs: str | Path | RemoteInput | Iterable[str | Path | RemoteInput],
    out_dir: str | Path | None = None,
    *,
    options: ExportOptions | None = None,
    key: Key | None = None,
    patient_map: dict[str, tuple[str, str]] | None = None,
    on_result: Callable[[ExportResult], None] | None = None,
    on_start: Callable[[int | None], None] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    observers: Sequence[BatchObserver] = (),
    forward_to: str | None = None,
    net: NetSettings | None = None,
    shard: Shard | None = None,
    fold: Iterable[Status] = (),
    **kwargs: object,
) -> BatchResult:
    """Write de-identified DICOM Part 10 files (pixels masked like the media would be).

    Objects without pixels (SR, RT Plan, waveforms) are de-identified too. The
    same burned-in rule applies as for :func:`export`: an object that may carry
    burned-in text and that no mask covers is refused.

    Args: as :func:`export` (render and encode options are ignored), and
        forward_to: store each written object in this archive too (``pacs://AET@host:port``: C-STORE;
            ``dicomweb+https://host/path``: STOW-RS); an object that cannot be stored fails.
        net: how to reach the archive (AE titles, timeout, credentials, CA).

    Returns:
        A :class:`BatchResult` with one ``.dcm`` output per written object.
    """
    steps = []
    if forward_to is not None:
        from dcmexport.pipeline.forward import ForwardStep

        steps.append(ForwardStep.to(forward_to, net))
    return run_batch(TaskKind.DEID, inputs, _options(options, out_dir, kwargs), key=key, patient_map=patient_map,
                     executor=_executor(jobs, executor), shard=shard, fold=fold,
                     observers=[CallbackObserver(on_start, on_result), *observers], steps=steps)
