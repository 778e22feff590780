"""External oracle: dicom3tools' dciodvfy reports no error and no warning on a de-identified object
that it did not already report on the original (opt-in: skipped where dciodvfy is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dcmexport import api
from dcmexport.deid import Key
from tests.conftest import deid_data_root, pydicom_data_files

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) not installed"),
]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _findings(path: Path, kind: str = "Error") -> set[str]:
    out = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True, timeout=120)
    lines = (out.stdout + out.stderr).splitlines()
    # values differ by design (pseudonyms, dummies): compare the findings, not the values; nor the
    # value index ([1]), which differs when a multi-valued attribute becomes one dummy
    return {re.sub(r"\[\d+\]", "", re.sub(r"(= |Value=)<[^>]*>", r"\1<>", line))
            for line in lines if line.startswith(kind)}


def _errors(path: Path) -> set[str]:
    return _findings(path, "Error")


def _inputs() -> list[Path]:
    import pydicom.data

    local = Path(pydicom.data.__file__).parent / "test_files"
    files = sorted(SAMPLES.rglob("*.dcm")) + [local / "CT_small.dcm", local / "MR_small.dcm", local / "rtplan.dcm"]
    wanted = {"US1_UNCR.dcm", "OBXXXX1A.dcm", "emri_small.dcm", "JPEG2000_UNC.dcm", "SC_rgb.dcm"}
    files += [p for p in pydicom_data_files() if p.name in wanted]
    files += sorted((deid_data_root() / "ultrasounds").glob("*.dcm"))
    return files


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: p.name)
def test_deid_adds_no_dciodvfy_error(path: Path, tmp_path: Path) -> None:
    batch = api.deidentify([path], tmp_path / "out", key=Key(b"dciodvfy-oracle-key-0123456789ab"),
                           accept_burned_in=True)
    (result,) = batch.results
    assert result.status == "written", result.reason
    new_errors = _errors(result.outputs[0]) - _errors(path)
    assert not new_errors, "\n".join(sorted(new_errors))
    # Issue #18 item 14: no new warning either (the PN dummy in its retired form, Study Date, Time
    # and ID emptied although a DICOMDIR needs them).
    new_warnings = _findings(result.outputs[0], "Warning") - _findings(path, "Warning")
    assert not new_warnings, "\n".join(sorted(new_warnings))
