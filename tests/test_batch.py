"""A batch's own bookkeeping: the same input twice, one instance in two files (issue #19 item 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.cli import app
from dcmexport.deid import Key
from tests.samplegen import make_ct, write_dataset

KEY = Key(b"batch-test-key-0123456789abcdef!")
runner = CliRunner()


def _records(out: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return [r for r in lines if r.get("record") == "object"]


def test_the_same_input_named_twice_is_one_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", "batch-test-key-0123456789abcdef")
    ct = write_dataset(make_ct(sop_instance_uid="1.2.3.1"), tmp_path / "in" / "CT_small.dcm")
    write_dataset(make_ct(sop_instance_uid="1.2.3.2", seed=3), tmp_path / "in" / "other.dcm")
    res = runner.invoke(app, ["export", str(ct), str(ct), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert (payload["written"], payload["skipped"]) == (2, 0)
    assert len(_records(tmp_path / "o")) == 2  # one manifest record per object


@pytest.mark.parametrize("jobs", [1, 2])
def test_copies_of_one_file_are_duplicates_whatever_the_jobs(tmp_path: Path, jobs: int) -> None:
    src = write_dataset(make_ct(sop_instance_uid="1.2.3.1"), tmp_path / "in" / "a.dcm")
    for name in ("b.dcm", "c.dcm", "d.dcm"):
        shutil.copy(src, tmp_path / "in" / name)
    batch = api.export([tmp_path / "in"], tmp_path / "o", key=KEY, jobs=jobs)
    statuses = [r.status for r in batch.results]
    if jobs == 1:
        assert statuses == ["written", "skipped", "skipped", "skipped"]
    assert sorted(statuses) == ["skipped", "skipped", "skipped", "written"]  # workers race: any one writes
    assert all("duplicate" in (r.reason or "") for r in batch.results if r.status == "skipped")
    assert len(list((tmp_path / "o").glob("*.png"))) == 1
    assert len(_records(tmp_path / "o")) == 4


@pytest.mark.parametrize("command", [api.export, api.deidentify])
def test_one_instance_in_two_different_files_is_reported_as_such(tmp_path: Path, command: object) -> None:
    ds = make_ct(sop_instance_uid="1.2.3.1")
    write_dataset(ds, tmp_path / "in" / "a.dcm")
    ds.SeriesDescription = "re-saved elsewhere"  # other bytes, same (0008,0018) SOPInstanceUID
    write_dataset(ds, tmp_path / "in" / "b.dcm")
    batch = command([tmp_path / "in"], tmp_path / "o", key=KEY)  # type: ignore[operator]
    first, second = batch.results
    assert first.status == second.status == "written"
    assert "already exported" not in f"{first.reason} {second.reason}"
    (note,) = [n for n in second.notes if "SOPInstanceUID" in n]
    assert f"sha256:{first.input_sha256[:16]}" in note and "a.dcm" not in note  # no path in a recorded note
    assert any("a.dcm" in n and "b.dcm" in n for n in batch.notes)
    records = _records(tmp_path / "o")
    assert len(records) == 2 and any("SOPInstanceUID" in " ".join(r["notes"]) for r in records)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [api.export, api.deidentify])
def test_a_worker_that_loses_the_race_for_a_name_is_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: object
) -> None:
    """Two workers export copies of one file: the second finds the name taken after it planned.

    Deterministic: the other worker's commit is simulated right after the object's plan.
    Before: 'failed: ... already exists; use --overwrite' (exit 1), and the loser's cleanup
    could delete the winner's file. Now: a duplicate, and the winner's file is untouched.
    """
    import dcmexport.pipeline.objects as objects

    real = objects.apply_resume

    def then_another_worker_commits(resume, planned, options, result):  # type: ignore[no-untyped-def]
        decided = real(resume, planned, options, result)
        for path in planned:
            path.write_bytes(b"the other worker's file")
        return decided

    monkeypatch.setattr(objects, "apply_resume", then_another_worker_commits)
    write_dataset(make_ct(sop_instance_uid="1.2.3.1"), tmp_path / "in" / "a.dcm")
    (result,) = command([tmp_path / "in"], tmp_path / "o", key=KEY, jobs=1).results  # type: ignore[operator]
    assert result.status == "skipped" and result.reason == "duplicate: another input of this run has the same content"
    assert result.outputs == []  # vouches for no file: the winner's record does
    (kept,) = [p for p in (tmp_path / "o").iterdir() if p.name != "manifest.jsonl"]
    assert kept.read_bytes() == b"the other worker's file"
