"""The Dask executor against the local process pool, and Dask's cost per task (issue #13 item 6).

    python bench/dask_bench.py              # 500 CT slices (bench/corpus.py), 3 interleaved runs each
    python bench/dask_bench.py --runs 5 --tasks 4000

Rows (whole processes, start-up included, medians of ``--runs`` interleaved runs):

* ``local``: ``dcmexport export ct500/ --format png --jobs 2``;
* ``dask-running``: the same with ``--executor dask --scheduler ADDRESS`` on a LocalCluster of
  2 single-threaded worker processes (nanny) started once by this script: how a cluster is used;
* ``dask-own``: ``--executor dask --jobs 2`` (dcmexport starts and stops its own LocalCluster).

Target: ``dask-running`` at least 0.9x the throughput of ``local``. Then the cost per task:
``--tasks`` trivial tasks (non-DICOM files, each skipped in well under a millisecond) through
the Dask executor and through ``client.map`` of a no-op, per task; and the manifest's bytes per
object, for the 10-million-object projection in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

import corpus as corpus_mod  # noqa: E402
from harness import Run, cores, fresh_dir, load_average, measure_interleaved, run_once  # noqa: E402

KEY = "bench-key-not-secret-0123456789abcdef"


def _noop(x: int) -> int:
    return x


def main() -> None:
    import distributed

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--cache", type=Path, default=corpus_mod.default_cache())
    args = parser.parse_args()

    ct_dir = args.cache.resolve() / "corpus" / f"ct{args.slices}"
    corpus_mod._write_ct(ct_dir, args.slices)
    work = args.cache.resolve() / "dask-bench"
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "PYTHONPATH": str(BENCH_DIR.parent)}
    base = [sys.executable, "-m", "dcmexport", "export", str(ct_dir), "--format", "png", "-q"]

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        address = cluster.scheduler_address

        def command(name: str, extra: list[str]) -> Run:
            out = fresh_dir(work / name)
            return run_once([*base, "--out", str(out), *extra], env=env)

        commands = {
            "local": lambda: command("local", ["--jobs", "2"]),
            "dask-running": lambda: command("dask-running", ["--executor", "dask", "--scheduler", address]),
            "dask-own": lambda: command("dask-own", ["--executor", "dask", "--jobs", "2"]),
        }
        series = measure_interleaved(commands, args.runs)
        for name in commands:
            written = sum(1 for p in (work / name).glob("*.png"))
            if written != args.slices:
                raise SystemExit(f"{name}: {written} of {args.slices} PNGs written")
        same = {p.name: p.read_bytes() for p in (work / "local").glob("*.png")} == {
            p.name: p.read_bytes() for p in (work / "dask-running").glob("*.png")}
        manifest = work / "dask-running" / "manifest.jsonl"
        record_bytes = statistics.mean(len(line) for line in manifest.read_bytes().splitlines()[1:])

        per_task = _per_task(client, work, args.tasks)

    local = series["local"].median
    print(f"\n{args.slices} CT slices 512x512 -> PNG, {args.runs} interleaved runs; {cores()} cores, "
          f"load average {load_average()}\n")
    print("| run | wall s, median (min-max) | files/s | throughput vs local |")
    print("| --- | --- | ---: | ---: |")
    for name, s in series.items():
        print(f"| {name} | {s.spread()} | {args.slices / s.median:.0f} | {local / s.median:.2f}x |")
    ratio = local / series["dask-running"].median
    print(f"\ndask-running / local throughput: {ratio:.2f}x (target >= 0.9x): {'met' if ratio >= 0.9 else 'NOT met'}")
    print(f"outputs of dask-running byte-identical to local: {same}")
    print(f"manifest: {record_bytes:.0f} bytes per object record")
    print(f"per task, {args.tasks} trivial tasks on the same 2 workers: " + ", ".join(
        f"{k} {v * 1000:.2f} ms" for k, v in per_task.items()))
    print(json.dumps({"series": {k: v.walls for k, v in series.items()}, "per_task_s": per_task,
                      "record_bytes": record_bytes, "ratio": ratio}))
    raise SystemExit(0 if same and ratio >= 0.9 else 1)


def _per_task(client: object, work: Path, count: int) -> dict[str, float]:
    """Wall time per trivial task: Dask's cost per object, apart from the object's own work."""
    from dcmexport.deid import Key
    from dcmexport.executors.dask import DaskExecutor
    from dcmexport.executors.local import LocalExecutor
    from dcmexport.options import build_options
    from dcmexport.pipeline.resume import no_resume
    from dcmexport.pipeline.tasks import RunContext, Task, TaskKind

    folder = fresh_dir(work / "trivial")
    paths = []
    for i in range(count):
        path = folder / f"{i}.txt"
        path.write_bytes(b"not DICOM")
        paths.append(path)
    options = build_options(fresh_dir(work / "trivial-out"))
    context = RunContext(options, Key(KEY.encode()), None, no_resume(options))
    tasks = [Task(TaskKind.EXPORT, (p,), p) for p in paths]
    timings: dict[str, float] = {}
    for name, executor in (("dcmexport DaskExecutor", DaskExecutor(client=client)),
                           ("dcmexport LocalExecutor(2)", LocalExecutor(2))):
        started = time.perf_counter()
        done = sum(1 for _ in executor.run(tasks, context))
        timings[name] = (time.perf_counter() - started) / done
    started = time.perf_counter()
    client.gather(client.map(_noop, range(count), pure=False))  # type: ignore[attr-defined]
    timings["client.map of a no-op"] = (time.perf_counter() - started) / count
    return timings


if __name__ == "__main__":
    main()
