from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dcmexport.audit.linkage import read_patient_map, write_linkage
from dcmexport.deid import LinkageRecord
from dcmexport.errors import UsageError


def test_linkage_written_0600_and_deduplicated(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "custodian" / "links.csv"
    recs = [LinkageRecord("PatientID", "A1", "ANON-X"), LinkageRecord("PatientID", "A1", "ANON-X"),
            LinkageRecord("PatientName", "DOE^J", "ANON^X")]
    assert write_linkage(target, recs, out) == 2
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().splitlines() == ["kind,original,pseudonym", "PatientID,A1,ANON-X", "PatientName,DOE^J,ANON^X"]


def test_linkage_refused_inside_output(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="outside the --out"):
        write_linkage(tmp_path / "out" / "sub" / "l.csv", [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_patient_map(tmp_path: Path) -> None:
    p = tmp_path / "map.csv"
    p.write_text("original_patient_id,new_patient_id,new_patient_name\nMRN1,SUBJ-001,SUBJ^001\nMRN2,SUBJ-002,\n")
    assert read_patient_map(p) == {"MRN1": ("SUBJ-001", "SUBJ^001"), "MRN2": ("SUBJ-002", "SUBJ-002")}
    p.write_text("original_patient_id,new_patient_id,new_patient_name\nMRN1,S1,\nMRN1,S2,\n")
    with pytest.raises(UsageError, match="row 3 repeats"):
        read_patient_map(p)
    p.write_text("id,new\nMRN1,S1\n")
    with pytest.raises(UsageError, match="header"):
        read_patient_map(p)
