"""Reporting shared by the commands: progress, the summary table, errors to exit codes.

Everything printed here is built from results whose reasons are PHI-free by
construction; input paths are printed because the user named them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from dcmexport.errors import DcmexportError
from dcmexport.executors import ExecutorName

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from dcmexport.deid import DeidOptions, Key
    from dcmexport.options import ExportOptions
    from dcmexport.pipeline.shards import Shard
    from dcmexport.results import BatchResult, ExportResult, Status
    from dcmexport.sources.network import RemoteInput


class LazyConsole:
    """A rich ``Console`` made on first use, with the given options.

    Importing rich's console costs ~40 ms of start-up (issue #7), and a quiet run
    that writes everything never prints through it.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The real console (created now if need be)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


# Typed as Console: callers (and tests, which may swap in a real Console) use the rich API.
err_console = cast("Console", LazyConsole(stderr=True, highlight=False, soft_wrap=True))
out_console = cast("Console", LazyConsole(highlight=False, soft_wrap=True))

USAGE_EXIT = 2


@contextmanager
def collector_paused() -> Iterator[None]:
    """Import a command's pipeline (numpy, pydicom, dcmexport) with the cyclic garbage collector paused.

    Start-up time (issue #7): those imports allocate hundreds of thousands of
    objects that live as long as the process, and the collector walked them again
    and again while they were created (~60 ms of a one-file run), though none of
    them is garbage. Afterwards ``gc.freeze()`` moves them to the permanent
    generation: collections during the batch skip them, and forked workers do not
    write to their pages. Only the first such import in a process does this (a
    second command in the same process, or a test run, changes nothing).
    """
    if "pydicom" in sys.modules or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@contextmanager
def usage_errors(debug: bool = False) -> Iterator[None]:
    """Turn a DcmexportError raised before or around a run into a one-line message and exit code 2/1."""
    try:
        yield
    except DcmexportError as exc:
        if debug:
            raise
        err_console.print(f"dcmexport: error: {exc}", markup=False)
        raise typer.Exit(USAGE_EXIT if exc.reason in ("usage", "preset", "input", "missing-dependency") else 1) from None


def configure_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("pydicom").disabled = True
        logging.getLogger("pydicom").propagate = False  # child loggers (decoders) log tracebacks otherwise
        for name in ("pynetdicom", "dicomweb_client"):  # their errors become one line of ours
            logging.getLogger(name).disabled = True
            logging.getLogger(name).propagate = False
        # --executor dask: distributed logs at INFO (cluster start, workers, plugins) on import; a run of
        # ours says what it did itself. Read from dask's config when distributed is imported (workers too).
        import os

        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def describe_result_line(result: ExportResult) -> str:
    """One line per object that did not simply get written: ``path: status: reason``."""
    return f"{result.source}: {result.status}: {result.reason}"


#: Notes printed under an object's line in the summary, because they change what the user got;
#: every note is in --json, the manifest and --log.
SHOWN_NOTES = (
    "not slice order",  # --series fell back to Instance Number
    "--bit-depth 16 applies",  # written with 8 bits
    "--series --montage makes",  # a multi-frame object among series
    "(0008,0018) SOPInstanceUID",  # one instance in two different files
)

NOT_DICOM = "not-dicom"


class ShownNotes:
    """Prints the notes a user must see (:data:`SHOWN_NOTES`) as each result arrives: written
    results are folded (counted, not kept) in a large run, so the summary cannot find them later."""

    def on_start(self, total: int | None) -> None:
        return None

    def on_result(self, result: ExportResult) -> None:
        for note in result.notes:
            if any(marker in note for marker in SHOWN_NOTES):
                err_console.print(f"{result.source}: note: {note}", markup=False)

    def on_finish(self, batch: BatchResult) -> None:
        return None


def print_summary(batch: BatchResult, *, as_json: bool, quiet: bool, verbose: bool = False) -> None:
    """Print the failures (stderr), the summary table and run notes; or a JSON summary on stdout.

    Non-DICOM files in a folder are normal: they are counted in a note, and listed
    one per line only with ``verbose`` (always in --json and --log).
    """
    if as_json:
        payload = {
            "written": batch.count("written"),
            "skipped": batch.count("skipped"),
            "failed": batch.count("failed"),
            "refused": batch.count("refused"),
            "kept": batch.count("kept"),
            "manifest": str(batch.manifest) if batch.manifest else None,
            "notes": batch.notes,
            "objects": [
                {
                    "input": str(r.source),
                    "status": r.status,
                    "reason": r.reason,
                    "outputs": [str(p) for p in r.outputs],
                    "kept": [str(p) for p in r.kept_outputs],
                    "frames": r.frames,
                    "fps": r.fps,
                    "fps_source": r.fps_source,
                    "notes": r.notes,
                }
                for r in batch.results
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    not_dicom = 0
    for result in batch.results:
        if result.status in ("failed", "refused", "kept"):
            err_console.print(describe_result_line(result), markup=False)
        elif result.status == "skipped" and result.error_kind == NOT_DICOM:
            not_dicom += 1
            if verbose:
                err_console.print(describe_result_line(result), markup=False, style="dim")
        elif result.status == "skipped" and not quiet:
            err_console.print(describe_result_line(result), markup=False, style="dim")
    if quiet:
        return
    from rich.table import Table

    notes = sorted(n for n in batch.result_notes() if n.startswith("no frame timing"))
    if not_dicom and not verbose:
        notes.append(f"{not_dicom} non-DICOM file{'s' if not_dicom != 1 else ''} skipped (--verbose lists them)")
    table = Table(title="dcmexport summary", show_header=True, header_style="bold")
    columns = ["written", "skipped", "failed", "refused"] + (["kept"] if batch.count("kept") else [])
    for col in columns:
        table.add_column(col, justify="right")
    table.add_row(*(str(batch.count(s)) for s in columns))
    err_console.print(table)
    for note in [*batch.notes, *notes]:
        err_console.print(f"note: {note}", markup=False)
    if batch.manifest:
        err_console.print(f"manifest: {batch.manifest}", markup=False)


def finish(batch: BatchResult, inputs: list[Path], *, as_json: bool, quiet: bool, verbose: bool) -> int:
    """Print the run's summary and return its exit code.

    A run that found no DICOM object at all (an empty folder, only non-DICOM files)
    says so in one line and exits 1: nothing was exported, as when every object fails.
    (2 stays for what is refused before any work: options and missing paths.)
    """
    print_summary(batch, as_json=as_json, quiet=quiet, verbose=verbose)
    if not batch.folded_objects and all(r.error_kind == NOT_DICOM for r in batch.results):
        where = ", ".join(str(p) for p in inputs[:3]) + (", ..." if len(inputs) > 3 else "")
        skipped = len(batch.results)
        detail = f" ({skipped} non-DICOM file{'s' if skipped != 1 else ''} skipped)" if skipped else ""
        err_console.print(f"dcmexport: no DICOM objects found in {where}{detail}", markup=False)
        return 1
    return batch.exit_code


def existing_paths(paths: list[Path]) -> list[Path]:
    """Check the inputs exist up front so a typo is a usage error, not a failed object (network specs pass)."""
    from dcmexport.net import is_spec

    missing = [p for p in paths if not p.exists() and not is_spec(p)]
    if missing:
        err_console.print(f"dcmexport: error: no such file or directory: {missing[0]}", markup=False)
        raise typer.Exit(USAGE_EXIT)
    return paths


RETAIN_CHOICES = {
    "dates": "retain_modified_dates",
    "full-dates": "retain_full_dates",
    "patient-chars": "retain_patient_chars",
    "device-id": "retain_device_id",
    "institution-id": "retain_institution_id",
    "uids": "retain_uids",
    "safe-private": "retain_safe_private",
}
CLEAN_CHOICES = {
    "descriptors": "clean_descriptors",
    "graphics": "clean_graphics",
    "structured-content": "clean_structured_content",
}
RETAIN_HELP = "PS3.15 option to retain (repeatable): " + ", ".join(RETAIN_CHOICES) + "."
CLEAN_HELP = "PS3.15 option to clean (repeatable): " + ", ".join(CLEAN_CHOICES) + "."


def deid_options_from_flags(
    profile: str, retain: list[str] | None, clean: list[str] | None, safe_harbor: bool
) -> DeidOptions:
    """Coerce ``--profile``, ``--retain X``, ``--clean X`` and ``--safe-harbor`` into DeidOptions."""
    from dcmexport.deid import load_profile
    from dcmexport.errors import UsageError

    overrides: dict[str, bool] = {}
    for flag, values, table in (("--retain", retain, RETAIN_CHOICES), ("--clean", clean, CLEAN_CHOICES)):
        for value in values or ():
            if value not in table:
                raise UsageError(f"{flag} {value!r} is not an option; choose from {', '.join(table)}")
            overrides[table[value]] = True
    if safe_harbor:
        overrides["safe_harbor"] = True
    return load_profile(profile, **overrides)


@dataclass(frozen=True)
class Distribution:
    """Where a batch runs (``--executor``, ``--scheduler``, ``--scheduler-file``) and which part of it (``--shard``)."""

    executor: ExecutorName = ExecutorName.LOCAL
    scheduler: str | None = None
    scheduler_file: Path | None = None
    shard: Shard | None = None

    def linkage(self, path: Path | None) -> Path | None:
        """Where this run writes ``--linkage``: a shard writes its own part (``dcmexport merge`` combines them)."""
        return path if path is None or self.shard is None else self.shard.linkage_path(path)


def distribution(executor: ExecutorName, scheduler: str | None, scheduler_file: Path | None,
                 shard: str | None) -> Distribution:
    """Coerce the distribution flags (``--shard auto`` reads the job array's environment here).

    Raises:
        UsageError: a malformed ``--shard``, or a scheduler without ``--executor dask``.
    """
    from dcmexport.pipeline.shards import parse_shard

    if executor is ExecutorName.LOCAL and (scheduler or scheduler_file):
        from dcmexport.errors import UsageError

        raise UsageError("--scheduler and --scheduler-file apply to --executor dask")
    return Distribution(executor, scheduler, scheduler_file, parse_shard(shard) if shard is not None else None)


def folded_statuses(*, quiet: bool, json_out: bool, linkage: Path | None) -> frozenset[Status]:
    """What the summary never prints one by one, so a batch need not hold it: written objects (unless
    ``--json`` lists them or ``--linkage`` needs their pairs), and skipped ones too with ``--quiet``."""
    from dcmexport.results import Status

    if json_out or linkage is not None:
        return frozenset()
    return frozenset({Status.WRITTEN, Status.SKIPPED} if quiet else {Status.WRITTEN})


def run_batch(
    kind: str,
    inputs: Sequence[Path | RemoteInput],
    options: ExportOptions,
    *,
    key: Key | None,
    patient_map: dict[str, tuple[str, str]] | None,
    jobs: int,
    quiet: bool,
    json_out: bool,
    log: Path | None = None,
    linkage: Path | None = None,
    review: bool = False,
    spread: Distribution = Distribution(),
    fold: frozenset[Status] = frozenset(),
    **extra: Any,
) -> BatchResult:
    """Call api.export / api.deidentify with a progress bar on a terminal (objects, frames, ETA; objects
    retrieved from network sources). The side concerns the flags ask for (``--log``, ``--linkage``,
    ``--review``) are wired as batch observers. ``extra`` goes to the API call (``forward_to``, ``net``).

    ``spread``: where the batch runs and which shard of it; ``fold``: statuses the batch counts instead
    of holding their results (a run of millions; see :func:`folded_statuses`).
    """
    from dcmexport import __version__, api
    from dcmexport.audit.observers import LinkageObserver, ReviewObserver, RunLogObserver, WrittenCounter
    from dcmexport.audit.runlog import RunLog
    from dcmexport.executors import make_executor

    call = api.export if kind == "export" else api.deidentify
    show_progress = not quiet and not json_out and err_console.is_terminal
    counter = WrittenCounter()
    executor = make_executor(spread.executor, jobs=jobs, scheduler=spread.scheduler,
                             scheduler_file=spread.scheduler_file, timeout=options.timeout)
    try:
        with contextlib.ExitStack() as stack:
            observers: list[Any] = [counter]
            if not quiet and not json_out:
                observers.append(ShownNotes())
            if log is not None:
                observers.append(RunLogObserver(stack.enter_context(RunLog(log, kind, __version__))))
            linkage = spread.linkage(linkage)  # a shard writes its own part; dcmexport merge combines them
            if linkage is not None:
                observers.append(LinkageObserver(linkage, options.out_dir))
            if review:
                observers.append(ReviewObserver(options.out_dir))
            extra = {**extra, "observers": observers, "executor": executor, "shard": spread.shard, "fold": fold}
            if not show_progress:
                return call(inputs, options=options, key=key, patient_map=patient_map, **extra)
            per_object = jobs > 1 or spread.executor is not ExecutorName.LOCAL  # frames counted per finished object
            return _run_with_progress(call, kind, inputs, options, key, patient_map, per_object, extra)
    except KeyboardInterrupt:
        # Typer would exit 130 without a word; the outputs' atomic writes have removed the partial files.
        n = counter.written
        err_console.print(f"dcmexport: interrupted; {n} object{'s' if n != 1 else ''} written so far "
                          "(complete files kept), nothing partial left", markup=False)
        raise typer.Exit(130) from None


def _run_with_progress(
    call: Any,
    kind: str,
    inputs: Sequence[Path | RemoteInput],
    options: ExportOptions,
    key: Key | None,
    patient_map: dict[str, tuple[str, str]] | None,
    per_object: bool,
    extra: dict[str, Any],
) -> BatchResult:
    import threading

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Objects per second, once rich has measured a speed."""

        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} obj/s" if task.speed else "- obj/s")

    from dcmexport.sources import SeenFiles, iter_input_files

    local = [p for p in inputs if isinstance(p, Path)]
    remote = len(local) < len(inputs)
    with Progress(
        TextColumn(f"[bold]{kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        *([TextColumn("{task.fields[retrieved]} retrieved")] if remote else []),
        TextColumn("{task.fields[frames]} frames"),
        RateColumn(),
        TimeRemainingColumn(),
        console=err_console.console if isinstance(err_console, LazyConsole) else err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("objects", total=None, frames=0, retrieved=0)
        totals = threading.Lock()
        exact: list[int] = []

        def count_files() -> None:
            # A first estimate, counted beside the run (a huge tree must not delay the first object);
            # the exact total from on_start, when known, wins.
            # Files seen go to a scratch table past a few thousand, as in the run's own discovery.
            import tempfile

            with tempfile.TemporaryDirectory(prefix="dcmexport-count-") as scratch, SeenFiles(Path(scratch)) as seen:
                total = sum(1 for _ in iter_input_files(local, seen))
            with totals:
                if not exact:
                    progress.update(task, total=total)

        threading.Thread(target=count_files, name="dcmexport-count", daemon=True).start()

        def on_result(result: ExportResult) -> None:
            more = result.frames if per_object else 0
            progress.update(task, advance=1, frames=progress.tasks[task].fields["frames"] + more)

        def on_frame() -> None:
            progress.update(task, frames=progress.tasks[task].fields["frames"] + 1)

        def on_start(objects: int | None) -> None:  # the exact total once archives are opened and series grouped
            if objects is not None:
                with totals:
                    exact.append(objects)
                    progress.update(task, total=objects)

        def on_retrieved(count: int) -> None:  # from the retrieving thread; rich's progress takes a lock
            progress.update(task, retrieved=count)

        kwargs: dict[str, Any] = {"on_frame": on_frame} if kind == "export" else {}
        inputs = [p if isinstance(p, Path) else dataclasses.replace(p, on_retrieved=on_retrieved) for p in inputs]
        return call(inputs, options=options, key=key, patient_map=patient_map, on_result=on_result,
                    on_start=on_start, **kwargs, **extra)


def default_jobs() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def load_key_and_map(
    key_file: Path | None, patient_map: Path | None
) -> tuple[Key | None, dict[str, tuple[str, str]] | None]:
    """Read ``--key-file`` and ``--patient-map`` (``--linkage`` is checked first, by the command)."""
    from dcmexport.audit.linkage import read_patient_map
    from dcmexport.deid import Key
    from dcmexport.errors import UsageError

    key = Key.from_file(key_file) if key_file else None
    mapping = None
    if patient_map is not None:
        try:
            mapping = read_patient_map(patient_map)
        except UnicodeDecodeError as exc:  # its text quotes the bytes: never shown
            raise UsageError(
                f"--patient-map {patient_map}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8 "
                "(in a spreadsheet: 'CSV UTF-8'; a byte-order mark is allowed)"
            ) from None
    return key, mapping


def check_linkage_option(linkage: Path | None, out: Path) -> None:
    """Check ``--linkage`` before anything else (see :func:`dcmexport.audit.linkage.check_linkage_path`)."""
    if linkage is not None:
        from dcmexport.audit.linkage import check_linkage_path

        check_linkage_path(linkage, out)


