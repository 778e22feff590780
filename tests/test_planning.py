"""Streaming planning and execution: tasks are made and taken as needed, never all held at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.executors.local import LocalExecutor
from dcmexport.options import build_options
from dcmexport.pipeline import batch as batch_module
from dcmexport.pipeline.planning import iter_tasks
from dcmexport.pipeline.resume import no_resume
from dcmexport.pipeline.series import group_series
from dcmexport.pipeline.tasks import RunContext, Task, TaskKind
from dcmexport.results import BatchResult, ExportResult, Status
from dcmexport.sources import InputItem, iter_inputs
from tests.samplegen import make_ct, make_ct_series, make_us_gray_cine, write_dataset

KEY = Key(b"planning-test-secret-key-0123456789")


class Counted:
    """An iterator that counts what was taken from it."""

    def __init__(self, items: Iterator[object]) -> None:
        self.items, self.taken = items, 0

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> object:
        item = next(self.items)
        self.taken += 1
        return item


def test_without_series_a_task_is_made_as_soon_as_its_input_is_found(tmp_path: Path) -> None:
    items = Counted(InputItem(tmp_path / f"{i}.dcm", tmp_path / f"{i}.dcm") for i in range(100_000))
    tasks = iter_tasks(TaskKind.EXPORT, items, build_options(tmp_path), workdir=tmp_path)  # type: ignore[arg-type]
    first = next(tasks)
    assert first.paths == (tmp_path / "0.dcm",) and items.taken == 1


def test_series_spool_plans_what_group_series_plans(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for s in range(3):
        for i, ds in enumerate(make_ct_series(4, shuffled_seed=s, seed=s, series_uid=f"1.2.826.0.1.3680043.10.3.{s}")):
            write_dataset(ds, root / f"d{(i + s) % 3}" / f"s{s}_{i}.dcm")
    write_dataset(make_us_gray_cine(rows=48, columns=48, frames=3), root / "d1" / "cine.dcm")  # multi-frame: single
    (root / "d2" / "notes.txt").write_text("not DICOM")  # unreadable: single
    write_dataset(make_ct(series_uid=""), root / "d0" / "nouid.dcm")  # no Series Instance UID: single
    options = build_options(tmp_path / "out", series=True)
    planned = [(t.kind, t.paths) for t in iter_tasks(TaskKind.EXPORT, iter_inputs([root], tmp_path), options,
                                                     workdir=tmp_path)]
    groups, singles = group_series(iter_inputs([root], tmp_path))
    expected = [(TaskKind.SERIES, tuple(i.path for i in g)) for g in groups]
    expected += [(TaskKind.EXPORT, (i.path,)) for i in singles]
    assert planned == expected
    assert [len(p) for k, p in planned if k is TaskKind.SERIES] == [4, 4, 4]
    assert not list(tmp_path.glob("series-*.sqlite"))  # the spool is removed when planning ends


def _text_tasks(folder: Path, n: int) -> Iterator[Task]:
    """Tasks over non-DICOM files: each is skipped in well under a millisecond."""
    folder.mkdir()
    for i in range(n):
        path = folder / f"{i}.txt"
        path.write_bytes(b"x")
        yield Task(TaskKind.EXPORT, (path,), path)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_local_executor_takes_tasks_as_it_needs_them(tmp_path: Path, jobs: int) -> None:
    options = build_options(tmp_path / "out")
    context = RunContext(options, KEY, None, no_resume(options))
    tasks = Counted(_text_tasks(tmp_path / "in", 3000))
    ahead = 0
    done = 0
    for result in LocalExecutor(jobs).run(tasks, context):  # type: ignore[arg-type]
        assert result.status == Status.SKIPPED
        done += 1
        ahead = max(ahead, tasks.taken - done)
    assert done == 3000
    assert ahead <= (16 if jobs == 1 else 1200)  # bounded: a group in-process; queued groups with workers


def test_the_total_is_unknown_beyond_the_lookahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        write_dataset(make_ct(seed=i, instance=i + 1), tmp_path / "in" / f"{i}.dcm")
    totals: list[int | None] = []
    monkeypatch.setattr(batch_module, "TOTAL_LOOKAHEAD", 5)
    api.export([tmp_path / "in"], tmp_path / "a", key=KEY, on_start=totals.append)
    monkeypatch.setattr(batch_module, "TOTAL_LOOKAHEAD", 4)
    batch = api.export([tmp_path / "in"], tmp_path / "b", key=KEY, on_start=totals.append)
    assert totals == [5, None] and batch.count("written") == 5


def test_a_batch_that_keeps_no_written_results(tmp_path: Path) -> None:
    for i in range(4):
        write_dataset(make_ct(seed=i, instance=i + 1), tmp_path / "in" / f"{i}.dcm")
    (tmp_path / "in" / "readme.txt").write_text("not DICOM")
    batch = api.export([tmp_path / "in"], tmp_path / "out", key=KEY, fold={Status.WRITTEN})
    assert batch.count("written") == 4 and batch.count("skipped") == 1 and batch.ok
    assert [r.status for r in batch.results] == [Status.SKIPPED]  # only what the summary reports


def test_batch_result_folds_written_results() -> None:
    batch = BatchResult(fold=frozenset({Status.WRITTEN}))
    batch.add(ExportResult(Path("a"), Status.WRITTEN, notes=["no frame timing in the file: 10 fps"]))
    batch.add(ExportResult(Path("b"), Status.FAILED, reason="x"))
    assert batch.count("written") == 1 and batch.count("failed") == 1 and batch.exit_code == 1
    assert batch.result_notes() == {"no frame timing in the file: 10 fps"}
    assert [r.source for r in batch.results] == [Path("b")]


@pytest.mark.parametrize("jobs", [1, 2])
def test_renewing_the_deidentifier_changes_no_output_and_no_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  jobs: int) -> None:
    """Workers drop their de-identifier's memos as they grow (memory flat in a long run): same bytes, same pairs."""
    from dcmexport.executors import local

    for i in range(12):
        write_dataset(make_ct(seed=i, instance=i + 1, phi={"PatientID": f"P{i % 3}", "PatientName": f"DOE^{i % 3}"}),
                      tmp_path / "in" / f"{i}.dcm")
    reference = api.export([tmp_path / "in"], tmp_path / "a", key=KEY, jobs=jobs)
    monkeypatch.setattr(local, "RENEW_AFTER_PAIRS", 2)  # a fresh de-identifier every object or two
    renewed = api.export([tmp_path / "in"], tmp_path / "b", key=KEY, jobs=jobs)

    def files(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".png"}

    def pairs(batch: BatchResult) -> set[tuple[str, str, str]]:
        return {(r.kind, r.original, r.pseudonym) for result in batch.results for r in result.links}

    assert reference.count("written") == renewed.count("written") == 12
    assert files(tmp_path / "b") == files(tmp_path / "a")
    assert pairs(renewed) == pairs(reference)
    assert sum(len(r.links) for r in renewed.results) > sum(len(r.links) for r in reference.results)  # renewed


def test_series_spool_orders_real_series_like_group_series(tmp_path: Path) -> None:
    """pydicom's DICOMDIR test tree: radial MR slices (normals differ), three-plane localizers and CT: the
    spool keeps each slice's normal and origin, so its order is group_series's (Instance Number where
    slice order does not exist), not a position-only order."""
    from pydicom.data import get_testdata_file

    root = Path(get_testdata_file("DICOMDIR")).parent / "98892003"
    options = build_options(tmp_path / "out", series=True)
    planned = [t.paths for t in iter_tasks(TaskKind.EXPORT, iter_inputs([root], tmp_path), options,
                                           workdir=tmp_path) if t.kind is TaskKind.SERIES]
    groups, _ = group_series(iter_inputs([root], tmp_path))
    assert planned == [tuple(i.path for i in g) for g in groups]
    assert len(planned) >= 3 and any(len(p) == 7 for p in planned)  # MR700, and the localizers of MR2
