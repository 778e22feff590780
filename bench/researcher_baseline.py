"""dcmexport against the script a researcher would write (issue #13 item 6, third row).

    python bench/researcher_baseline.py              # 500 CT slices (bench/corpus.py), 3 interleaved runs
    python bench/researcher_baseline.py --runs 5

The baseline (``--convert SRC OUT``, run as its own process): ``pydicom.dcmread`` ->
``apply_modality_lut`` -> ``apply_voi_lut`` (the first window in the file) -> min-max scaling
to 8 bits -> Pillow PNG with its defaults, one process per core (``multiprocessing.Pool()``,
``os.cpu_count()`` processes, ``pool.map``). No de-identification, no masks, no manifest, no
fsync. Against it: ``dcmexport export ct500/ --format png --jobs N`` with ``N`` = the same number
of cores and everything dcmexport does by default (de-identification, burned-in text check,
manifest, atomic fsynced outputs). Both are timed as whole processes (start-up included),
interleaved, medians of ``--runs``, each after an ``os.sync()``; throughput per core = files / s
/ processes.

Target: dcmexport at least 1x the baseline's throughput per core. The script also checks that
each side wrote one PNG per input, and prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

KEY = "bench-key-not-secret-0123456789abcdef"


def convert_one(job: tuple[str, str]) -> None:
    """The researcher's per-file function (kept as plain as such scripts are)."""
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    src, out_dir = job
    ds = pydicom.dcmread(src)
    image = apply_modality_lut(ds.pixel_array, ds)
    image = apply_voi_lut(image, ds)
    image = image.astype(np.float64)
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6) * 255.0
    Image.fromarray(image.astype(np.uint8)).save(Path(out_dir) / (Path(src).stem + ".png"))


def convert(src: Path, out: Path) -> None:
    """Every ``*.dcm`` under ``src`` to ``out``, one process per core."""
    from multiprocessing import Pool

    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out)) for p in sorted(src.rglob("*.dcm"))]
    with Pool(os.cpu_count()) as pool:
        pool.map(convert_one, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--convert", nargs=2, type=Path, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.convert:
        convert(*args.convert)
        return

    import corpus as corpus_mod
    from harness import Run, fresh_dir, load_average, measure_interleaved, run_once

    cache = (args.cache or corpus_mod.default_cache()).resolve()
    ct_dir = cache / "corpus" / f"ct{args.slices}"
    corpus_mod._write_ct(ct_dir, args.slices)
    work = cache / "researcher-baseline"
    cores = os.cpu_count() or 1
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "PYTHONPATH": str(BENCH_DIR.parent)}

    def baseline() -> Run:
        out = fresh_dir(work / "baseline")
        return run_once([sys.executable, str(Path(__file__).resolve()), "--convert", str(ct_dir), str(out)], env=env)

    def dcmexport() -> Run:
        out = fresh_dir(work / "dcmexport")
        return run_once([sys.executable, "-m", "dcmexport", "export", str(ct_dir), "--out", str(out), "--format",
                         "png", "--jobs", str(cores), "-q"], env=env)

    before = load_average()
    # os.sync() before each run: the baseline leaves its 500 files unsynced, and dcmexport's fsyncs
    # would wait for that writeback too (3.67 s instead of ~2.2 s in one trial).
    series = measure_interleaved({"baseline": baseline, "dcmexport": dcmexport}, args.runs,
                                 before_each=lambda name: os.sync())
    after = load_average()
    for name in series:
        written = sum(1 for _ in (work / name).glob("*.png"))
        if written != args.slices:
            raise SystemExit(f"{name}: {written} of {args.slices} PNGs written")
    print(f"\n{args.slices} CT slices 512x512 -> PNG, {args.runs} interleaved runs, {cores} processes each; "
          f"load average before {before}, after {after}\n")
    print("| run | wall s, median (min-max) | CPU s | files/s | files/s per core |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, s in series.items():
        print(f"| {name} | {s.spread()} | {s.cpu:.2f} | {args.slices / s.median:.0f} | "
              f"{args.slices / s.median / cores:.0f} |")
    ratio = series["baseline"].median / series["dcmexport"].median
    print(f"\ndcmexport / baseline throughput per core: {ratio:.2f}x (target >= 1x): {'met' if ratio >= 1 else 'NOT met'}")
    print(json.dumps({"series": {k: v.walls for k, v in series.items()},
                      "cpu": {k: [r.cpu for r in v.runs] for k, v in series.items()}, "ratio": ratio}))
    raise SystemExit(0 if ratio >= 1 else 1)


if __name__ == "__main__":
    main()
