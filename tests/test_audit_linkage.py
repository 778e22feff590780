from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dcmexport.audit.linkage import check_linkage_path, read_patient_map, write_linkage
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


class TestAppend:
    def test_a_second_run_keeps_every_row(self, tmp_path: Path) -> None:
        # Issue #19 item 2: a second run replaced the table, losing the first run's pairs.
        out = tmp_path / "out"
        target = tmp_path / "lk" / "l.csv"
        assert write_linkage(target, [LinkageRecord("PatientID", "CT-1", "ANON-A")], out) == 1
        assert write_linkage(target, [LinkageRecord("PatientID", "MR-1", "ANON-B"),
                                      LinkageRecord("PatientID", "CT-1", "ANON-A"),  # already there
                                      LinkageRecord("PatientID", "CT-1", "ANON-C")], out) == 2  # another key
        assert target.read_text(encoding="utf-8").splitlines() == [
            "kind,original,pseudonym", "PatientID,CT-1,ANON-A", "PatientID,MR-1,ANON-B", "PatientID,CT-1,ANON-C"]
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def test_utf8_values_and_a_bom_survive(self, tmp_path: Path) -> None:
        target = tmp_path / "l.csv"
        target.write_text("\ufeffkind,original,pseudonym\nPatientName,Müller^Jörg,ANON^X\n", encoding="utf-8")
        write_linkage(target, [LinkageRecord("PatientName", "Müller^Jörg", "ANON^X"),
                               LinkageRecord("PatientName", "Zoë", "ANON^Y")], tmp_path / "out")
        assert target.read_text(encoding="utf-8").splitlines() == [
            "kind,original,pseudonym", "PatientName,Müller^Jörg,ANON^X", "PatientName,Zoë,ANON^Y"]


class TestCheckLinkagePath:
    def test_a_directory_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="is a directory"):
            check_linkage_path(tmp_path)

    def test_a_file_in_place_of_a_folder_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "afile").write_text("x")
        with pytest.raises(UsageError, match="not a directory"):
            check_linkage_path(tmp_path / "afile" / "l.csv")

    def test_a_file_that_is_not_a_linkage_table_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
        with pytest.raises(UsageError, match="not a dcmexport linkage table"):
            check_linkage_path(tmp_path / "notes.csv")
        (tmp_path / "latin1.csv").write_bytes("kind,original,pseudonym\nPatientName,M\xfcller,X\n".encode("latin-1"))
        with pytest.raises(UsageError, match="UTF-8"):
            check_linkage_path(tmp_path / "latin1.csv")

    def test_inside_out_and_fine_paths(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="outside the --out"):
            check_linkage_path(tmp_path / "out" / "l.csv", tmp_path / "out")
        check_linkage_path(tmp_path / "new" / "l.csv", tmp_path / "out")
        assert not (tmp_path / "new").exists()  # a check writes nothing


def test_cli_linkage_directory_is_a_usage_error_before_any_output(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dcmexport.cli import app
    from tests.samplegen import make_ct, write_dataset

    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    (tmp_path / "lk").mkdir()
    for command in ("deid", "export"):
        out = tmp_path / f"out-{command}"
        res = CliRunner().invoke(app, [command, str(src), "--out", str(out), "--linkage", str(tmp_path / "lk")])
        assert res.exit_code == 2 and "is a directory" in res.output, res.output
        assert not out.exists()


def test_cli_second_run_appends(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dcmexport.cli import app
    from tests.samplegen import make_ct, make_mr, planted_phi, write_dataset

    ct = write_dataset(make_ct(), tmp_path / "CT_small.dcm")
    mr = write_dataset(make_mr(phi={**planted_phi(), "PatientID": "FAKE-ID-0002"}), tmp_path / "MR_small.dcm")
    links = tmp_path / "lk" / "l.csv"
    for src in (ct, mr):
        res = CliRunner().invoke(app, ["deid", str(src), "--out", str(tmp_path / "o"), "--linkage", str(links)])
        assert res.exit_code == 0, res.output
    text = links.read_text(encoding="utf-8")
    assert "FAKE-ID-0001" in text and "FAKE-ID-0002" in text


def test_read_patient_map_names_a_non_utf8_file_without_its_bytes(tmp_path: Path) -> None:
    """API callers get the typed usage error, not a UnicodeDecodeError quoting the file's bytes."""
    cohort = tmp_path / "cohort.csv"
    cohort.write_bytes("original_patient_id,new_patient_id,new_patient_name\nM\u00fcller,S1,S1\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8") as info:
        read_patient_map(cohort)
    assert "ller" not in str(info.value) and "\\xfc" not in str(info.value)
