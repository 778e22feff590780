"""dcmexport.audit.inspect: the one resolver of inspect rows, and what inspect reports."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmexport.audit.inspect import resolve_row
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
