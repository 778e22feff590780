"""Streaming at scale (issue #13 item 4): the client's memory and the time to the first output, by tree size.

Builds trees of small synthetic CT slices (32x32, each with its own SOP Instance UID,
1,000 files per folder) in the bench cache, then runs the CLI on each, in its own
process under ``selfrss.py`` (which records that process's own peak RSS: the client;
worker processes are its children and not counted), while this script polls ``--out``
for the first finished output (time from the process's start, imports included)::

    python bench/scale.py                            # 20,000 and 200,000 files, export --format png --jobs 2
    python bench/scale.py --sizes 2000 20000 --jobs 2 -- --series
    python bench/scale.py --command deid

Targets: peak RSS of the large tree within +20 % of the small one; first output < 2 s.
Prints a table and exits 1 when a target or an output check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from corpus import default_cache  # noqa: E402

KEY = "bench-key-not-secret-0123456789abcdef"
PER_FOLDER = 1000
UID_ROOT = "1.2.826.0.1.3680043.10.777.1"  # then 9 digits: every file the same length, no leading zero


def build_tree(root: Path, count: int) -> Path:
    """``count`` small CT files under ``root`` (built once; a ``.complete`` marker says it is whole)."""
    marker = root / ".complete-v2"
    if marker.exists():
        return root
    from tests.samplegen import make_ct, write_dataset

    shutil.rmtree(root, ignore_errors=True)
    template = root.parent / f".template-{count}.dcm"
    placeholder = f"{UID_ROOT}{0:09d}"
    write_dataset(make_ct(rows=32, columns=32, sop_instance_uid=placeholder), template)
    data = template.read_bytes()
    template.unlink()
    assert data.count(placeholder.encode()) >= 1
    for index in range(count):
        folder = root / f"d{index // PER_FOLDER:05d}"
        if index % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"{index:07d}.dcm").write_bytes(data.replace(placeholder.encode(), f"{UID_ROOT}{index:09d}".encode()))
    marker.touch()
    return root


def run_one(tree: Path, out: Path, command: str, extra: list[str]) -> dict[str, float]:
    """Run the CLI on ``tree``; return wall time, first-output time, the client's peak RSS and outputs."""
    shutil.rmtree(out, ignore_errors=True)
    rss_file = out.parent / f"{out.name}.rss"
    suffix = ".dcm" if command == "deid" else ".png"
    cmd = [sys.executable, str(BENCH_DIR / "selfrss.py"), str(rss_file), "--", command, str(tree), "--out", str(out),
           "-q", *extra]
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "PYTHONPATH": str(BENCH_DIR.parent)}
    first: list[float] = []
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def watch() -> None:
        while proc.poll() is None and not first:
            try:
                with os.scandir(out) as entries:
                    if any(e.name.endswith(suffix) and not e.name.startswith(".") for e in entries):
                        first.append(time.perf_counter() - started)
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {stderr[-2000:]}")
    outputs = sum(1 for p in out.iterdir() if p.name.endswith(suffix))
    records = sum(1 for line in (out / "manifest.jsonl").open() if json.loads(line)["record"] == "object")
    return {"wall": wall, "first": first[0] if first else float("nan"), "outputs": outputs, "records": records,
            "rss_mb": int(rss_file.read_text()) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[20_000, 200_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--command", choices=["export", "deid"], default="export")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("extra", nargs="*", help="more CLI arguments, after --")
    args = parser.parse_args()
    extra = ["--jobs", str(args.jobs), *(["--format", "png"] if args.command == "export" else []), *args.extra]
    rows = []
    for size in args.sizes:
        started = time.perf_counter()
        tree = build_tree(args.cache / "scale" / f"tree{size}", size)
        print(f"tree of {size:,} files ready ({time.perf_counter() - started:.0f} s)", flush=True)
        figures = run_one(tree, args.cache / "scale" / f"out{size}", args.command, extra)
        print(f"  {figures}", flush=True)
        rows.append((size, figures))
        shutil.rmtree(args.cache / "scale" / f"out{size}", ignore_errors=True)
    (small, a), (large, b) = rows
    growth = b["rss_mb"] / a["rss_mb"] - 1
    checks = {
        "outputs": all(f["outputs"] == f["records"] == size for size, f in rows),
        "rss within +20 %": growth <= 0.20,
        "first output < 2 s": all(f["first"] < 2.0 for _, f in rows),
    }
    cmd = f"dcmexport {args.command} TREE --out OUT -q {' '.join(extra)}"
    print(f"\n`{cmd}` (client = the dcmexport process; peak RSS from selfrss.py)\n")
    print("| files | wall s | objects/s | client peak RSS MB | first output s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size, f in rows:
        print(f"| {size:,} | {f['wall']:.1f} | {size / f['wall']:.0f} | {f['rss_mb']:.1f} | {f['first']:.2f} |")
    print(f"\nRSS growth {small:,} -> {large:,} files: {growth * 100:+.1f} % (target <= +20 %)")
    for name, ok in checks.items():
        print(f"{name}: {'ok' if ok else 'FAILED'}")
    raise SystemExit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
