"""Shards (``--shard I/N``) and ``dcmexport merge``: the union of N shards equals one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcmexport import api
from dcmexport.atomic import TEMP_PREFIX
from dcmexport.audit.manifest import MANIFEST_NAME, read_manifest
from dcmexport.audit.merge import find_parts, merge_parts
from dcmexport.deid import Key
from dcmexport.errors import UsageError
from dcmexport.options import build_options
from dcmexport.pipeline.planning import iter_tasks
from dcmexport.pipeline.shards import InputRoots, Shard, parse_shard
from dcmexport.pipeline.tasks import TaskKind
from dcmexport.sources import iter_inputs
from tests.samplegen import make_ct, make_ct_series, write_dataset

KEY = Key(b"shard-test-secret-key-0123456789abcdef")
ROOT = Path(__file__).resolve().parent.parent


class TestParseShard:
    def test_explicit(self) -> None:
        assert parse_shard("3/8") == Shard(3, 8)
        assert parse_shard(" 0/1 ") == Shard(0, 1)

    @pytest.mark.parametrize("text", ["8/8", "-1/4", "1/0", "1", "a/4", "1/b", "1/2/3", "auto/x"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(UsageError, match="--shard"):
            parse_shard(text, {})

    def test_auto_reads_slurm_only_when_asked(self) -> None:
        env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"}
        assert parse_shard("auto", env) == Shard(4, 8)  # --array=1-8: task 5 is the fifth
        assert parse_shard("2/3", env) == Shard(2, 3)  # explicit wins: the environment is not read
        assert parse_shard("auto", {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"}) == Shard(0, 2)

    def test_auto_with_a_count(self) -> None:
        assert parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "3"}) == Shard(3, 4)
        assert parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "2"}) == Shard(2, 4)
        with pytest.raises(UsageError, match="has 8 tasks"):
            parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "8"})

    @pytest.mark.parametrize("env", [{}, {"SLURM_ARRAY_TASK_ID": "1"}, {"SLURM_ARRAY_TASK_ID": "9",
                                                                      "SLURM_ARRAY_TASK_COUNT": "4"},
                                     {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}])
    def test_auto_refuses_what_it_cannot_read(self, env: dict[str, str]) -> None:
        with pytest.raises(UsageError, match="--shard auto"):
            parse_shard("auto", env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve single CT slices in two folders, and three 4-slice series scattered over the folders."""
    root = tmp_path_factory.mktemp("shard-in") / "in"
    for i in range(12):
        write_dataset(make_ct(seed=i, instance=i + 1, series_uid=f"1.2.826.0.1.3680043.10.1.{i}"),
                      root / f"dir{i % 2}" / f"ct{i:02d}.dcm")
    for s in range(3):
        for i, ds in enumerate(make_ct_series(4, seed=20 + s, series_uid=f"1.2.826.0.1.3680043.10.2.{s}")):
            write_dataset(ds, root / f"dir{i % 2}" / f"series{s}_{i}.dcm")
    return root


def _tasks(tree: Path, shard: Shard | None, tmp_path: Path, *, series: bool) -> list[tuple[Path, ...]]:
    options = build_options(tmp_path / "unused", series=series)
    roots = InputRoots([tree])
    return [t.paths for t in iter_tasks(TaskKind.EXPORT, iter_inputs([tree], tmp_path), options, workdir=tmp_path,
                                        identify=roots.identity, keep=shard.owns if shard else None)]


@pytest.mark.parametrize("series", [False, True])
def test_partition_is_disjoint_complete_and_keeps_series_whole(tree: Path, tmp_path: Path, series: bool) -> None:
    whole = _tasks(tree, None, tmp_path, series=series)
    parts = [_tasks(tree, Shard(i, 3), tmp_path, series=series) for i in range(3)]
    union = [paths for part in parts for paths in part]
    assert sorted(union) == sorted(whole) and len(union) == len(set(union))
    assert all(parts)  # each shard has work on this tree (a fixed, deterministic split)
    if series:
        assert sorted(len(p) for p in whole) == [1] * 12 + [4, 4, 4]


def test_partition_is_the_same_wherever_the_tree_is_mounted(tree: Path, tmp_path: Path) -> None:
    import shutil

    moved = tmp_path / "elsewhere" / "mnt" / tree.name  # the same argument name, another mount point
    shutil.copytree(tree, moved)

    def names(root: Path) -> list[str]:
        return sorted(p[0].relative_to(root).as_posix() for p in _tasks(root, Shard(1, 3), tmp_path, series=False))

    assert names(tree) == names(moved)


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != MANIFEST_NAME and p.is_file()}


def _records(out: Path, kind: str = "object") -> list[dict[str, object]]:
    return [r for r in map(json.loads, (out / MANIFEST_NAME).read_text().splitlines()) if r["record"] == kind]


@pytest.mark.parametrize("series", [False, True])
def test_union_of_shards_equals_one_run(tree: Path, tmp_path: Path, series: bool) -> None:
    single = api.export([tree], tmp_path / "single", key=KEY, series=series)
    out = tmp_path / "sharded"
    for i in range(3):
        batch = api.export([tree], out, key=KEY, series=series, shard=Shard(i, 3), jobs=2 if i == 1 else 1)
        assert batch.ok and batch.manifest == out / f"manifest.shard-{i}-of-3.jsonl"
    assert sorted(find_parts(out)) == [(0, 3), (1, 3), (2, 3)]
    report = merge_parts(out)
    assert report.problems == [] and report.merged_parts == [0, 1, 2]
    assert find_parts(out) == {}
    assert _outputs(out) == _outputs(tmp_path / "single")  # same names, byte-identical
    records = _records(out)
    assert len(records) == len(single.results) == report.objects  # exactly one record per object
    assert sorted(r["input_sha256"] for r in records) == sorted(r["input_sha256"] for r in _records(tmp_path / "single"))
    assert all(isinstance(r["input_id"], str) and len(r["input_id"]) == 32 for r in records)
    assert str(tree) not in (out / MANIFEST_NAME).read_text()  # the identity is keyed, never a path
    contents = read_manifest(out / MANIFEST_NAME)  # the typed reader knows every record merge wrote
    assert contents.bad_lines == 0 and len(contents.runs) == 3 and len(contents.objects) == len(records)


def test_a_rerun_shard_resumes_from_its_part_and_the_merged_manifest(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.export([tree], out, key=KEY, shard=Shard(0, 2))
    again = api.export([tree], out, key=KEY, shard=Shard(0, 2))
    assert again.results and all(r.status == "skipped" for r in again.results)  # its own part vouches
    api.export([tree], out, key=KEY, shard=Shard(1, 2))
    assert merge_parts(out).problems == []
    after_merge = api.export([tree], out, key=KEY, shard=Shard(1, 2))
    assert after_merge.results and all(r.status == "skipped" for r in after_merge.results)


def test_merge_reports_missing_and_unfinished_shards(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.export([tree], out, key=KEY, shard=Shard(0, 3))
    api.export([tree], out, key=KEY, shard=Shard(1, 3))
    part = out / "manifest.shard-1-of-3.jsonl"
    part.write_text("".join(part.read_text().splitlines(keepends=True)[:-1]))  # killed before its end record
    report = merge_parts(out)
    assert [p.split(":")[0] for p in report.problems] == ["shard 2/3 has no run in manifest.jsonl or a part",
                                                          "shard 1/3 did not finish"]
    # The missing shards run later and are merged on their own: the earlier merge counts.
    api.export([tree], out, key=KEY, shard=Shard(1, 3))
    api.export([tree], out, key=KEY, shard=Shard(2, 3))
    assert merge_parts(out).problems == []


def test_merge_reports_objects_done_by_two_shards(tree: Path, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    api.export([tree], out, key=KEY, shard=Shard(0, 2))
    api.export([tree], elsewhere, key=KEY, shard=Shard(0, 2))  # a job array whose second task ran index 0 again
    (elsewhere / "manifest.shard-0-of-2.jsonl").rename(out / "manifest.shard-1-of-2.jsonl")
    part = out / "manifest.shard-1-of-2.jsonl"
    part.write_text(part.read_text().replace('"index": 0', '"index": 1'))
    report = merge_parts(out)
    assert report.duplicated == report.objects // 2 > 0
    assert [p for p in report.problems if "recorded twice" in p]


def test_merge_reports_shards_given_other_inputs(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.export([tree], out, key=KEY, shard=Shard(0, 2))
    api.export([tree / "dir0", tree / "dir1"], out, key=KEY, shard=Shard(1, 2))
    assert [p for p in merge_parts(out).problems if "different lists of inputs" in p]


def test_merge_without_parts_or_with_mixed_counts_is_a_usage_error(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no manifest parts"):
        merge_parts(tmp_path)
    api.export([tree / "dir0" / "ct00.dcm"], tmp_path, key=KEY, shard=Shard(0, 1))
    api.export([tree / "dir0" / "ct00.dcm"], tmp_path, key=KEY, shard=Shard(0, 2))
    with pytest.raises(UsageError, match="different shard counts"):
        merge_parts(tmp_path)


def test_a_shard_needs_a_key(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DCMEXPORT_KEY", raising=False)
    with pytest.raises(UsageError, match="--shard needs a key"):
        api.export([tree], tmp_path / "out", shard=Shard(0, 2))


def test_a_shard_clears_only_its_own_temporaries(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    own, other = out / f"{TEMP_PREFIX}s0of2-dead-a.png", out / f"{TEMP_PREFIX}s1of2-live-b.png"
    own.write_bytes(b"left by a killed attempt of this shard")
    other.write_bytes(b"being written by shard 1 right now")
    api.export([tree / "dir0"], out, key=KEY, shard=Shard(0, 2))
    assert not own.exists() and other.exists()


def test_cli_shards_and_merge_with_linkage(tree: Path, tmp_path: Path) -> None:
    out, links = tmp_path / "out", tmp_path / "custodian" / "links.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DCMEXPORT_KEY": "shard-test-secret-key-0123456789abcdef"}
    for i in range(2):
        proc = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(tree), "--out", str(out), "-q",
                               "--shard", "auto", "--linkage", str(links)],
                              env={**env, "SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": "2"},
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "custodian" / f"links.shard-{i}-of-2.csv").is_file()
    proc = subprocess.run([sys.executable, "-m", "dcmexport", "merge", str(out), "--linkage", str(links)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "merged 2 manifest parts of 2 shards" in proc.stderr
    assert sorted(p.name for p in links.parent.iterdir()) == ["links.csv"]
    assert oct(links.stat().st_mode & 0o777) == "0o600"
    single_links = tmp_path / "single.csv"
    single = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(tree), "--out", str(tmp_path / "one"),
                             "-q", "--linkage", str(single_links)], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert single.returncode == 0, single.stderr
    assert sorted(links.read_text().splitlines()) == sorted(single_links.read_text().splitlines())
    assert _outputs(out) == _outputs(tmp_path / "one")


def test_cli_merge_exit_codes(tree: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    empty = subprocess.run([sys.executable, "-m", "dcmexport", "merge", str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert empty.returncode == 2 and "no manifest parts" in empty.stderr
    api.export([tree], tmp_path / "out", key=KEY, shard=Shard(0, 2))
    missing = subprocess.run([sys.executable, "-m", "dcmexport", "merge", str(tmp_path / "out")], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 1 and "shard 1/2 has no run" in missing.stderr


@pytest.mark.parametrize("args", [["--shard", "2/2"], ["--shard", "auto"], ["--scheduler", "tcp://x:1"]])
def test_cli_usage_errors(tree: Path, tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "JOB_COMPLETION"))}
    proc = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(tree), "--out", str(tmp_path / "o"),
                           "-q", *args], env={**env, "PYTHONPATH": str(ROOT), "DCMEXPORT_KEY": "k" * 32},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "o").exists()
