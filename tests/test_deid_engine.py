"""Deidentifier: exact keyed output, options, marking, cross-file consistency, fail-closed errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import re
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dcmexport.deid import Deidentifier, DeidOptions, Key, engine, load_profile
from dcmexport.deid.marking import PixelState, evidence_from_method
from dcmexport.errors import DeidentificationError, UsageError

SECRET = b"0123456789abcdef0123456789abcdef"
KEY = Key(SECRET)


def hmac_digest(domain: str, value: str) -> bytes:
    """Independent re-implementation of the documented derivation, for exact expectations."""
    return hmac.new(SECRET, domain.encode() + b"\0" + value.encode(), hashlib.sha256).digest()


def expected_uid(uid: str) -> str:
    return "2.25." + str(int.from_bytes(hmac_digest("uid", uid)[:16], "big"))


def make_ds(pid: str = "PID-12345", name: str = "Doe^Jane", study: str = "1.2.3.4.100",
            series: str = "1.2.3.4.100.1", sop: str = "1.2.3.4.100.1.1", date: str = "20200315") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "SECRET_AE"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = study + ".9"
    ds.Modality = "CT"
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19700101"
    ds.PatientAge = "050Y"
    ds.PatientSex = "F"
    ds.StudyDate = date
    ds.SeriesDate = date
    ds.ContentDate = date
    ds.StudyTime = "101500"
    ds.AcquisitionDateTime = date + "101530.5+0100"
    ds.InstitutionName = "General Hospital"
    ds.DeviceSerialNumber = "SN-998877"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT CHEST WITH CONTRAST"
    ds.SeriesDescription = "Dr Who special series 20200315"
    ds.Manufacturer = "ACME"
    ds.Rows, ds.Columns = 2, 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = b"\0" * 8
    return ds


def deid(ds: Dataset, options: DeidOptions | None = None, **kw: object):
    return Deidentifier(options or DeidOptions(), KEY).deidentify(ds, **kw)


class TestExactOutput:
    def test_uids_and_patient_pseudonyms(self) -> None:
        ds = make_ds()
        report = deid(ds)
        token = base64.b32encode(hmac_digest("patient", "PID-12345")).decode()[:10]
        assert ds.PatientID == f"ANON-{token}"
        assert str(ds.PatientName) == f"ANON^{token}"
        assert report.patient_pseudonym == f"ANON-{token}"
        assert ds.SOPInstanceUID == expected_uid("1.2.3.4.100.1.1")
        assert ds.StudyInstanceUID == expected_uid("1.2.3.4.100")
        assert ds.FrameOfReferenceUID == expected_uid("1.2.3.4.100.9")
        assert report.sop_instance_uid == ds.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert "SourceApplicationEntityTitle" not in ds.file_meta
        assert ds.SOPClassUID == CTImageStorage and ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert len(ds.SOPInstanceUID) <= 64

    def test_basic_actions(self) -> None:
        ds = make_ds()
        report = deid(ds)
        assert ds.StudyDate == "20000101"  # Z, as a dummy: a DICOMDIR's study record needs it
        assert ds.SeriesDate == "20000101"  # X/D -> D, a valid dummy date
        assert ds.ContentDate == "20000101"  # Z/D -> D
        assert ds.AcquisitionDateTime == "20000101000000"  # X/Z/D -> D
        assert ds.InstitutionName == "ANONYMIZED"  # X/Z/D -> D
        assert ds.DeviceSerialNumber == "ANONYMIZED"
        assert "PatientAge" not in ds and "StudyDescription" not in ds  # X
        assert ds.PatientBirthDate == "" and ds.PatientSex == ""
        assert ds.Manufacturer == "ACME"  # allow-listed unlisted LO
        assert ds.Rows == 2 and ds.PixelData == b"\0" * 8
        assert report.action_counts["U"] == 4  # SOP, study, series, frame of reference
        assert report.action_counts["X"] >= 3

    def test_output_is_a_writable_part10_file(self) -> None:
        ds = make_ds()
        deid(ds)
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        back = pydicom.dcmread(BytesIO(buf.getvalue()))
        assert back.SOPInstanceUID == ds.SOPInstanceUID


class TestMarking:
    @pytest.mark.parametrize(
        ("options", "codes", "longitudinal"),
        [
            (DeidOptions(), ["113100"], "REMOVED"),
            (DeidOptions(retain_modified_dates=True), ["113100", "113107"], "MODIFIED"),
            (DeidOptions(retain_full_dates=True, retain_uids=True), ["113100", "113106", "113110"], "UNMODIFIED"),
            (DeidOptions(retain_device_id=True, retain_institution_id=True, retain_patient_chars=True),
             ["113100", "113108", "113109", "113112"], "REMOVED"),
            (DeidOptions(clean_descriptors=True, clean_graphics=True, clean_structured_content=True,
                         retain_safe_private=True), ["113100", "113103", "113104", "113105", "113111"], "REMOVED"),
            (DeidOptions(safe_harbor=True), ["113100", "113107"], "MODIFIED"),
        ],
    )
    def test_codes_per_option(self, options: DeidOptions, codes: list[str], longitudinal: str) -> None:
        ds = make_ds()
        deid(ds, options)
        assert [i.CodeValue for i in ds.DeidentificationMethodCodeSequence] == codes
        assert {i.CodingSchemeDesignator for i in ds.DeidentificationMethodCodeSequence} == {"DCM"}
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == longitudinal
        assert all(len(v) <= 64 for v in ds.DeidentificationMethod)

    def test_pixels_cleaned_adds_113101(self) -> None:
        ds = make_ds()
        deid(ds, pixels=PixelState(source_burned_in="YES", suspect=True, changed=True))
        assert "113101" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]

    def test_burned_in_without_cleaning_is_not_claimed(self) -> None:
        ds = make_ds()
        ds.BurnedInAnnotation = "YES"
        deid(ds)
        assert ds.PatientIdentityRemoved == "NO"
        ds2 = make_ds()
        ds2.BurnedInAnnotation = "YES"
        deid(ds2, pixels=PixelState(source_burned_in="YES", suspect=True, changed=True, outside_regions=True,
                                    ocr_clean=True))
        assert ds2.PatientIdentityRemoved == "YES"

    # Issue #20 item 1: the four cases of the marking rule, and what each may claim.
    @pytest.mark.parametrize(("state", "removed", "burned_in", "code_113101", "evidence"), [
        # --accept-burned-in, nothing masked: the pixels were never cleaned
        (PixelState(source_burned_in="YES", suspect=True, accepted=True), "NO", "YES", False, "accepted-uncleaned"),
        (PixelState(source_burned_in="", suspect=True, accepted=True), "NO", None, False, "accepted-uncleaned"),
        # ultrasound masked outside its regions only: the regions' inside was not looked at
        (PixelState(source_burned_in="YES", suspect=True, changed=True, outside_regions=True), "NO", "YES", True,
         "masked-not-checked"),
        (PixelState(source_burned_in="", suspect=True, changed=True, outside_regions=True), "NO", None, True,
         "masked-not-checked"),
        # ... and with OCR on every frame reading nothing, inside the regions included
        (PixelState(source_burned_in="YES", suspect=True, changed=True, outside_regions=True, ocr_clean=True),
         "YES", "NO", True, "masked-and-checked"),
        # rectangles plus OCR on every frame: verified, but not "no burned-in annotation"
        (PixelState(source_burned_in="YES", suspect=True, changed=True, ocr_clean=True), "YES", "YES", True,
         "ocr-checked"),
        # the source says NO: nothing to claim beyond it; masking still adds 113101
        (PixelState(source_burned_in="NO"), "YES", "NO", False, "source-no"),
        (PixelState(source_burned_in="NO", changed=True), "YES", "NO", True, "source-no"),
        # a CT without Burned In Annotation: nothing suggests text
        (PixelState(), "YES", None, False, "not-suspected"),
        (PixelState(has_pixels=False, source_burned_in="YES", suspect=True), "YES", "YES", False, "no-pixels"),
    ])
    def test_marking_claims_only_what_was_done(self, state: PixelState, removed: str, burned_in: str | None,
                                               code_113101: bool, evidence: str) -> None:
        ds = make_ds()
        if state.source_burned_in:
            ds.BurnedInAnnotation = state.source_burned_in
        report = deid(ds, pixels=state)
        assert ds.PatientIdentityRemoved == removed
        assert ds.get("BurnedInAnnotation") == burned_in
        assert ("113101" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]) is code_113101
        assert report.pixel_evidence == evidence
        assert evidence_from_method(ds.DeidentificationMethod) == evidence

    def test_marking_again_with_more_knowledge(self) -> None:
        ds = make_ds()
        ds.BurnedInAnnotation = "YES"
        deidentifier = Deidentifier(DeidOptions(), KEY)
        unchecked = PixelState(source_burned_in="YES", suspect=True, changed=True, outside_regions=True)
        deidentifier.deidentify(ds, pixels=unchecked)
        assert ds.PatientIdentityRemoved == "NO" and ds.BurnedInAnnotation == "YES"
        assert deidentifier.mark(ds, replace(unchecked, ocr_clean=True)) == "masked-and-checked"
        assert ds.PatientIdentityRemoved == "YES" and ds.BurnedInAnnotation == "NO"
        assert deidentifier.mark(ds, unchecked) == "masked-not-checked"
        assert ds.PatientIdentityRemoved == "NO" and ds.BurnedInAnnotation == "YES"

    @pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    @pytest.mark.parametrize(("burned_in", "cleaned"), [("NO", False), ("YES", False), ("YES", True)])
    def test_pre_encoded_marking_writes_the_same_bytes(
        self, monkeypatch: pytest.MonkeyPatch, syntax: str, burned_in: str, cleaned: bool
    ) -> None:
        # A dataset read from a file gets its marking as elements encoded once per run
        # (engine._encoded_marking); the file written must not differ by a byte from the
        # one written with the marking built element by element for each object.
        def read_back() -> Dataset:
            ds = make_ds()
            ds.BurnedInAnnotation = burned_in
            ds.file_meta.TransferSyntaxUID = syntax
            buf = BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            return pydicom.dcmread(BytesIO(buf.getvalue()))

        def written(ds: Dataset) -> bytes:
            buf = BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            return buf.getvalue()

        def state(cleaned: bool) -> PixelState:
            # cleaned: masked outside the regions and checked by OCR, so the marking may say so
            return PixelState(source_burned_in=burned_in, suspect=burned_in == "YES", changed=cleaned,
                              outside_regions=cleaned, ocr_clean=cleaned)

        options = DeidOptions(retain_modified_dates=True, clean_descriptors=True)
        deidentifier = Deidentifier(options, KEY)
        fast = [read_back() for _ in range(2)]
        for ds in fast:
            deidentifier.deidentify(ds, pixels=state(cleaned))
        assert isinstance(fast[0]._dict[0x00120064], RawDataElement)  # the pre-encoded path was taken
        monkeypatch.setattr(engine, "native_encoding", lambda ds: None)
        slow = read_back()
        Deidentifier(options, KEY).deidentify(slow, pixels=state(cleaned))
        assert not isinstance(slow._dict[0x00120064], RawDataElement)
        assert written(fast[0]) == written(fast[1]) == written(slow)
        back = pydicom.dcmread(BytesIO(written(fast[1])))
        codes = ["113100", "113101", "113105", "113107"] if cleaned else ["113100", "113105", "113107"]
        assert [i.CodeValue for i in back.DeidentificationMethodCodeSequence] == codes
        assert back.PatientIdentityRemoved == ("NO" if burned_in == "YES" and not cleaned else "YES")
        assert back.LongitudinalTemporalInformationModified == "MODIFIED"
        assert [i.CodeValue for i in fast[0].DeidentificationMethodCodeSequence] == codes  # readable in memory


class TestOptions:
    def test_retain_device_id_keeps_serial_number(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(retain_device_id=True))
        assert ds.DeviceSerialNumber == "SN-998877" and ds.StationName == "CT01"
        assert ds.InstitutionName == "ANONYMIZED"

    def test_retain_institution(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(retain_institution_id=True))
        assert ds.InstitutionName == "General Hospital"

    def test_retain_uids(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(retain_uids=True))
        assert ds.SOPInstanceUID == "1.2.3.4.100.1.1" == ds.file_meta.MediaStorageSOPInstanceUID

    def test_retain_full_dates(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(retain_full_dates=True))
        assert ds.StudyDate == "20200315" and ds.StudyTime == "101500"
        assert ds.PatientBirthDate == ""  # no date column for birth date: always Z

    def test_modified_dates_shift_by_the_keyed_offset(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(retain_modified_dates=True))
        span = 3650 - 365 + 1
        offset = -(365 + int.from_bytes(hmac_digest("shift", "PID-12345")[:8], "big") % span)
        import datetime as dt
        expected = (dt.date(2020, 3, 15) + dt.timedelta(days=offset)).strftime("%Y%m%d")
        assert ds.StudyDate == expected and ds.SeriesDate == expected
        assert ds.StudyTime == "101500"  # times kept
        assert ds.AcquisitionDateTime == expected + "101530.5+0100"

    @pytest.mark.parametrize(("value", "kept"), [
        ("+0100", True), ("-0530", True), ("+1400", True), ("QZ12345", False), ("+01:00", False),
        ("+2500", False), ("0100", False), ("Doe^Jane", False)])
    def test_modified_dates_keep_only_a_well_formed_utc_offset(self, value: str, kept: bool) -> None:
        # Table E.1-1: (0008,0201) is C under Modified Dates. A whole-day shift leaves a real offset
        # unchanged, so a valid &ZZXX is kept; anything else is free text and gets the Basic action (X).
        ds = make_ds()
        ds.TimezoneOffsetFromUTC = value
        report = deid(ds, DeidOptions(retain_modified_dates=True))
        assert ("TimezoneOffsetFromUTC" in ds) is kept
        if kept:
            assert ds.TimezoneOffsetFromUTC == value
        else:
            assert report.action_counts.get("X", 0) >= 1

    @pytest.mark.parametrize(("value", "kept"), [
        ("101500", True), ("1015", True), ("10", True), ("101500.123456", True), ("235960", True),
        ("101500.1234567", False), ("10:15:00", False), ("2500", False), ("QZ1234", False)])
    def test_modified_dates_keep_only_well_formed_times(self, value: str, kept: bool) -> None:
        ds = make_ds()
        ds.StudyTime = value
        deid(ds, DeidOptions(retain_modified_dates=True))
        assert (ds.StudyTime == value) is kept
        if not kept:
            assert ds.StudyTime == "000000"  # the Basic Profile action of Study Time: Z, as a dummy (DICOMDIR)

    def test_clean_descriptors_removes_binary_values_it_cannot_check(self) -> None:
        # (0016,002B) Maker Note and (0016,004B) Device Setting Description are OB and C under Clean
        # Descriptors: words cannot be checked in bytes, so the Basic Profile action (X) applies.
        ds = make_ds()
        ds.add_new(0x0016002B, "OB", b"Doe^Jane MRN 12345 ")
        ds.add_new(0x0016004B, "OB", b"Station of Dr Who  ")
        ds.add_new(0x04000565, "CS", "COERCE")  # a CS C row: kept only when its words are in the vocabulary
        deid(ds, DeidOptions(clean_descriptors=True))
        assert 0x0016002B not in ds and 0x0016004B not in ds
        assert ds[0x04000565].value == "ANONYMIZED"  # not in the vocabulary: its Basic action, D

    def test_clean_descriptors_keeps_only_vocabulary(self) -> None:
        ds = make_ds()
        deid(ds, DeidOptions(clean_descriptors=True))
        assert ds.StudyDescription == "CT CHEST WITH CONTRAST"
        assert "SeriesDescription" not in ds  # a name and a date: basic action X

    def test_safe_harbor_age_and_year(self) -> None:
        ds = make_ds()
        ds.PatientAge = "095Y"
        deid(ds, load_profile("safe-harbor"))
        assert ds.PatientAge == "090Y"
        assert ds.StudyDate == "20200101" and ds.SeriesDate == "20200101"
        assert ds.AcquisitionDateTime == "20200101"
        assert ds.StudyTime == "000000"  # finer than a year: Basic Profile (Z, as a dummy for a DICOMDIR)
        ds2 = make_ds()
        ds2.PatientAge = "089Y"
        deid(ds2, load_profile("safe-harbor"))
        assert ds2.PatientAge == "089Y"

    def test_contradictory_date_options(self) -> None:
        with pytest.raises(UsageError, match="exclude each other"):
            DeidOptions(retain_full_dates=True, retain_modified_dates=True)

    def test_patient_map_overrides(self) -> None:
        ds = make_ds()
        d = Deidentifier(DeidOptions(), KEY, patient_map={"PID-12345": ("SUBJ-001", "Subject^One")})
        report = d.deidentify(ds)
        assert ds.PatientID == "SUBJ-001" and str(ds.PatientName) == "Subject^One"
        assert report.patient_pseudonym == "SUBJ-001"


class TestBeyondTheTable:
    def test_nested_unlisted_pn_text_and_private(self) -> None:
        ds = make_ds()
        item = Dataset()
        item.PersonName = "Smith^John"  # in the table (D)
        item.add_new(0x00142006, "PN", "Evaluator^Eve")  # EvaluatorName: a PN the table does not list
        item.TextValue = "secret narrative"  # UT, unlisted
        item.ReferencedSOPInstanceUID = "1.2.3.4.100.1.1"
        inner = Dataset()
        inner.add_new(0x00090010, "LO", "ACME_PRIVATE")
        inner.add_new(0x00091001, "LO", "private secret")
        inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "T-D3000", "SRT", "Chest"
        item.ConceptNameCodeSequence = Sequence([inner])
        ds.ContentSequence = Sequence([item])
        ds.add_new(0x00190010, "LO", "ACME_PRIVATE")
        ds.add_new(0x00191001, "SQ", Sequence([Dataset()]))
        report = deid(ds)
        out = ds.ContentSequence[0]
        assert str(out.PersonName) == "ANONYMIZED^" and str(out[0x00142006].value) == "ANONYMIZED^"
        assert "TextValue" not in out
        assert out.ReferencedSOPInstanceUID == ds.SOPInstanceUID  # the reference still resolves
        code = out.ConceptNameCodeSequence[0]
        assert code.CodeMeaning == "Chest" and 0x00091001 not in code and 0x00090010 not in code
        assert 0x00190010 not in ds and 0x00191001 not in ds
        assert report.action_counts["private"] == 4
        assert report.action_counts["pn-unlisted"] == 1 and report.action_counts["text-unlisted"] == 1

    def test_overlays_removed_whole_group(self) -> None:
        ds = make_ds()
        ds.add_new(0x60000010, "US", 2)
        ds.add_new(0x60003000, "OW", b"\0" * 2)
        ds.add_new(0x60020022, "LO", "overlay description")
        ds.add_new(0x50000005, "US", 1)
        deid(ds)
        assert not [t for t in sorted(ds.keys()) if (t >> 16) & 0xFF00 in (0x5000, 0x6000)]

    def test_safe_private_kept_only_with_option(self) -> None:
        def with_private() -> Dataset:
            ds = make_ds()
            ds.add_new(0x20010010, "LO", "BrainWave: 1.2.840.113819.3")
            ds.add_new(0x20011031, "US", 7)  # CTP 'K' (safe)
            ds.add_new(0x20011012, "UI", "1.2.3.9")  # CTP 'X'
            return ds
        ds = with_private()
        deid(ds, DeidOptions(retain_safe_private=True))
        assert ds[0x20011031].value == 7 and 0x20010010 in ds and 0x20011012 not in ds
        ds = with_private()
        deid(ds)
        assert not [t for t in sorted(ds.keys()) if (t >> 16) & 1]


class TestKey:
    def test_repr_hides_secret_and_pickles(self) -> None:
        assert "0123" not in repr(KEY)
        clone = pickle.loads(pickle.dumps(KEY))
        assert clone == KEY and clone.digest("uid", "1.2") == KEY.digest("uid", "1.2")

    def test_from_file_and_short_key(self, tmp_path: Path) -> None:
        good = tmp_path / "k.bin"
        good.write_bytes(SECRET)
        assert Key.from_file(good) == KEY and not Key.from_file(good).ephemeral
        short = tmp_path / "short.bin"
        short.write_bytes(b"123")
        with pytest.raises(UsageError, match="at least 16"):
            Key.from_file(short)

    def test_from_env_and_random(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("DCMEXPORT_KEY", raising=False)
        assert Key.from_env() is None
        monkeypatch.setenv("DCMEXPORT_KEY", SECRET.decode())
        assert Key.from_env() == KEY
        assert Key.random().ephemeral and Key.random() != Key.random()


class TestErrors:
    def test_failure_names_tag_not_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        ds = make_ds()
        d = Deidentifier(DeidOptions(), KEY)

        def boom(uid: str) -> str:
            raise ValueError(f"bad {uid}")

        monkeypatch.setattr(d, "remap_uid", boom)
        with pytest.raises(DeidentificationError) as err:
            d.deidentify(ds)
        msg = str(err.value)
        assert re.match(r"^\(00[0-9A-F]{2},00[0-9A-F]{2}\) \w+UID: could not be processed \(ValueError\)", msg), msg
        assert "1.2.3.4" not in msg and "Doe" not in msg

    def test_missing_sop_instance_uid(self) -> None:
        ds = make_ds()
        del ds.SOPInstanceUID
        del ds.file_meta.MediaStorageSOPInstanceUID
        with pytest.raises(DeidentificationError, match="SOPInstanceUID"):
            deid(ds)


class TestStudyConsistency:
    """Three files, two studies of one patient: same key -> same output; references resolve."""

    @staticmethod
    def study() -> list[Dataset]:
        a = make_ds(study="1.9.1", series="1.9.1.1", sop="1.9.1.1.1", date="20200110")
        b = make_ds(study="1.9.1", series="1.9.1.2", sop="1.9.1.2.1", date="20200110")
        ref = Dataset()
        ref.ReferencedSOPClassUID = CTImageStorage
        ref.ReferencedSOPInstanceUID = "1.9.1.1.1"
        b.ReferencedImageSequence = Sequence([ref])
        series_ref = Dataset()
        series_ref.SeriesInstanceUID = "1.9.1.1"
        b.ReferencedSeriesSequence = Sequence([series_ref])
        c = make_ds(study="1.9.2", series="1.9.2.1", sop="1.9.2.1.1", date="20210301")
        return [a, b, c]

    def run(self, key: Key) -> list[Dataset]:
        d = Deidentifier(DeidOptions(retain_modified_dates=True), key)
        files = self.study()
        for ds in files:
            d.deidentify(ds)
        return files

    def test_same_key_same_output_and_references(self) -> None:
        first, second = self.run(KEY), self.run(Key(SECRET))
        for x, y in zip(first, second, strict=True):
            assert (x.SOPInstanceUID, x.StudyInstanceUID, x.SeriesInstanceUID, x.StudyDate, x.PatientID) == (
                y.SOPInstanceUID, y.StudyInstanceUID, y.SeriesInstanceUID, y.StudyDate, y.PatientID)
        a, b, c = first
        assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
        assert b.ReferencedImageSequence[0].ReferencedSOPClassUID == CTImageStorage
        assert b.ReferencedSeriesSequence[0].SeriesInstanceUID == a.SeriesInstanceUID
        assert a.StudyInstanceUID == b.StudyInstanceUID != c.StudyInstanceUID
        import datetime as dt

        def days(s: str) -> dt.date:
            return dt.datetime.strptime(s, "%Y%m%d").date()

        assert (days(c.StudyDate) - days(a.StudyDate)).days == (dt.date(2021, 3, 1) - dt.date(2020, 1, 10)).days
        assert a.StudyDate != "20200110"

    def test_other_key_changes_everything(self) -> None:
        first, other = self.run(KEY), self.run(Key(b"another secret key, 32 bytes!!!"))
        for x, y in zip(first, other, strict=True):
            for kw in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
                       "PatientID", "StudyDate"):
                assert x.get(kw) != y.get(kw), kw

    def test_linkage_lists_pairs(self) -> None:
        d = Deidentifier(DeidOptions(), KEY)
        files = self.study()
        for ds in files:
            d.deidentify(ds)
        kinds = {(r.kind, r.original): r.pseudonym for r in d.linkage()}
        assert kinds[("PatientID", "PID-12345")] == files[0].PatientID
        assert kinds[("SOPInstanceUID", "1.9.1.1.1")] == files[0].SOPInstanceUID
        assert kinds[("StudyInstanceUID", "1.9.2")] == files[2].StudyInstanceUID


def test_sequence_stored_as_un_is_descended_into() -> None:
    """rtdose_rle.dcm stores ReferencedRTPlanSequence with VR UN: its references must still be remapped."""
    from io import BytesIO

    import pydicom
    from pydicom.data import get_testdata_file

    from dcmexport.deid import Deidentifier, DeidOptions, Key

    path = get_testdata_file("rtdose_rle.dcm")
    raw = pydicom.dcmread(path)
    assert raw.get_item(0x300C0002).VR == "UN"  # the fixture really is UN-encoded
    original = pydicom.dcmread(path)["ReferencedRTPlanSequence"][0].ReferencedSOPInstanceUID
    ds = pydicom.dcmread(path)
    Deidentifier(DeidOptions(), Key(b"un-sequence-key-0123456789abcdef")).deidentify(ds)
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert original.encode() not in buf.getvalue()
    assert ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID.startswith("2.25.")
