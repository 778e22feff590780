"""Where one de-identified CT slice's time goes: each stage of ``dcmexport deid``, timed in one process.

``python bench/deid_stages.py [--files N] [--rounds R]``: the benchmark corpus's CT slices
(built on first use, see corpus.py) go through the same stages as ``dcmexport.pipeline.objects._deid_file``
(read, parse, geometry check, mask plan, SHA-256, de-identification, Part 10 write
to a scratch folder), each stage timed with ``time.perf_counter``; no profiler, so
the figures are what the code costs. The first round warms the caches a batch
shares (preset library, memoised plans, pre-encoded marking) and is not counted;
the milliseconds per file of the other rounds are printed.

This is a breakdown, not a benchmark with a baseline: the throughput claim is
``python bench/run.py --only deid`` (dcmexport against dicognito, whole processes).
Timings include the kernel's work for reading and writing files but not fsync.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus as corpus_mod  # noqa: E402

from dcmexport import api  # noqa: E402
from dcmexport.deid import Deidentifier, Key  # noqa: E402
from dcmexport.encode.dicom import write_part10  # noqa: E402
from dcmexport.mask import plan_masks  # noqa: E402
from dcmexport.read import check_pixel_geometry, quiet_pydicom, read_dataset, read_small_file  # noqa: E402

STAGES = ("read file", "parse", "geometry", "mask plan", "sha-256", "de-identify", "write")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500, help="CT slices per round, at most 500 (default 500)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds after the warm-up round (default 2)")
    args = parser.parse_args(argv)

    corpus = corpus_mod.build()  # the benchmarks' 500 slices; the first --files of them are used
    files = sorted(corpus.ct_dir.glob("*.dcm"))[: args.files]
    with tempfile.TemporaryDirectory(prefix="deid-stages-") as scratch:
        options = api.build_options(scratch)
        deidentifier = Deidentifier(options.deid, Key.random())
        totals = dict.fromkeys(STAGES, 0.0)
        for round_no in range(args.rounds + 1):
            out = Path(scratch) / f"round{round_no}"
            out.mkdir()
            for i, path in enumerate(files):
                with quiet_pydicom():
                    t0 = time.perf_counter()
                    data = read_small_file(path)
                    t1 = time.perf_counter()
                    ds = read_dataset(path, data)
                    t2 = time.perf_counter()
                    check_pixel_geometry(ds)
                    t3 = time.perf_counter()
                    plan_masks(ds, options.mask)
                    t4 = time.perf_counter()
                    hashlib.sha256(data or b"").hexdigest()
                    t5 = time.perf_counter()
                    deidentifier.deidentify(ds)
                    t6 = time.perf_counter()
                    write_part10(ds, out / f"{i}.dcm")
                    t7 = time.perf_counter()
                if round_no:
                    for stage, (a, b) in zip(STAGES, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5),
                                                       (t5, t6), (t6, t7)), strict=True):
                        totals[stage] += b - a
            shutil.rmtree(out)
    count = len(files) * args.rounds
    print(f"{len(files)} CT slices x {args.rounds} rounds (after one warm-up round), ms per file:")
    for stage, seconds in totals.items():
        print(f"  {stage:12s} {seconds / count * 1000:6.3f}")
    print(f"  {'total':12s} {sum(totals.values()) / count * 1000:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
