"""dcmexport.audit.inspect: the one resolver of inspect rows, and what inspect reports."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmexport.audit.inspect import resolve_row, value_text
from dcmexport.deid import DeidOptions, InspectRow, inspect_dataset


def _dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Doe^Jane"
    item = Dataset()
    item.RequestedProcedureID = "RP-0042"
    ds.RequestAttributesSequence = Sequence([item])
    private = Dataset()
    private.PatientID = "PRIVATE-ID"
    ds.add_new(0x00090010, "LO", "CREATOR")
    ds.add_new(0x00091001, "SQ", Sequence([private]))
    return ds


class TestResolveRow:
    def test_every_row_of_inspect_resolves_to_its_element(self) -> None:
        ds = _dataset()
        rows = inspect_dataset(ds, DeidOptions())
        assert rows
        for row in rows:
            elem = resolve_row(ds, row)
            assert elem is not None, row.path
            assert f"({elem.tag.group:04X},{elem.tag.element:04X})" == row.tag

    def test_nested_keyword_path(self) -> None:
        ds = _dataset()
        row = InspectRow("(0040,1001)", "RequestedProcedureID", "X", "RequestAttributesSequence[0].RequestedProcedureID",
                         True)
        elem = resolve_row(ds, row)
        assert elem is not None and elem.value == "RP-0042"

    def test_private_sequence_step(self) -> None:
        ds = _dataset()
        row = InspectRow("(0010,0020)", "PatientID", "D", "(0009,1001)[0].PatientID", True)
        elem = resolve_row(ds, row)
        assert elem is not None and elem.value == "PRIVATE-ID"

    def test_a_path_that_leads_nowhere(self) -> None:
        ds = _dataset()
        for path in ("RequestAttributesSequence[3].RequestedProcedureID", "ReferencedStudySequence[0].X",
                     "PatientName[0].PatientID", "bad step.PatientID"):
            assert resolve_row(ds, InspectRow("(0010,0020)", "PatientID", "D", path, True)) is None


class TestShowValues:
    def test_the_value_itself_in_full(self, tmp_path: Path) -> None:
        # Issue #19 item 10: --show-values printed pydicom's element repr, cut at 80 columns.
        from typer.testing import CliRunner

        import dcmexport.cli.inspect  # noqa: F401 - registers the command
        from dcmexport.cli import app
        from dcmexport.samples import make_ct, planted_phi, write_dataset

        comment = "FAKE COMMENT " + "x" * 150 + " END"
        src = write_dataset(make_ct(phi={**planted_phi(), "ImageComments": comment}), tmp_path / "ct.dcm")
        res = CliRunner().invoke(app, ["inspect", str(src), "--show-values"], env={"COLUMNS": "400"})
        assert res.exit_code == 0, res.output
        assert comment in res.output
        assert "DA: '" not in res.output and "Instance Creation Date" not in res.output  # no element repr
        assert planted_phi()["InstanceCreationDate"] in res.output
        narrow = CliRunner().invoke(app, ["inspect", str(src), "--show-values"], env={"COLUMNS": "80"})
        cells = "".join(line.split("│")[-2].strip() for line in narrow.output.splitlines() if line.count("│") == 5)
        assert comment.replace(" ", "") in cells.replace(" ", "")  # folded over lines, never cut

    def test_value_text(self) -> None:
        ds = _dataset()
        ds.OtherPatientIDs = ["A1", "B2"]
        ds.add_new(0x00091002, "OB", b"\x00\x01\x02")
        assert value_text(ds["PatientName"]) == "Doe^Jane"
        assert value_text(ds["OtherPatientIDs"]) == "A1\\B2"
        assert value_text(ds["RequestAttributesSequence"]) == "<sequence of 1 item(s)>"
        assert value_text(ds[0x00091002]) == "<3 bytes>"
