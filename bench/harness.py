"""Timing whole processes: wall clock, CPU and peak RSS, repeated, summarised as median (min-max).

Every command is run as its own process under GNU ``/usr/bin/time`` (``%M``: the
peak resident set of the largest process of the tree, i.e. Python or the ffmpeg
it started, whichever is larger). Wall time is measured here with
``time.perf_counter`` around the whole process, start-up included.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time"


@dataclass
class Run:
    """One process run."""

    wall: float
    cpu: float  # user + system seconds of the process tree
    rss_kb: int  # peak RSS of the largest process in the tree
    self_rss_kb: int | None = None  # peak RSS of the Python process itself (selfrss wrapper), when known


@dataclass
class Series:
    """Repeated runs of one command."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [r.wall for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def rss_mb(self) -> float:
        return statistics.median(r.rss_kb for r in self.runs) / 1024

    @property
    def self_rss_mb(self) -> float | None:
        values = [r.self_rss_kb for r in self.runs if r.self_rss_kb is not None]
        return statistics.median(values) / 1024 if values else None

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    def spread(self) -> str:
        """``median (min-max)`` in seconds."""
        return f"{self.median:.2f} ({min(self.walls):.2f}-{max(self.walls):.2f})"


def have_gnu_time() -> bool:
    return Path(GNU_TIME).exists()


def run_once(
    cmd: Sequence[str] | str,
    *,
    env: dict[str, str] | None = None,
    shell: bool = False,
    self_rss_file: Path | None = None,
) -> Run:
    """Run ``cmd`` once under GNU time; raise ``RuntimeError`` with its stderr tail if it fails."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_out = Path(tf.name)
    try:
        if shell:
            assert isinstance(cmd, str)
            argv: list[str] = [GNU_TIME, "-f", "%U %S %M", "-o", str(time_out), "sh", "-c", cmd]
        else:
            argv = [GNU_TIME, "-f", "%U %S %M", "-o", str(time_out), *cmd]
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
            shown = cmd if isinstance(cmd, str) else " ".join(map(str, cmd))
            raise RuntimeError(f"command failed ({proc.returncode}): {shown[:200]}\n" + "\n".join(tail))
        fields = time_out.read_text().split()[-3:]
        user, system, rss = float(fields[0]), float(fields[1]), int(fields[2])
        self_rss = None
        if self_rss_file is not None and self_rss_file.exists():
            self_rss = int(self_rss_file.read_text().split()[0])
            self_rss_file.unlink()
        return Run(wall=wall, cpu=user + system, rss_kb=rss, self_rss_kb=self_rss)
    finally:
        time_out.unlink(missing_ok=True)


def measure_interleaved(
    commands: dict[str, Callable[[], Run]],
    runs: int,
    before_each: Callable[[str], object] | None = None,
) -> dict[str, Series]:
    """Run each command ``runs`` times, interleaved (A B C A B C ...) so that load spikes
    on a shared machine spread over all of them instead of hitting one."""
    results = {name: Series(name) for name in commands}
    for _ in range(runs):
        for name, call in commands.items():
            if before_each is not None:
                before_each(name)
            results[name].runs.append(call())
    return results


def fresh_dir(path: Path) -> Path:
    """Remove and recreate ``path`` (outputs of a previous run must not be reused or skipped)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
