"""Interruption (issue 6): kill -9, SIGTERM or Ctrl-C during a long MP4 encode.

Outputs are written to ``.tmp-dcmexport-*`` in the output directory and renamed
only when complete (:mod:`dcmexport.atomic`), so whatever the signal, no file
ever exists at the final name until it is whole; a re-run removes the stale
temporary and completes the clip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcmexport.atomic import TEMP_PREFIX
from dcmexport.encode import probe_video
from dcmexport.read import sha256_file
from tests.samplegen import make_us_gray_cine, write_dataset

FRAMES = 600
KEY = "interrupt-key-0123456789abcdef"
ENV = {**os.environ, "DCMEXPORT_KEY": KEY}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 frames of 256x256: a few seconds of x264 work, long enough to interrupt mid-encode."""
    return write_dataset(make_us_gray_cine(frames=FRAMES, rows=256, columns=256),
                         tmp_path_factory.mktemp("clip") / "long.dcm")  # fmt: skip


def _command(src: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "dcmexport", "export", str(src), "--out", str(out), "--format", "mp4",
            "--jobs", "1", "--quiet"]  # fmt: skip


def _start(src: Path, out: Path) -> subprocess.Popen[bytes]:
    # Own session: the test signals this process group only, as a terminal or a job runner would.
    return subprocess.Popen(_command(src, out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip


def _temporaries(out: Path) -> list[Path]:
    return sorted(out.glob(TEMP_PREFIX + "*")) if out.is_dir() else []


def _finals(out: Path) -> list[Path]:
    return [p for p in out.glob("*.mp4") if not p.name.startswith(TEMP_PREFIX)] if out.is_dir() else []


def _wait_for_temporary(out: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll until the encoder's temporary file exists and has data (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        temps = _temporaries(out)
        if temps and any(t.stat().st_size > 0 for t in temps if t.exists()):
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(
                f"export ended (exit {proc.returncode}) before a temporary appeared: {err.decode()[-400:]}"
            )
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no temporary output appeared within 60 s")


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (ffmpeg runs in its own session, so a group kill misses it)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents[int(entry.name)] = ppid
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # a zombie has stopped running; its parent (init) reaps it
            return True
        time.sleep(0.05)
    return False


def _rerun_completes(src: Path, out: Path) -> None:
    proc = subprocess.run(_command(src, out), env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-800:]
    (final,) = _finals(out)
    assert probe_video(final).frames == FRAMES
    assert not _temporaries(out), "the re-run left temporaries behind"
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc to find ffmpeg")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killed_mid_encode_leaves_no_final_file_and_rerun_completes(
    long_clip: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    before = sha256_file(long_clip)
    out = tmp_path / "out"
    proc = _start(long_clip, out)
    _wait_for_temporary(out, proc)
    children = _descendants(proc.pid)
    os.killpg(proc.pid, sig)
    if sig == signal.SIGKILL:
        for child in children:  # power loss: ffmpeg dies too
            os.kill(child, signal.SIGKILL)
    proc.wait(timeout=30)
    for child in children:  # after SIGTERM the orphaned ffmpeg sees EOF and exits on its own
        assert _gone(child, timeout=30), "ffmpeg still running after the export died"
    assert proc.returncode != 0
    assert _temporaries(out), "no temporary left: the signal did not land mid-encode"
    assert not _finals(out), "a file exists at the final name after the process was killed"
    assert sha256_file(long_clip) == before
    _rerun_completes(long_clip, out)


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc to find ffmpeg")
def test_ctrl_c_mid_encode_exits_130_and_leaves_nothing(long_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _start(long_clip, out)
    _wait_for_temporary(out, proc)
    children = _descendants(proc.pid)
    assert children, "ffmpeg child not found"
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: ffmpeg, in its own session, does not get it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-600:]
    assert b"Traceback" not in err
    assert not _finals(out) and not _temporaries(out), sorted(p.name for p in out.iterdir())
    for child in children:
        assert _gone(child), "ffmpeg left running after Ctrl-C"
    _rerun_completes(long_clip, out)
