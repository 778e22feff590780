"""Usage errors at start-up: one line, exit 2, nothing written, never ``internal error``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app
from tests.samplegen import make_ct, write_dataset

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


def _three_objects(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    for i in range(3):
        write_dataset(make_ct(sop_instance_uid=f"1.2.3.9.{i}", instance=i + 1), folder / f"ct{i}.dcm")
    return folder


@pytest.mark.parametrize("command", ["export", "deid"])
@pytest.mark.parametrize("content", ["rect = [[0, 0, 1, 1]]\n", 'rects = [[0, 0, "a", 1]]\n', "rects = [[0, 0\n"])
def test_malformed_mask_file_is_one_usage_error_not_one_per_object(tmp_path: Path, command: str, content: str) -> None:
    folder = _three_objects(tmp_path)
    mask_file = tmp_path / "masks.toml"
    mask_file.write_text(content)
    res = runner.invoke(app, [command, str(folder), "--out", str(tmp_path / "o"), "--mask-file", str(mask_file)])
    line = _one_usage_line(res)
    assert str(mask_file) in line
    assert not (tmp_path / "o").exists()


def test_mask_file_is_read_once_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dcmexport.mask.plan as plan
    import dcmexport.pipeline.startup as startup

    folder = _three_objects(tmp_path)
    mask_file = tmp_path / "masks.toml"
    mask_file.write_text("rects = [[0, 0, 10, 4]]\n")
    calls: list[Path] = []
    real = plan.read_mask_file

    def counting(path: Path) -> object:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(plan, "read_mask_file", counting)
    monkeypatch.setattr(startup, "read_mask_file", counting)
    res = runner.invoke(app, ["export", str(folder), "--out", str(tmp_path / "o"), "--mask-file", str(mask_file),
                              "--jobs", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert calls == [mask_file]
    assert all("mask-file" in " ".join(o["notes"]) for o in json.loads(res.stdout)["objects"])


def test_ocr_check_without_pytesseract_is_one_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pytesseract", None)  # import now raises ImportError
    folder = _three_objects(tmp_path)
    res = runner.invoke(app, ["export", str(folder), "--out", str(tmp_path / "o"), "--ocr-check", "report"])
    line = _one_usage_line(res)
    assert "pip install dcmexport[ocr]" in line and "tesseract-ocr" in line
    assert not (tmp_path / "o").exists()


def test_ocr_check_without_the_tesseract_program_is_one_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    folder = _three_objects(tmp_path)
    res = runner.invoke(app, ["export", str(folder), "--out", str(tmp_path / "o"), "--ocr-check", "strict"])
    line = _one_usage_line(res)
    assert "tesseract" in line and "tesseract-ocr" in line
