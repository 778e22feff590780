"""The echo guard (issue #20 item 2): kept text that repeats a value the profile took away goes too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmexport import api
from dcmexport.deid import Deidentifier, DeidOptions, Key

KEY = Key(b"echo-guard-test-key-0123456789ab")


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99LOCAL", meaning
    return item


def generated() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5.6"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4.5", "1.2.3.4.5.1"
    ds.PatientID, ds.PatientName = "MRN-0042", "Doe^Jane"
    ds.Modality = "CT"
    ds.StudyDescription = "Dr Smith head protocol"
    ds.PerformedProcedureStepDescription = "Kidney donor workup"
    ds.PositionReferenceIndicator = "  dr smith HEAD protocol "  # an echo: trimmed, case-insensitive
    ds.ProcedureCodeSequence = Sequence([code("P1", "Dr Smith head protocol")])
    ds.PerformedProtocolCodeSequence = Sequence([code("K1", "KIDNEY DONOR WORKUP")])
    ds.AnatomicRegionSequence = Sequence([code("T-A0100", "Brain")])  # no echo: stays
    ds.Manufacturer = "ACME"
    ds.ConvolutionKernel = ["B30f", "MRN-0042"]  # one of its values echoes the Patient ID
    ds.SequenceName = "Doe^Jane"  # echoes the (pseudonymised) Patient Name
    return ds


class TestGenerated:
    def test_echoes_are_replaced_and_counted(self) -> None:
        ds = generated()
        report = Deidentifier(DeidOptions(), KEY).deidentify(ds)
        assert ds.PositionReferenceIndicator == "ANONYMIZED"
        assert ds.ConvolutionKernel == "ANONYMIZED" and ds.SequenceName == "ANONYMIZED"
        assert ds.AnatomicRegionSequence[0].CodeMeaning == "Brain" and ds.Manufacturer == "ACME"
        counts = report.action_counts
        assert counts["echo:PositionReferenceIndicator"] == 1
        assert counts["echo:ConvolutionKernel"] == 1 and counts["echo:SequenceName"] == 1
        # Procedure and protocol code sequences are not in Table E.1-1: kept, cleaned item by item
        assert ds.ProcedureCodeSequence[0].CodeMeaning == "ANONYMIZED"
        assert ds.PerformedProtocolCodeSequence[0].CodeMeaning == "ANONYMIZED"
        assert ds.PerformedProtocolCodeSequence[0].CodeValue == "K1"
        assert counts["echo:CodeMeaning"] == 2
        assert not any(k.split(":", 1)[1] in ("Manufacturer", "CodeValue") for k in counts if k.startswith("echo:"))

    def test_only_values_taken_away_count(self) -> None:
        # Clean Descriptors keeps a Study Description made of vocabulary words: a Code Meaning
        # equal to it repeats nothing that was taken away, so it stays.
        ds = generated()
        ds.StudyDescription = "CT HEAD"
        ds.ProcedureCodeSequence[0].CodeMeaning = "ct head"
        report = Deidentifier(DeidOptions(clean_descriptors=True), KEY).deidentify(ds)
        assert ds.StudyDescription == "CT HEAD" and ds.ProcedureCodeSequence[0].CodeMeaning == "ct head"
        assert report.action_counts["echo:CodeMeaning"] == 1  # the protocol code still echoes PPS Description

    def test_nothing_echoed_nothing_counted(self) -> None:
        ds = generated()
        for keyword in ("PositionReferenceIndicator", "ConvolutionKernel", "SequenceName",
                        "PerformedProtocolCodeSequence", "ProcedureCodeSequence"):
            delattr(ds, keyword)
        report = Deidentifier(DeidOptions(), KEY).deidentify(ds)
        assert not any(k.startswith("echo:") for k in report.action_counts)


def _dicomdir_mr(tmp_path: Path) -> list[Path]:
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("DICOMDIR")).parent / "98892003" / "MR2"
    dest = tmp_path / "mr"
    shutil.copytree(src, dest)
    return sorted(p for p in dest.iterdir() if p.is_file())


def test_dicomdirtests_position_reference_indicator(tmp_path: Path) -> None:
    # pydicom's dicomdirtests MR objects: Position Reference Indicator repeats Study Description.
    files = _dicomdir_mr(tmp_path)
    originals = {p.name: pydicom.dcmread(p, stop_before_pixels=True) for p in files}
    assert all(ds.PositionReferenceIndicator == ds.StudyDescription for ds in originals.values())
    batch = api.deidentify(files, tmp_path / "out", key=KEY, accept_burned_in=True)
    assert [r.status for r in batch.results] == ["written"] * len(files)
    for result in batch.results:
        out = pydicom.dcmread(result.outputs[0])
        before = originals[result.source.name]
        assert out.PositionReferenceIndicator == "ANONYMIZED"
        assert before.StudyDescription.encode() not in result.outputs[0].read_bytes()
        assert result.action_counts["echo:PositionReferenceIndicator"] == 1
    manifest = (tmp_path / "out" / "manifest.jsonl").read_text()
    assert '"echo:PositionReferenceIndicator": 1' in manifest


@pytest.mark.parametrize("charset", ["ISO_IR 100", "ISO_IR 192"])
def test_non_ascii_values_compare_after_decoding(charset: str) -> None:
    ds = generated()
    ds.SpecificCharacterSet = charset
    ds.StudyDescription = "Tête Müller"
    ds.PositionReferenceIndicator = "TÊTE MÜLLER"
    from io import BytesIO

    buf = BytesIO()
    ds.save_as(buf, implicit_vr=False, little_endian=True)
    raw = pydicom.dcmread(BytesIO(buf.getvalue()), force=True)  # raw bytes, as read from a file
    Deidentifier(DeidOptions(), KEY).deidentify(raw)
    assert raw.PositionReferenceIndicator == "ANONYMIZED"
