"""Units of work: one object, or one whole series; what a worker runs."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dcmexport.deid import Deidentifier, Key
from dcmexport.options import (
    ExportOptions,
)
from dcmexport.pipeline.objects import deid_file, export_file
from dcmexport.pipeline.resume import ResumeIndex
from dcmexport.pipeline.series import export_series
from dcmexport.pipeline.states import consumed_state_result
from dcmexport.results import (
    WRITTEN,
    ExportResult,
)


class TaskKind(enum.StrEnum):
    """What a task does with its input files."""

    EXPORT = "export"  # one object to media
    SERIES = "series"  # an ordered series of single-frame images to one clip or contact sheet
    DEID = "deid"  # one object to de-identified DICOM
    PRESENTATION = "presentation"  # a presentation state among the inputs: consumed by images, never exported


@dataclass(frozen=True)
class Task:
    """A unit of work: one object, or one whole series (never split across workers).

    ``label`` is what the user named (a path, or ``archive.zip/member``); it is the
    result's ``source`` and never leaves the client (executors name tasks otherwise).
    """

    kind: TaskKind
    paths: tuple[Path, ...]
    label: Path
    #: EXPORT: presentation states that may apply to the image; PRESENTATION: the images the state applies to
    presentations: tuple[Path, ...] = ()


@dataclass(frozen=True)
class RunContext:
    """Everything the tasks of one run share; sent to each worker once (never per task).

    Holds the key: whoever runs the workers can read it (the trust model of every executor).
    """

    options: ExportOptions
    key: Key
    patient_map: Mapping[str, tuple[str, str]] | None
    resume: ResumeIndex
    #: names this run's temporary files (a shard's: ``s1of4``), see :func:`dcmexport.atomic.temporary_tag`
    temp_tag: str = ""

    def deidentifier(self) -> Deidentifier:
        """A de-identifier of this run's key (pseudonyms are a pure function of it, so every worker agrees)."""
        return Deidentifier(self.options.deid, self.key, patient_map=self.patient_map)


def run_task(task: Task, options: ExportOptions, deidentifier: Deidentifier, resume: ResumeIndex,
             on_frame: Callable[[], None] | None = None) -> ExportResult:
    """Run one task; never raises for an expected failure. The result names the task's label."""
    seen = deidentifier.linkage_count()
    if task.kind is TaskKind.EXPORT:
        result = export_file(task.paths[0], options, deidentifier, on_frame=on_frame, resume=resume,
                             presentations=task.presentations)
    elif task.kind is TaskKind.PRESENTATION:
        result = consumed_state_result(task.paths[0], task.presentations)
    elif task.kind is TaskKind.SERIES:
        result = export_series(task.paths, options, deidentifier, on_frame=on_frame, resume=resume)
    else:
        result = deid_file(task.paths[0], options, deidentifier, resume)
    result.links = deidentifier.linkage(seen)
    result.source = task.label  # what the user named (zip members: archive/member), not a temporary path
    if result.status == WRITTEN:
        resume.record(result.outputs, options.out_dir)
    return result
