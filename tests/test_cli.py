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
from tests.samplegen import make_ct, make_us_rgb_cine, planted_phi, write_dataset

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


def test_deid_command_writes_dicom_with_linkage_and_patient_map(tmp_path: Path) -> None:
    import pydicom

    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    cohort = tmp_path / "map.csv"
    cohort.write_text(f"original_patient_id,new_patient_id,new_patient_name\n{planted_phi()['PatientID']},SUBJ-007,SUBJ^007\n")
    links = tmp_path / "custodian" / "links.csv"
    res = runner.invoke(app, ["deid", str(src), "--out", str(tmp_path / "out"), "--patient-map", str(cohort),
                              "--linkage", str(links), "--retain", "dates", "--jobs", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    (dcm,) = (tmp_path / "out").glob("*.dcm")
    ds = pydicom.dcmread(dcm)
    assert ds.PatientID == "SUBJ-007" and ds.PatientName == "SUBJ^007"
    assert ds.PatientIdentityRemoved == "YES" and ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "113107" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert f"{planted_phi()['PatientID']},SUBJ-007" in links.read_text()
    data = dcm.read_bytes() + (tmp_path / "out" / "manifest.jsonl").read_bytes()
    for keyword, value in planted_phi().items():
        if len(value) >= 6 and not keyword.endswith("Time"):  # --retain dates keeps times (PS3.15 E.3.6)
            assert value.encode() not in data, keyword


def test_deid_rejects_unknown_retain_option(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    res = runner.invoke(app, ["deid", str(src), "--out", str(tmp_path / "o"), "--retain", "everything"])
    assert res.exit_code == 2 and "--retain 'everything' is not an option" in res.output


def test_inspect_lists_keywords_not_values(tmp_path: Path) -> None:
    src = write_dataset(make_us_rgb_cine(frames=3), tmp_path / "us.dcm")
    res = runner.invoke(app, ["inspect", str(src)])
    assert res.exit_code == 0, res.output
    assert "PatientName" in res.output and "frame rate: 25 fps (FrameTime)" in res.output
    assert "ultrasound regions: 1" in res.output and "Burned In Annotation: YES" in res.output
    for value in planted_phi().values():
        if len(value) >= 6:
            assert value not in res.output
    shown = runner.invoke(app, ["inspect", str(src), "--show-values"])
    assert planted_phi()["PatientID"] in shown.output  # values appear only when asked for


def test_presets_lists_profiles_and_masks() -> None:
    res = runner.invoke(app, ["presets"])
    assert res.exit_code == 0
    assert "safe-harbor" in res.output and "burned-in mask presets" in res.output


def test_jobs_two_gives_same_outputs_as_jobs_one(tmp_path: Path) -> None:
    import hashlib

    from tests.samplegen import make_ct_series

    for i, ds in enumerate(make_ct_series(4)):
        write_dataset(ds, tmp_path / "in" / f"{i}.dcm")
    digests = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        res = runner.invoke(app, ["export", str(tmp_path / "in"), "--out", str(out), "--jobs", jobs, "--quiet"])
        assert res.exit_code == 0, res.output
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.glob("*.png")})
    assert len(digests[0]) == 4 and digests[0] == digests[1]


def test_log_file_is_phi_free_and_names_inputs_by_digest(tmp_path: Path) -> None:
    from dcmexport.read import sha256_file

    src = write_dataset(make_ct(), tmp_path / f"{planted_phi()['PatientName'].replace('^', '_')}.dcm")
    broken = make_ct()
    broken.Rows = 0
    bad = write_dataset(broken, tmp_path / "bad.dcm")
    log = tmp_path / "run.log"
    res = runner.invoke(app, ["export", str(src), str(bad), "--out", str(tmp_path / "o"), "--log", str(log), "-q"])
    assert res.exit_code == 1
    text = log.read_text()
    assert f"input=sha256:{sha256_file(src)[:16]}" in text and "| written |" in text and "| failed |" in text
    assert "(0028,0010) Rows" in text
    for value in planted_phi().values():
        if len(value) >= 6:
            assert value not in text and value.replace("^", "_") not in text


def test_timeout_stops_an_object_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic (issue #18 item 3): the encoder blocks after three frames until the alarm stops it.

    ffmpeg is running and its temporary file exists when the time limit expires,
    whatever the machine's load; the object is reported as timed out, nothing is left.
    """
    import time

    from dcmexport.encode.video import VideoWriter
    from tests.samplegen import make_us_gray_cine

    real_write = VideoWriter.write

    def write_then_block(self: VideoWriter, frame: object) -> None:
        real_write(self, frame)  # type: ignore[arg-type]
        if self.frames_written == 3:
            time.sleep(60)  # a stage that hangs: only the alarm ends it

    monkeypatch.setattr(VideoWriter, "write", write_then_block)
    src = write_dataset(make_us_gray_cine(frames=10, rows=64, columns=64), tmp_path / "g.dcm")
    started = time.monotonic()
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--timeout", "0.5", "--jobs", "1",
                              "--format", "mp4"])
    assert time.monotonic() - started < 30
    assert res.exit_code == 1, res.output
    assert "took longer than --timeout 0.5 s; stopped, nothing written" in res.output
    assert "internal error" not in res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["manifest.jsonl"]


def test_progress_bar_on_a_terminal_shows_objects_frames_and_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import dcmexport.cli.common as common
    from tests.samplegen import make_us_gray_cine

    buf = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=buf, force_terminal=True, width=120))
    write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    write_dataset(make_us_gray_cine(frames=4), tmp_path / "in" / "us.dcm")
    res = runner.invoke(app, ["export", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    shown = buf.getvalue()
    assert "2/2" in shown and "obj/s" in shown and "frames" in shown
    assert "dcmexport summary" in shown
    # A series of three slices is one object: the bar ends at 1/1, not 1/3 (its total comes from on_start).
    for i in range(3):
        ds = make_ct(instance=i + 1, position_z=2.5 * i, sop_instance_uid=f"1.2.3.4.{i + 1}")
        write_dataset(ds, tmp_path / "series" / f"s{i}.dcm")
    buf.seek(0)
    buf.truncate()
    res = runner.invoke(app, ["export", str(tmp_path / "series"), "--out", str(tmp_path / "o2"), "--series", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "1/1" in buf.getvalue() and "1/3" not in buf.getvalue()
