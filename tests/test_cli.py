"""The CLI wiring: exit codes, messages, JSON summary; one real subprocess run of the installed command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app
from dcmexport.samples import make_ct, make_us_rgb_cine, planted_phi, write_dataset

runner = CliRunner()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", "cli-test-key-0123456789abcdef")


def test_export_writes_and_exits_zero(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out").glob("*.png"))) == 1


def test_missing_input_is_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", str(tmp_path / "nope.dcm"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_bad_window_is_usage_error(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--window", "abc"])
    assert res.exit_code == 2 and "--window expects CENTER,WIDTH" in res.output


def test_refused_object_names_file_reason_and_flags(tmp_path: Path) -> None:
    src = write_dataset(make_us_rgb_cine(frames=3), tmp_path / "us.dcm")
    res = runner.invoke(
        app, ["export", str(src), "--out", str(tmp_path / "o"), "--no-mask-us-regions", "--no-mask-presets"]
    )
    assert res.exit_code == 1
    line = next(line for line in res.output.splitlines() if "refused" in line)
    assert str(src) in line and "--accept-burned-in" in line
    for value in planted_phi().values():
        assert value not in res.output


def test_json_summary(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    assert payload["written"] == 1 and payload["failed"] == 0 and payload["objects"][0]["status"] == "written"


def test_installed_command_help_runs_in_a_subprocess() -> None:
    exe = shutil.which("dcmexport") or None
    cmd = [exe] if exe else [sys.executable, "-m", "dcmexport"]
    out = subprocess.run([*cmd, "export", "--help"], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 0 and "--out" in out.stdout and "Examples" in out.stdout
    mod = subprocess.run([sys.executable, "-m", "dcmexport", "--help"], capture_output=True, text=True, timeout=60)
    assert mod.returncode == 0 and "export" in mod.stdout
