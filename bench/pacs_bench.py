"""A study exported over DICOMweb from a local Orthanc, against the same files exported from disk.

``python bench/pacs_bench.py [--slices 500] [--runs 3] [--jobs N]``

* builds a CT study of ``--slices`` slices (512x512 int16, synthetic) and a 100-slice one
  in the bench cache (``$DCMEXPORT_BENCH_CACHE``, default ``~/.cache/dcmexport-bench``);
* starts a real Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``, via ``tests/orthanc.py``)
  on free local ports with storage in a temporary folder, and loads both studies;
* times, interleaved (disk, network, disk, network...), whole processes:
  ``dcmexport export ct<N>/ --format png`` and
  ``dcmexport export dicomweb+http://127.0.0.1:PORT/dicom-web --study UID --format png``;
* checks that both wrote the same files, byte for byte (names included);
* reports the client's own peak RSS (``bench/selfrss.py``) for the 100- and the N-slice
  study over DICOMweb: retrieval streams, so it should not grow with the study.

Target: network / disk <= 1.5x. Prints a Markdown table (for bench/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import orthanc as orthanc_server  # noqa: E402

KEY = "pacs-bench-key-0123456789abcdef"


def default_cache() -> Path:
    env = os.environ.get("DCMEXPORT_BENCH_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "dcmexport-bench") / "pacs"


def build_study(folder: Path, slices: int, name: str) -> str:
    """``slices`` CT slices of one new study in ``folder`` (kept between runs); its Study Instance UID."""
    import pydicom

    try:
        from tests.samplegen import make_ct, write_dataset  # type: ignore[import-not-found]
    except ImportError:  # the generator lives in tests/ once it leaves the runtime package (issue #12)
        from tests.samplegen import make_ct, write_dataset  # type: ignore[no-redef]
    from pydicom.uid import generate_uid

    done = folder / "done"
    if done.exists():
        return pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = (generate_uid(entropy_srcs=[name, part]) for part in ("study", "series", "frame"))
    for i in range(slices):
        ds = make_ct(rows=512, columns=512, seed=i, instance=i + 1, position_z=2.5 * i, study_uid=study,
                     series_uid=series, frame_of_reference_uid=frame,
                     sop_instance_uid=generate_uid(entropy_srcs=[name, str(i)]))
        write_dataset(ds, folder / f"slice_{i:04d}.dcm")
    done.touch()
    return str(study)


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def self_rss_mb(args: list[str], env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        rss = Path(tmp) / "rss"
        subprocess.run([sys.executable, str(ROOT / "bench" / "selfrss.py"), str(rss), "--", *args], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        return int(rss.read_text().split()[0]) / 1024


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.name != "manifest.jsonl"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--cache", type=Path, default=default_cache())
    options = parser.parse_args()
    why = orthanc_server.missing()
    if why is not None:
        print(f"pacs_bench: {why}", file=sys.stderr)
        return 2
    big, small = options.cache / f"ct{options.slices}", options.cache / "ct100"
    study_big, study_small = build_study(big, options.slices, f"big{options.slices}"), build_study(small, 100, "small")
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "PYTHONPATH": str(ROOT)}
    dcmexport = [sys.executable, "-m", "dcmexport"]
    with tempfile.TemporaryDirectory(prefix="pacs-bench-") as tmp:
        work = Path(tmp)
        server = orthanc_server.Orthanc(work / "orthanc").start()
        try:
            started = time.perf_counter()
            server.upload(sorted(big.glob("*.dcm")) + sorted(small.glob("*.dcm")))
            upload = time.perf_counter() - started
            spec = server.dicomweb
            disk_out, net_out = work / "disk", work / "net"

            def disk_args(out: Path, folder: Path = big) -> list[str]:
                return ["export", str(folder), "--out", str(out), "--format", "png", "-q", "-j", str(options.jobs)]

            def net_args(out: Path, study: str = study_big, jobs: int = options.jobs) -> list[str]:
                return ["export", spec, "--study", study, "--out", str(out), "--format", "png", "-q", "-j", str(jobs)]

            times: dict[str, list[float]] = {"disk": [], "dicomweb": []}
            for n in range(options.runs):
                for name, args, out in (("disk", disk_args, disk_out), ("dicomweb", net_args, net_out)):
                    target = out / str(n)
                    times[name].append(run([*dcmexport, *args(target)], env))
            same = digests(disk_out / "0") == digests(net_out / "0")
            count = len(digests(net_out / "0"))
            rss = {label: self_rss_mb(net_args(work / f"rss-{label}", study, 1), env)
                   for label, study in (("100", study_small), (str(options.slices), study_big))}
            disk_rss = self_rss_mb(disk_args(work / "rss-disk", big)[:-2] + ["-j", "1"], env)
        finally:
            server.stop()
    disk, net = statistics.median(times["disk"]), statistics.median(times["dicomweb"])
    print(f"# {options.slices} CT slices 512x512, --format png, --jobs {options.jobs}, {options.runs} interleaved runs; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"upload into Orthanc: {upload:.1f} s (not timed below)")
    print()
    print("| source | seconds, median (min-max) | files/s |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} ({min(values):.2f}-{max(values):.2f}) | {options.slices / median:.0f} |")
    print()
    print(f"ratio dicomweb / disk: {net / disk:.2f}x (target <= 1.5x)")
    print(f"outputs identical to the export from disk (names and bytes): {same} ({count} files)")
    print(f"client peak RSS over DICOMweb, --jobs 1: 100 slices {rss['100']:.0f} MB, "
          f"{options.slices} slices {rss[str(options.slices)]:.0f} MB; from disk, {options.slices} slices: "
          f"{disk_rss:.0f} MB")
    return 0 if same and count == options.slices else 1


if __name__ == "__main__":
    raise SystemExit(main())
