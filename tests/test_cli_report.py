"""What the CLI tells a user about a run (issue #19 item 10, issue #18 item 13): every line earns its place."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app
from tests.samplegen import make_ct, make_us_gray_cine, make_us_rgb_cine, write_dataset

runner = CliRunner()
KEY = "cli-report-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", KEY)


class TestNonDicomFiles:
    """A folder's README or thumbnails are normal: counted, listed only with --verbose (always in --log)."""

    def _folder(self, tmp_path: Path) -> Path:
        folder = tmp_path / "in"
        write_dataset(make_ct(), folder / "ct.dcm")
        (folder / "README.md").write_text("# about these files\n")
        (folder / "notes.txt").write_text("hello\n")
        return folder

    def test_counted_not_listed(self, tmp_path: Path) -> None:
        log = tmp_path / "run.log"
        res = runner.invoke(app, ["export", str(self._folder(tmp_path)), "--out", str(tmp_path / "o"),
                                  "--log", str(log)])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "README.md" not in res.output and "not a DICOM" not in res.output
        assert "2 non-DICOM files skipped (--verbose lists them)" in res.output
        assert sum("skipped" in line for line in log.read_text().splitlines()) == 2

    @pytest.mark.parametrize("command", ["export", "deid"])
    def test_listed_with_verbose(self, tmp_path: Path, command: str) -> None:
        res = runner.invoke(app, [command, str(self._folder(tmp_path)), "--out", str(tmp_path / "o"), "--verbose"])
        assert res.exit_code == 0, res.output
        assert "README.md: skipped" in res.output and "notes.txt: skipped" in res.output


class TestNothingFound:
    def test_empty_folder_says_so_and_exits_1(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        res = runner.invoke(app, ["export", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
        assert res.exit_code == 1, res.output
        assert f"no DICOM objects found in {tmp_path / 'empty'}" in res.output

    def test_only_non_dicom_files(self, tmp_path: Path) -> None:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "README.md").write_text("x")
        res = runner.invoke(app, ["deid", str(tmp_path / "docs"), "--out", str(tmp_path / "o"), "--json"])
        assert res.exit_code == 1
        assert "no DICOM objects found" in res.stderr and "(1 non-DICOM file skipped)" in res.stderr
        assert json.loads(res.stdout)["skipped"] == 1

    def test_a_re_run_that_skips_everything_is_still_success(self, tmp_path: Path) -> None:
        write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
        for _ in range(2):
            res = runner.invoke(app, ["export", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
            assert res.exit_code == 0, res.output
        assert "no DICOM objects" not in res.output


class TestQuietDowngrades:
    def test_bit_depth_16_on_rgb_is_a_note(self, tmp_path: Path) -> None:
        src = write_dataset(make_us_rgb_cine(frames=2), tmp_path / "us.dcm")
        res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--format", "png",
                                  "--bit-depth", "16", "--accept-burned-in", "--no-mask-us-regions"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "--bit-depth 16 applies to grayscale" in res.output and "8 bits per channel" in res.output

    def test_bit_depth_16_on_an_auto_clip_is_a_note(self, tmp_path: Path) -> None:
        src = write_dataset(make_us_gray_cine(frames=3), tmp_path / "us.dcm")
        res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--bit-depth", "16",
                                  "--accept-burned-in", "--json"])  # fmt: skip
        (obj,) = json.loads(res.stdout)["objects"]
        assert any("--bit-depth 16 applies to PNG and TIFF stills, not MP4" in n for n in obj["notes"])

    def test_bit_depth_16_on_grey_png_says_nothing(self, tmp_path: Path) -> None:
        src = write_dataset(make_ct(), tmp_path / "ct.dcm")
        res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--bit-depth", "16", "--json"])
        (obj,) = json.loads(res.stdout)["objects"]
        assert not any("bit-depth" in n for n in obj["notes"])

    def test_series_montage_on_a_multi_frame_object_is_a_note(self, tmp_path: Path) -> None:
        src = write_dataset(make_us_gray_cine(frames=4), tmp_path / "in" / "cine.dcm")
        res = runner.invoke(app, ["export", str(src.parent), "--out", str(tmp_path / "o"), "--series", "--montage",
                                  "--format", "png", "--accept-burned-in"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "multi-frame object: --series --montage makes contact sheets of single-frame images only" in res.output
        assert "1 of its 4 frames exported as a still" in res.output


def test_presets_names_are_never_cut() -> None:
    from dcmexport.mask import load_mask_presets

    names = [p.name for p in load_mask_presets()]
    for width in (60, 80, 100, 200):
        res = runner.invoke(app, ["presets"], env={"COLUMNS": str(width)})
        assert res.exit_code == 0
        assert "\u2026" not in res.output, width  # rich's ellipsis
        for name in names:
            assert name in res.output, (width, name)


@pytest.mark.skipif(sys.platform != "linux", reason="signals a process group")
def test_ctrl_c_prints_one_line_with_what_was_written(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_dataset(make_ct(sop_instance_uid="1.2.3.1"), folder / "a.dcm")
    write_dataset(make_us_gray_cine(frames=600, rows=256, columns=256), folder / "b_long.dcm")
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "dcmexport", "export", str(folder), "--out", str(out), "--jobs",
                             "1", "--accept-burned-in", "--quiet"], env={**os.environ, "DCMEXPORT_KEY": KEY},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(out.glob(".tmp-dcmexport-*.mp4")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-600:]
    (line,) = [line for line in err.decode().splitlines() if line.strip()]
    finals = [p for p in out.iterdir() if p.suffix in (".png", ".mp4") and not p.name.startswith(".")]
    written = 1 if len(finals) == 1 else len(finals)
    noun = "object" if written == 1 else "objects"
    assert line == f"dcmexport: interrupted; {written} {noun} written so far (complete files kept), nothing partial left"
    assert not list(out.glob(".tmp-dcmexport-*")) and not list(out.glob("*.mp4"))
