"""describe_actions / render_actions_markdown, inspect_dataset, profiles and the actions module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmexport.deid import (
    Deidentifier,
    DeidOptions,
    Key,
    describe_actions,
    inspect_dataset,
    list_profiles,
    load_profile,
    render_actions_markdown,
)
from dcmexport.deid.actions import (
    Action,
    cap_age,
    decide_entry,
    is_clean_descriptor,
    resolve_code,
    shift_date,
    year_only,
)
from dcmexport.deid.table import load_keep_lists, load_table
from dcmexport.errors import PresetError, UsageError

README = Path(__file__).resolve().parent.parent / "presets" / "profiles" / "README.md"


class TestProfiles:
    def test_list_and_load(self) -> None:
        assert {"basic", "longitudinal", "research", "safe-harbor"} <= set(list_profiles())
        sh = load_profile("safe-harbor")
        assert sh.safe_harbor and sh.retain_patient_chars and sh.profile == "safe-harbor"
        assert load_profile("basic") == DeidOptions()
        assert load_profile("basic", retain_uids=True).retain_uids

    def test_unknown_profile_lists_known(self) -> None:
        with pytest.raises(PresetError, match="known profiles: .*basic"):
            load_profile("nope")

    def test_unknown_override(self) -> None:
        with pytest.raises(UsageError, match="unknown de-identification option"):
            load_profile("basic", retain_everything=True)


class TestDescribe:
    def test_readme_section_equals_render(self) -> None:
        text = README.read_text()
        m = re.search(r"<!-- BEGIN deid-actions[^>]*-->\n(.*?)<!-- END deid-actions -->", text, re.S)
        assert m, "README section markers missing"
        assert m.group(1) == render_actions_markdown(load_profile("basic"))

    def test_describes_options(self) -> None:
        basic = describe_actions(DeidOptions())
        lines = describe_actions(DeidOptions(retain_modified_dates=True, retain_device_id=True))
        assert any("113107" in line for line in lines) and not any("113107" in line for line in basic)
        assert any("Retain Device Identity" in line for line in lines)
        assert render_actions_markdown(DeidOptions()).count("\n- ") == len(basic) - 1


class TestResolution:
    @pytest.mark.parametrize(("code", "action"), [
        ("X", Action.REMOVE), ("Z", Action.EMPTY), ("D", Action.DUMMY), ("U", Action.UID),
        ("X/Z", Action.EMPTY), ("X/D", Action.DUMMY), ("X/Z/D", Action.DUMMY), ("Z/D", Action.DUMMY),
        ("X/Z/U*", Action.UID), ("K", Action.KEEP), ("C", Action.CLEAN)])
    def test_combined_codes(self, code: str, action: Action) -> None:
        assert resolve_code(code) is action

    def test_option_columns(self) -> None:
        rows = {e.tag: e for e in load_table().entries}
        serial = rows["(0018,1000)"]
        assert decide_entry(serial, DeidOptions()).action is Action.DUMMY
        assert decide_entry(serial, DeidOptions(retain_device_id=True)).action is Action.KEEP
        cal = rows["(0018,1200)"]  # DateOfLastCalibration: device K, modified-dates C -> C wins
        assert decide_entry(cal, DeidOptions(retain_device_id=True, retain_modified_dates=True)).action is Action.SHIFT
        # Study Time: C under Modified Dates; a day shift leaves a time as it is, so it is kept when well formed,
        # else its Basic action: Z, written as a dummy because a DICOMDIR's study record needs it
        assert decide_entry(rows["(0008,0030)"], DeidOptions(retain_modified_dates=True)) == (Action.FORM, Action.DUMMY)
        assert decide_entry(rows["(60XX,3000)"], DeidOptions(clean_graphics=True)).action is Action.REMOVE
        assert decide_entry(rows["(0008,1030)"], DeidOptions(clean_descriptors=True)).action is Action.CLEAN


class TestValues:
    def test_shift(self) -> None:
        assert shift_date("20200301", "DA", -1) == "20200229"
        assert shift_date("20200101-20200201", "DA", -1) == "20191231-20200131"
        assert shift_date("2020030112", "DT", -1) == "2020022912"
        assert shift_date("20200301101530.123+0100", "DT", -366) == "20190301101530.123+0100"
        assert shift_date("202003", "DT", -31) == "202001"
        assert shift_date("2020-03-01", "DA", -1) is None
        assert shift_date("00010101", "DA", -10) is None

    def test_year_and_age(self) -> None:
        assert year_only("20200315", "DA") == "20200101"
        assert year_only("20200315101500", "DT") == "20200101"
        assert year_only("2020", "DA") is None
        assert cap_age("095Y") == "090Y" and cap_age("089Y") == "089Y"
        assert cap_age("1100M") is None and cap_age("999M") == "999M" and cap_age("120M") == "120M"
        assert cap_age("500D") == "500D" and cap_age("999W") == "999W" and cap_age("90Y") is None

    def test_descriptor_vocabulary(self) -> None:
        vocab = load_keep_lists().vocabulary
        assert is_clean_descriptor("CT CHEST W/O CONTRAST 5mm", vocab)
        assert not is_clean_descriptor("Smith chest", vocab)
        assert not is_clean_descriptor("chest 20200315", vocab)


class TestInspect:
    def test_rows_name_tags_never_values(self) -> None:
        ds = Dataset()
        ds.PatientName = "Secret^Name"
        ds.PatientID = "SECRET-ID"
        ds.Modality = "CT"
        ds.SOPInstanceUID = "1.2.3.4.5"
        ds.Rows = 4
        req = Dataset()
        req.RequestedProcedureID = "RP-SECRET"
        req.add_new(0x00142006, "PN", "Evaluator^Eve")
        ds.RequestAttributesSequence = Sequence([req])
        ds.add_new(0x00290010, "LO", "VENDOR")
        ds.add_new(0x00291001, "LO", "x")
        rows = inspect_dataset(ds, DeidOptions(clean_descriptors=True))
        by_path = {r.path: r for r in rows}
        assert by_path["PatientName"].tag == "(0010,0010)" and by_path["PatientName"].has_value
        assert by_path["PatientID"].action == "D"
        assert by_path["RequestAttributesSequence"].action == "C"
        assert by_path["RequestAttributesSequence[0].RequestedProcedureID"].action == "X"
        assert by_path["RequestAttributesSequence[0].EvaluatorName"].action == "pn-unlisted"
        assert by_path["(0029,1001)"].action == "private"
        assert "Modality" not in by_path and "Rows" not in by_path
        flat = repr(rows)
        assert "Secret" not in flat and "SECRET" not in flat and "Eve" not in flat
        # inspect does not modify the dataset
        assert ds.PatientName == "Secret^Name"
        # and it agrees with what the engine does
        Deidentifier(DeidOptions(clean_descriptors=True), Key(b"inspect-test-key-0123456789abcde")).deidentify(ds)
        for row in rows:
            if row.action in ("X", "private", "text-unlisted") and "." not in row.path:
                assert int(row.tag[1:5] + row.tag[6:10], 16) not in ds, row.path
        assert "RequestedProcedureID" not in ds.RequestAttributesSequence[0]

    def test_well_formed_times_are_not_listed_malformed_ones_are(self) -> None:
        ds = Dataset()
        ds.StudyTime = "101500"
        ds.SeriesTime = "QZ1234"
        ds.TimezoneOffsetFromUTC = "+0100"
        rows = {r.path: r.action for r in inspect_dataset(ds, DeidOptions(retain_modified_dates=True))}
        assert rows == {"SeriesTime": "D"}  # Series Time is X/D in the Basic Profile
        ds.TimezoneOffsetFromUTC = "Hospital"
        rows = {r.path: r.action for r in inspect_dataset(ds, DeidOptions(retain_modified_dates=True))}
        assert rows == {"SeriesTime": "D", "TimezoneOffsetFromUTC": "X"}
