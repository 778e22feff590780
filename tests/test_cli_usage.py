"""Usage errors at start-up: one line, exit 2, nothing written, never ``internal error``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app
from dcmexport.samples import make_ct, write_dataset

runner = CliRunner()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", "cli-test-key-0123456789abcdef")


def _one_usage_line(res: object) -> str:
    output = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2, output  # type: ignore[attr-defined]
    assert "internal error" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("command", ["export", "deid"])
def test_latin1_patient_map_is_a_usage_error(tmp_path: Path, command: str) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    cohort = tmp_path / "cohort.csv"
    cohort.write_bytes("original_patient_id,new_patient_id,new_patient_name\nM\u00fcller,S1,S1\n".encode("latin-1"))
    res = runner.invoke(app, [command, str(src), "--out", str(tmp_path / "o"), "--patient-map", str(cohort)])
    line = _one_usage_line(res)
    assert "--patient-map" in line and "UTF-8" in line
    assert "M\u00fcller" not in res.output and "ller" not in res.output
    assert not (tmp_path / "o").exists()


def test_patient_map_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    cohort = tmp_path / "cohort.csv"
    cohort.write_bytes("original_patient_id,new_patient_id,new_patient_name\nM\u00fcller,S1,S1\n".encode("utf-8-sig"))
    res = runner.invoke(app, ["deid", str(src), "--out", str(tmp_path / "o"), "--patient-map", str(cohort), "-q"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("command", ["export", "deid"])
def test_out_under_a_file_is_a_usage_error(tmp_path: Path, command: str) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    log = tmp_path / "run.log"
    res = runner.invoke(app, [command, str(src), "--out", str(afile / "sub"), "--log", str(log)])
    line = _one_usage_line(res)
    assert "--out" in line and "file" in line
    assert afile.read_text() == "not a folder" and not log.exists()


def test_api_out_under_a_file_is_a_usage_error(tmp_path: Path) -> None:
    from dcmexport import api
    from dcmexport.errors import UsageError
    from dcmexport.options import ExportOptions

    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="--out"):
        api.export(src, tmp_path / "afile" / "sub")
    with pytest.raises(UsageError, match="--out"):  # options built by hand skip build_options: the batch checks
        api.export(src, options=ExportOptions(out_dir=tmp_path / "afile" / "sub"))
