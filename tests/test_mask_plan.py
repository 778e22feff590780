"""The mask plan (dcmexport.mask.plan): sources, refusal, and the memo keyed by one declaration.

Real files: deid-data ultrasounds (GREYSCALE_IMAGE, RGB_IMAGE) and pydicom-data (US1_UNCR),
pydicom's own test files.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import ClassVar, cast

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

import dcmexport.mask.presets as presets
from dcmexport.errors import BurnedInError, DcmexportError, PresetError
from dcmexport.mask.plan import _PLAN_MEMO, NOT_PLAN_OPTIONS, PLAN_INPUTS, plan_key, plan_masks
from dcmexport.mask.presets import MaskPreset, read_mask_file
from dcmexport.options import MaskOptions, MaskRect, OcrCheck, RedactText
from tests.conftest import deid_data_files, pydicom_test_files
from tests.maskdata import FLAGS, NO_PRESETS, deid_us, pydicom_data, roundtrip, synthetic


class TestPlanMasks:
    def test_yes_without_rule_refused_with_flags_and_no_phi(self) -> None:
        ds = synthetic("CT", BurnedInAnnotation="YES")
        with pytest.raises(BurnedInError) as info:
            plan_masks(ds, MaskOptions(), label="case-007")
        message = str(info.value)
        assert message.startswith("case-007:")
        assert "(0028,0301) BurnedInAnnotation is YES" in message
        for flag in FLAGS:
            assert flag in message
        assert "Planted" not in message and "Secret" not in message and "\n" not in message

    def test_us_with_regions_not_refused(self) -> None:
        plan = plan_masks(
            pydicom.dcmread(deid_us("GREYSCALE_IMAGE.dcm"), stop_before_pixels=True), NO_PRESETS
        )
        assert plan.keep == ((14, 38, 1011, 759),)

    def test_real_us_without_regions_refused_then_user_mask(self) -> None:
        ds = pydicom.dcmread(pydicom_data("US1_UNCR.dcm"), stop_before_pixels=True)
        with pytest.raises(BurnedInError, match="Modality is US"):
            plan_masks(ds, MaskOptions())
        plan = plan_masks(ds, MaskOptions(rects=(MaskRect(0, 0, 640, 110), MaskRect(-100, -30, 100, 30))))
        assert plan.blank == ((0, 0, 640, 110), (540, 450, 640, 480)) and plan.sources == ("user",)

    def test_sc_without_mask_refused(self) -> None:
        ds = synthetic("OT", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")
        with pytest.raises(BurnedInError, match="--accept-burned-in"):
            plan_masks(ds, MaskOptions())

    def test_accept_burned_in_allows_and_keeps_masks(self) -> None:
        ds = synthetic("OT", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")
        assert plan_masks(ds, MaskOptions(accept_burned_in=True)).is_empty
        plan = plan_masks(ds, MaskOptions(accept_burned_in=True, rects=(MaskRect(0, 0, 8, 8),)))
        assert plan.blank == ((0, 0, 8, 8),)

    def test_preset_counts_as_coverage(self) -> None:
        ds = synthetic("US", 768, 1024, Manufacturer="SIEMENS", ManufacturerModelName="S2000")
        plan = plan_masks(ds, MaskOptions())
        assert plan.sources == ("preset:us-siemens-s2000-768-1024",)
        assert plan.blank == ((0, 0, 1024, 60),)
        with pytest.raises(BurnedInError):
            plan_masks(ds, MaskOptions(use_presets=False))

    def test_us_regions_off_and_forced(self) -> None:
        ds = pydicom.dcmread(deid_us("GREYSCALE_IMAGE.dcm"), stop_before_pixels=True)
        with pytest.raises(BurnedInError):
            plan_masks(ds, MaskOptions(use_presets=False, us_regions=False))
        ds.Modality = "OT"  # regions still honoured when asked for explicitly
        assert plan_masks(ds, MaskOptions(use_presets=False, us_regions=True)).keep

    def test_mask_file_union_with_user(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4], [-10, -4, 10, 4]]\n")
        assert read_mask_file(mask_file) == (MaskRect(0, 0, 10, 4), MaskRect(-10, -4, 10, 4))
        ds = synthetic("CT", 64, 80, BurnedInAnnotation="YES")
        plan = plan_masks(
            ds, MaskOptions(rects=(MaskRect(0, 0, 10, 4), MaskRect(20, 20, 5, 5)), mask_file=mask_file)
        )
        assert plan.blank == ((0, 0, 10, 4), (20, 20, 25, 25), (70, 60, 80, 64))
        assert plan.sources == ("user", "mask-file")

    def test_memo_gives_what_a_fresh_plan_gives(self) -> None:
        # plan_masks reuses a plan for an object whose deciding elements are byte-identical
        # (dcmexport.mask.plan.PLAN_INPUTS); it must never give a plan a fresh computation would not.
        sources = [deid_us(n) for n in ("RGB_IMAGE.dcm", "GREYSCALE_IMAGE.dcm")]
        sources += [pydicom_data("US1_UNCR.dcm"), Path(str(get_testdata_file("CT_small.dcm")))]
        options = [MaskOptions(), NO_PRESETS, MaskOptions(accept_burned_in=True),
                   MaskOptions(rects=(MaskRect(0, 0, 8, 8),), us_regions=False)]

        def outcome(ds: Dataset, opts: MaskOptions) -> object:
            try:
                return plan_masks(ds, opts)
            except BurnedInError as exc:
                return str(exc)

        for source in sources:
            for opts in options:
                _PLAN_MEMO.clear()
                fresh = outcome(pydicom.dcmread(source, stop_before_pixels=True), opts)
                again = [outcome(pydicom.dcmread(source, stop_before_pixels=True), opts) for _ in range(2)]
                assert again == [fresh, fresh], (source.name, opts)

    def test_memo_keyed_by_every_deciding_element(self) -> None:
        def s2000(**attrs: object) -> Dataset:  # read back from bytes: its elements are raw, as in a run
            attrs = {"Manufacturer": "SIEMENS", "ManufacturerModelName": "S2000", **attrs}
            return roundtrip(synthetic("US", 768, 1024, **attrs))

        plan = plan_masks(s2000(), MaskOptions())
        assert plan.sources == ("preset:us-siemens-s2000-768-1024",)
        assert plan_masks(s2000(PatientName="Someone^Else"), MaskOptions()) is plan  # not deciding: reused
        assert plan_masks(s2000(ManufacturerModelName="ACUSON Sequoia"), MaskOptions(accept_burned_in=True)).is_empty
        assert plan_masks(s2000(), MaskOptions(rects=(MaskRect(0, 0, 8, 8),))).sources == (
            "preset:us-siemens-s2000-768-1024", "user")
        for _ in range(2):  # refusals are never memoised
            with pytest.raises(BurnedInError, match="Modality is US"):
                plan_masks(s2000(ManufacturerModelName="ACUSON Sequoia"), MaskOptions())
        with pytest.raises(BurnedInError, match="BurnedInAnnotation is YES"):
            plan_masks(s2000(Modality="CT", BurnedInAnnotation="YES"), MaskOptions())

    def test_memo_never_loads_the_library_when_presets_are_off(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def broken() -> tuple[MaskPreset, ...]:
            raise PresetError("presets/masks: broken library")

        ds = roundtrip(synthetic("CT", 64, 80))
        monkeypatch.setattr(presets, "default_mask_presets", broken)
        assert plan_masks(ds, MaskOptions(use_presets=False, rects=(MaskRect(0, 0, 4, 4),))).sources == ("user",)
        with pytest.raises(PresetError):
            plan_masks(ds, MaskOptions())

    def test_memo_is_registered_and_cleared_with_the_others(self) -> None:
        from dcmexport.memo import clear_memos, memo_sizes

        plan_masks(roundtrip(synthetic("CT", 64, 80)), MaskOptions(rects=(MaskRect(0, 0, 4, 4),)))
        assert memo_sizes()["mask plans"] >= 1
        clear_memos()
        assert memo_sizes()["mask plans"] == 0

    def test_no_memo_for_mask_file_or_sequences_read_eagerly(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4]]\n")
        ds = roundtrip(synthetic("CT", 64, 80, BurnedInAnnotation="YES"))
        assert plan_key(ds, MaskOptions()) is not None
        assert plan_key(ds, MaskOptions(mask_file=mask_file)) is None
        assert plan_masks(ds, MaskOptions(mask_file=mask_file)).blank == ((0, 0, 10, 4),)
        mask_file.write_text("rects = [[0, 0, 20, 4]]\n")  # edited between two calls: read again
        assert plan_masks(ds, MaskOptions(mask_file=mask_file)).blank == ((0, 0, 20, 4),)
        # deid-data's ultrasound regions are undefined-length sequences, read eagerly: no record
        us = pydicom.dcmread(deid_us("GREYSCALE_IMAGE.dcm"), stop_before_pixels=True)
        assert plan_key(us, MaskOptions()) is None

    def test_bad_mask_file(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "m.toml"
        mask_file.write_text("rect = [[0, 0, 1, 1]]\n")
        with pytest.raises(PresetError, match=r"m\.toml.*'rect'"):
            read_mask_file(mask_file)
        mask_file.write_text('rects = [[0, 0, "a", 1]]\n')
        with pytest.raises(PresetError, match=r"rects\[0\]"):
            read_mask_file(mask_file)


# --------------------------------------------------------------------------- the declaration the memo key derives from


def declared_options() -> set[str]:
    return {name for source in PLAN_INPUTS for name in source.options}


def header_options() -> set[str]:
    """The options of the sources :func:`plan_masks` runs (those reading pixels run per object, later)."""
    return {name for source in PLAN_INPUTS if not source.pixels for name in source.options}


def declared_tags() -> set[int]:
    tags = {tag_for_keyword(keyword) for source in PLAN_INPUTS for keyword in source.attributes}
    assert None not in tags
    return {int(tag) for tag in tags if tag is not None}


EVERYTHING = -1  # recorded when the elements of a dataset are enumerated: every tag read


class RecordingDict(dict):  # type: ignore[type-arg]
    """A Dataset's element store that records every tag looked up (``Dataset._dict``, test-only)."""

    def __init__(self, elements: dict[int, object], reads: set[int]) -> None:
        super().__init__(elements)
        self.reads = reads

    def __getitem__(self, tag: object) -> object:
        self.reads.add(int(tag))  # type: ignore[call-overload]
        return super().__getitem__(tag)

    def get(self, tag: object, default: object = None) -> object:
        self.reads.add(int(tag))  # type: ignore[call-overload]
        return super().get(tag, default)

    def __contains__(self, tag: object) -> bool:
        self.reads.add(int(tag))  # type: ignore[call-overload]
        return super().__contains__(tag)

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.reads.add(EVERYTHING)
        return super().__iter__()

    def keys(self):  # type: ignore[no-untyped-def]
        self.reads.add(EVERYTHING)
        return super().keys()

    def items(self):  # type: ignore[no-untyped-def]
        self.reads.add(EVERYTHING)
        return super().items()

    def values(self):  # type: ignore[no-untyped-def]
        self.reads.add(EVERYTHING)
        return super().values()


def record_reads(ds: Dataset) -> tuple[set[int], set[int]]:
    """Make ``ds`` (and its file meta) record the tags read from now on; returns (body reads, meta reads)."""
    body: set[int] = set()
    meta: set[int] = set()
    object.__setattr__(ds, "_dict", RecordingDict(ds._dict, body))
    file_meta = ds.get("file_meta")
    if file_meta is not None:
        object.__setattr__(file_meta, "_dict", RecordingDict(file_meta._dict, meta))
    return body, meta


class RecordingOptions:
    """Wraps MaskOptions and records the fields read."""

    def __init__(self, options: MaskOptions, reads: set[str]) -> None:
        self._options = options
        self._reads = reads

    def __getattr__(self, name: str) -> object:
        self._reads.add(name)
        return getattr(self._options, name)


def plan_or_refusal(ds: Dataset, options: MaskOptions) -> object:
    try:
        return plan_masks(ds, options)
    except DcmexportError as exc:  # a refusal or a damaged header reads attributes too
        return type(exc).__name__


class TestPlanInputs:
    def test_every_option_is_declared_or_listed_as_not_planning(self) -> None:
        # A new MaskOptions field must say whether plans depend on it: adding one to
        # neither list (or to both) fails here.
        every = {spec.name for spec in fields(MaskOptions)}
        assert declared_options() | NOT_PLAN_OPTIONS == every
        assert declared_options() & NOT_PLAN_OPTIONS == set()
        assert {source.name for source in PLAN_INPUTS} >= {"presets", "us-regions", "user", "mask-file", "refusal",
                                                            "ocr-redact"}
        assert [source.name for source in PLAN_INPUTS if source.pixels] == ["ocr-redact"]

    def test_planning_reads_only_declared_attributes_and_options(self, tmp_path: Path) -> None:
        """Record every tag and option read while plan_masks runs on real files: all must be declared.

        (0008,0005) SpecificCharacterSet never shows here: pydicom reads it while parsing
        (``original_character_set``) and decodes every string with it, so it is declared anyway.
        """
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4]]\n")
        option_sets = [
            MaskOptions(), NO_PRESETS, MaskOptions(us_regions=True), MaskOptions(us_regions=False),
            MaskOptions(accept_burned_in=True, rects=(MaskRect(-10, -10, 5, 5),)), MaskOptions(mask_file=mask_file),
        ]  # fmt: skip
        paths = [*deid_data_files(), *pydicom_test_files()]
        body_tags = {t for t in declared_tags() if t >> 16 != 0x0002}
        meta_tags = {t for t in declared_tags() if t >> 16 == 0x0002}
        all_body: set[int] = set()
        all_options: set[str] = set()
        planned = 0
        for path in paths:
            for options in option_sets:
                try:
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
                except Exception:  # not every pydicom test file is a readable object
                    continue
                body, meta = record_reads(ds)
                read_options: set[str] = set()
                recording = cast(MaskOptions, RecordingOptions(options, read_options))
                _PLAN_MEMO.clear()
                fresh = plan_or_refusal(ds, recording)
                assert plan_or_refusal(ds, recording) == fresh  # the second time from the memo, if keyed
                where = (path.name, options)
                assert body <= body_tags, (where, sorted(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in body - body_tags))
                assert meta <= meta_tags, (where, sorted(hex(t) for t in meta - meta_tags))
                assert read_options <= header_options(), (where, read_options - header_options())
                all_body |= body
                all_options |= read_options
                planned += 1
        assert planned > 300  # the files were really planned
        for keyword in ("Rows", "Columns", "Modality", "SequenceOfUltrasoundRegions", "BurnedInAnnotation"):
            assert tag_for_keyword(keyword) in all_body, keyword
        assert all_options == header_options()

    # Two values for every declared attribute; a new declared attribute needs a line here.
    BASE: ClassVar[dict[str, object]] = {
        "Rows": 64, "Columns": 80, "SpecificCharacterSet": "ISO_IR 100", "Modality": "US",
        "Manufacturer": "SIEMENS", "ManufacturerModelName": "S2000", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.6.1",
        "ImageType": ["ORIGINAL", "PRIMARY"], "SeriesDescription": "abdomen", "BurnedInAnnotation": "YES",
        "ImplementationVersionName": "DCMEXPORT_TEST", "PixelRepresentation": 0,
    }  # fmt: skip
    OTHER: ClassVar[dict[str, object]] = {
        "Rows": 65, "Columns": 81, "SpecificCharacterSet": "ISO_IR 192", "Modality": "OT",
        "Manufacturer": "PHILIPS", "ManufacturerModelName": "EPIQ 7G", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.7",
        "ImageType": ["DERIVED", "SECONDARY"], "SeriesDescription": "ABDOMEN", "BurnedInAnnotation": "NO",
        "ImplementationVersionName": "OTHER_TOOL_2", "PixelRepresentation": 1,
    }  # fmt: skip

    @staticmethod
    def region(max_x1: int) -> Dataset:
        item = Dataset()
        item.RegionSpatialFormat = 1
        item.RegionLocationMinX0, item.RegionLocationMinY0 = 2, 3
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = max_x1, 40
        return item

    def dataset(self, **changed: object) -> Dataset:
        """A dataset with every declared attribute, read back from bytes (raw elements, as in a run)."""
        values = {**self.BASE, **changed}
        ds = synthetic(str(values.pop("Modality")), int(values.pop("Rows")), int(values.pop("Columns")))  # type: ignore[call-overload]
        ds.file_meta.ImplementationVersionName = values.pop("ImplementationVersionName")
        regions = values.pop("SequenceOfUltrasoundRegions", [self.region(50)])
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.SequenceOfUltrasoundRegions = regions
        return roundtrip(ds)

    def test_changing_any_declared_attribute_changes_the_key(self) -> None:
        other = {**self.OTHER, "SequenceOfUltrasoundRegions": [self.region(60)]}
        declared = {keyword for source in PLAN_INPUTS for keyword in source.attributes}
        assert declared == set(other), "give every declared attribute a second value in this test"
        base = plan_key(self.dataset(), MaskOptions())
        assert base is not None and plan_key(self.dataset(), MaskOptions()) == base
        assert plan_key(self.dataset(PatientName="Other^Name", StudyDescription="x"), MaskOptions()) == base
        for keyword, value in other.items():
            assert plan_key(self.dataset(**{keyword: value}), MaskOptions()) != base, keyword

    def test_changing_any_declared_option_changes_the_key(self, tmp_path: Path) -> None:
        other = {
            "use_presets": False, "us_regions": False, "rects": (MaskRect(0, 0, 4, 4),),
            "accept_burned_in": True, "mask_file": tmp_path / "m.toml", "file_rects": (MaskRect(1, 1, 2, 2),),
            "redact_text": RedactText.ALL,
        }  # fmt: skip
        assert set(other) == header_options(), "give every declared option a second value in this test"
        ds = self.dataset()
        base = plan_key(ds, MaskOptions())
        assert base is not None
        for name, value in other.items():
            assert plan_key(ds, replace(MaskOptions(), **{name: value})) != base, name  # type: ignore[arg-type]
        assert plan_key(ds, MaskOptions(mask_file=tmp_path / "m.toml")) is None  # read afresh each time
        # The checks after masking do not change a plan: it is reused across them.
        assert plan_key(ds, MaskOptions(ocr_check=OcrCheck.STRICT, ocr_all_frames=True)) == base
        # Nor do the options only a pixel source reads (its boxes are added per object, never memoised).
        assert plan_key(ds, MaskOptions(ocr_step=3, ocr_all_frames=True)) == base


# --------------------------------------------------------------------------- user masks and the refusal (issue #19 item 9)


class TestUserMasksThatCoverNothing:
    """A user rectangle outside the image masks nothing: it is noted and never counts as coverage."""

    OUTSIDE = (MaskRect(5000, 5000, 10, 10), MaskRect(640, 0, 1, 1), MaskRect(0, -481, 1, 1))

    @pytest.mark.parametrize("rect", OUTSIDE, ids=["far", "1px-right", "1px-above"])
    def test_outside_mask_does_not_lift_the_refusal(self, rect: MaskRect) -> None:
        ds = pydicom.dcmread(pydicom_data("US1_UNCR.dcm"), stop_before_pixels=True)  # US, 640x480, no regions
        with pytest.raises(BurnedInError) as info:
            plan_masks(ds, MaskOptions(rects=(rect,)), label="case-007")
        message = str(info.value)
        where = f"{rect.x},{rect.y},{rect.width},{rect.height}"
        assert f"--mask {where} lies outside the 640x480 image" in message
        assert message.startswith("case-007:") and "Modality is US" in message and "\n" not in message
        for flag in FLAGS:
            assert flag in message

    def test_a_real_mask_still_lifts_it_and_the_outside_one_is_noted(self) -> None:
        ds = pydicom.dcmread(pydicom_data("US1_UNCR.dcm"), stop_before_pixels=True)
        plan = plan_masks(ds, MaskOptions(rects=(MaskRect(0, 0, 640, 60),)))
        assert plan.blank == ((0, 0, 640, 60),) and plan.sources == ("user",) and plan.notes == ()
        plan = plan_masks(ds, MaskOptions(rects=(MaskRect(5000, 5000, 10, 10), MaskRect(-1, -1, 5, 5))))
        assert plan.blank == ((639, 479, 640, 480),) and plan.sources == ("user",)  # partly inside: covers
        assert plan.notes == (
            "--mask 5000,5000,10,10 lies outside the 640x480 image: it masks nothing "
            "and does not count as covering burned-in text",
        )

    def test_mask_file_rectangle_outside_is_noted(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4], [100, 0, 10, 4]]\n")
        plan = plan_masks(synthetic("CT", 64, 80, BurnedInAnnotation="YES"), MaskOptions(mask_file=mask_file))
        assert plan.blank == ((0, 0, 10, 4),) and plan.sources == ("mask-file",)
        assert plan.notes == (
            "--mask-file rectangle 100,0,10,4 lies outside the 80x64 image: it masks nothing "
            "and does not count as covering burned-in text",
        )
        mask_file.write_text("rects = [[100, 0, 10, 4]]\n")
        with pytest.raises(BurnedInError, match=r"--mask-file rectangle 100,0,10,4 lies outside the 80x64 image"):
            plan_masks(synthetic("CT", 64, 80, BurnedInAnnotation="YES"), MaskOptions(mask_file=mask_file))

    def test_object_not_suspect_gets_the_note_and_no_masking(self) -> None:
        plan = plan_masks(synthetic("CT", 64, 80), MaskOptions(rects=(MaskRect(5000, 5000, 10, 10),)))
        assert plan.is_empty and plan.notes[0].startswith("--mask 5000,5000,10,10 lies outside the 80x64 image")
        assert "Planted" not in plan.notes[0]

    def test_export_and_deid_report_it(self, tmp_path: Path) -> None:
        from dcmexport import api
        from dcmexport.deid import Key

        key = Key(b"mask-outside-test-key-0123456789")
        us = pydicom_data("US1_UNCR.dcm")
        ct = Path(str(get_testdata_file("CT_small.dcm")))
        outside = ["5000,5000,10,10"]
        for run in (api.export, api.deidentify):
            refused = run([us], tmp_path / run.__name__ / "us", key=key, masks=outside).results[0]
            assert refused.status == "refused" and not refused.outputs
            assert "--mask 5000,5000,10,10 lies outside the 640x480 image" in str(refused.reason)
            written = run([ct], tmp_path / run.__name__ / "ct", key=key, masks=outside).results[0]
            assert written.status == "written"
            assert any(n.startswith("--mask 5000,5000,10,10 lies outside the 128x128 image") for n in written.notes)
            masked = run([us], tmp_path / run.__name__ / "us2", key=key, masks=["0,0,640,60"]).results[0]
            assert masked.status == "written" and "masked: blank 1 rectangle (from user)" in masked.notes
