"""Planning, streamed: inputs become tasks as they are found, so memory does not grow with the tree.

Without ``--series`` each input is a task the moment discovery yields it. With
``--series`` a series is complete only once the whole tree has been walked (its
slices may lie anywhere), so every input is first set aside in a :class:`SeriesSpool`:
one row per file (series UID, slice position, instance number, path) in an SQLite
file in the run's private temporary folder, not in memory. Afterwards the series come
out one at a time, in the order their first file was found, then the other objects in
the order they were found (as :func:`~dcmexport.pipeline.series.group_series` orders
them). Memory then holds one series' rows: the paths of its slices, which its task
carries anyway.

With ``--presentation-state`` every input's header is read before the first task
(states are paired with the images they reference, wherever they lie): that plan is
held in memory, one small record per input (:mod:`dcmexport.pipeline.states`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from dcmexport.figure_options import PresentationMode
from dcmexport.options import ExportOptions, OutputFormat
from dcmexport.pipeline.scratch import open_scratch
from dcmexport.pipeline.series import SliceInfo, group_series, order_slices, series_slice_info
from dcmexport.pipeline.states import Planned, pair_presentation_states
from dcmexport.pipeline.tasks import Task, TaskKind
from dcmexport.sources import InputItem

#: Decides whether this run (shard) processes an object; given its identity and, for a
#: series, ``series:<Series Instance UID>``.
Keep = Callable[[str], bool]


def groups_series(kind: TaskKind, options: ExportOptions) -> bool:
    """``--series`` applies: media output as a clip or contact sheet."""
    fmt = options.encode.format
    return kind is TaskKind.EXPORT and options.series and (
        fmt is OutputFormat.AUTO or fmt.is_video or options.encode.montage
    )


def pairs_states(kind: TaskKind, options: ExportOptions) -> bool:
    """``--presentation-state`` applies: images are planned with the states that reference them."""
    return kind is TaskKind.EXPORT and options.figure.presentation.mode is not PresentationMode.OFF


def _paired_task(planned: Planned) -> Task:
    return Task(TaskKind.PRESENTATION if planned.is_state else TaskKind.EXPORT, (planned.item.path,),
                planned.item.label, planned.presentations)


def plan_tasks(kind: TaskKind, items: Iterable[InputItem], options: ExportOptions) -> list[Task]:
    """The tasks of a few inputs, planned in memory (one retrieved network unit); see :func:`iter_tasks`."""
    if pairs_states(kind, options):
        return [_paired_task(p) for p in pair_presentation_states(items, options)]
    if groups_series(kind, options):
        groups, singles = group_series(items)
        return [Task(TaskKind.SERIES, tuple(i.path for i in g), g[0].label) for g in groups] + [
            Task(TaskKind.EXPORT, (i.path,), i.label) for i in singles
        ]
    return [Task(kind, (i.path,), i.label) for i in items]


def iter_tasks(kind: TaskKind, items: Iterable[InputItem], options: ExportOptions, *, workdir: Path,
               identify: Callable[[Path], str] | None = None, keep: Keep | None = None) -> Iterator[Task]:
    """Yield the tasks of a run as the inputs are found (see the module docstring for ``--series``).

    Args:
        kind: what each task does.
        items: the inputs, streamed.
        options: the run's options (``series`` groups).
        workdir: the run's private temporary folder (the series spool lives there).
        identify: an input label's identity (:meth:`~dcmexport.pipeline.shards.InputRoots.identity`).
        keep: this shard's filter over identities; None keeps every task.
    """
    def kept(item: InputItem) -> bool:
        return keep is None or keep(identify(item.label) if identify else item.label.as_posix())

    if pairs_states(kind, options):
        for planned in pair_presentation_states(items, options):
            if kept(planned.item):
                yield _paired_task(planned)
        return
    if not groups_series(kind, options):
        for item in items:
            if kept(item):
                yield Task(kind, (item.path,), item.label)
        return
    with SeriesSpool(workdir) as spool:
        for item in items:
            spool.add(item)
        for series_uid, members in spool.iter_series():
            if keep is None or keep(f"series:{series_uid}"):
                yield Task(TaskKind.SERIES, tuple(m.path for m in members), members[0].label)
        for item in spool.iter_singles():
            if kept(item):
                yield Task(TaskKind.EXPORT, (item.path,), item.label)


def _vector(v: tuple[float, float, float] | None) -> str | None:
    return None if v is None else ",".join(repr(x) for x in v)  # repr: floats round-trip exactly


def _unvector(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    x, y, z = (float(s) for s in text.split(","))
    return (x, y, z)


def _fs(path: Path) -> bytes:
    return os.fsencode(path)  # file names need not be UTF-8: stored as bytes


class SeriesSpool:
    """Inputs set aside until discovery ends, by series, in an SQLite file (not in memory).

    A single-frame image with a Series Instance UID joins its series; anything else
    (multi-frame, no UID, unreadable: its error is reported when it is exported) is
    a single. Headers are read without pixel data. The file holds original Series
    Instance UIDs: it lives in the run's private temporary folder, removed at the end.
    """

    def __init__(self, workdir: Path) -> None:
        self.path, self._db = open_scratch(workdir, "series-")
        self._db.execute("CREATE TABLE slices (seq INTEGER PRIMARY KEY, series TEXT, path BLOB, label BLOB, "
                         "position REAL, instance INTEGER, normal TEXT, origin TEXT)")
        self._db.execute("CREATE TABLE singles (seq INTEGER PRIMARY KEY, path BLOB, label BLOB)")
        self._seq = 0

    def add(self, item: InputItem) -> None:
        """Read ``item``'s header (through the reader's guards) and set it aside with its series, or as a single."""
        self._seq += 1
        info = series_slice_info(item.path)
        if info is None:
            self._db.execute("INSERT INTO singles VALUES (?, ?, ?)", (self._seq, _fs(item.path), _fs(item.label)))
        else:
            self._db.execute("INSERT INTO slices VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (self._seq, info.series_uid, _fs(item.path), _fs(item.label), info.position,
                              info.instance, _vector(info.normal), _vector(info.origin)))

    def iter_series(self) -> Iterator[tuple[str, list[InputItem]]]:
        """Each series (UID, its items in slice order), in the order its first file was found."""
        self._db.execute("CREATE INDEX by_series ON slices (series, seq)")
        firsts = self._db.execute("SELECT series, MIN(seq) AS first FROM slices GROUP BY series ORDER BY first")
        for series_uid, _ in firsts:
            rows = self._db.execute("SELECT path, label, position, instance, normal, origin FROM slices "
                                    "WHERE series = ? ORDER BY seq", (series_uid,)).fetchall()
            members = [(InputItem(Path(os.fsdecode(path)), Path(os.fsdecode(label))),
                        SliceInfo(series_uid, position, instance, 1, _unvector(normal), _unvector(origin)))
                       for path, label, position, instance, normal, origin in rows]
            yield series_uid, order_slices(members)

    def iter_singles(self) -> Iterator[InputItem]:
        """The inputs that join no series, in the order they were found."""
        for path, label in self._db.execute("SELECT path, label FROM singles ORDER BY seq"):
            yield InputItem(Path(os.fsdecode(path)), Path(os.fsdecode(label)))

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> SeriesSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
