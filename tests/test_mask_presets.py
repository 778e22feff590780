"""Mask presets (dcmexport.mask.presets): the shipped library, its schema, matching on real and synthetic headers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pydicom
import pytest

from dcmexport.errors import PresetError
from dcmexport.mask.presets import (
    MaskMatch,
    MaskPreset,
    load_mask_presets,
    match_mask_presets,
    read_mask_presets_file,
)
from dcmexport.options import MaskRect
from tests.maskdata import REFERENCE, REPO, deid_us, pydicom_data, synthetic


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_mask_presets", REPO / "scripts" / "gen_mask_presets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module



class TestLoadMaskPresets:
    def test_library_loads_and_matches_generator_report(self) -> None:
        if not (REFERENCE / "burned-in-regions-ctp.script").is_file():
            pytest.skip("reference copies not available")
        files, report = load_generator().build(REFERENCE)
        presets = load_mask_presets()
        assert len(presets) == report.written == sum(report.files.values())
        assert report.written == 127 and report.skipped_rules == 30  # as recorded in presets/masks/README.md
        assert report.ctp_rules == 52
        # The generated files on disk are exactly what the script produces now (not stale).
        for name, text in files.items():
            assert (REPO / "presets" / "masks" / name).read_text(encoding="utf-8") == text, name
        assert all(p.rects and not p.match.is_empty for p in presets)
        assert len({p.name for p in presets}) == len(presets)

    def test_generated_headers_cite_sources(self) -> None:
        for path in sorted((REPO / "presets" / "masks").glob("*.toml")):
            head = path.read_text(encoding="utf-8")[:800]
            assert "867f8933de7ce99a035a32639261a3af72ae91e0" in head, path.name
            assert "91326d041682454b13ed79a5e0eb4fe99166cb36" in head, path.name

    def test_invalid_file_names_file_and_key(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.toml"
        bad.write_text(
            '[[rule]]\nname = "x"\nrects = [[0, 0, 10, 10]]\n[rule.match]\nmodel = ["A"]\ncolour = ["red"]\n'
        )
        with pytest.raises(PresetError, match=r"bad\.toml.*match\.colour"):
            read_mask_presets_file(bad)
        bad.write_text('[[rule]]\nname = "x"\nrects = [[0, 0, 0, 10]]\n[rule.match]\nmodel = ["A"]\n')
        with pytest.raises(PresetError, match=r"bad\.toml.*rects\[0\].*positive"):
            read_mask_presets_file(bad)
        bad.write_text('[[rule]]\nname = "x"\nrects = [[0, 0, 5, 10]]\n')
        with pytest.raises(PresetError, match=r"match"):
            read_mask_presets_file(bad)

    def test_duplicate_names_across_files(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        rule = '[[rule]]\nname = "same"\nrects = [[0, 0, 5, 5]]\n[rule.match]\nrows = [5]\n'
        (tmp_path / "a.toml").write_text(rule)
        (tmp_path / "b.toml").write_text(rule)
        monkeypatch.setattr(
            "dcmexport.mask.presets.iter_preset_files", lambda sub: sorted(tmp_path.glob("*.toml"))
        )
        with pytest.raises(PresetError, match=r"b\.toml.*same.*duplicate"):
            load_mask_presets()


class TestMatchMaskPresets:
    PRESETS = [
        MaskPreset(
            "epiq-768",
            "test",
            MaskMatch(modality=("US",), manufacturer=("Philips",), model=("EPIQ",), rows=(768,)),
            (MaskRect(0, 0, 1024, 49),),
        ),
        MaskPreset("dose", "test", MaskMatch(image_type=("DOSE",)), (MaskRect(0, 0, 512, 135),)),
    ]

    def test_match_on_all_keys_case_insensitive(self) -> None:
        ds = synthetic(
            "US", 768, 1024, Manufacturer="PHILIPS Medical Systems", ManufacturerModelName="epiq 5G"
        )
        assert [p.name for p in match_mask_presets(ds, self.PRESETS)] == ["epiq-768"]

    def test_one_condition_failing_means_no_match(self) -> None:
        assert (
            match_mask_presets(
                synthetic("US", 600, 800, Manufacturer="Philips", ManufacturerModelName="EPIQ 7G"),
                self.PRESETS,
            )
            == []
        )
        assert (
            match_mask_presets(
                synthetic("CT", 768, 1024, Manufacturer="Philips", ManufacturerModelName="EPIQ 7G"),
                self.PRESETS,
            )
            == []
        )
        # absent attribute never matches
        assert (
            match_mask_presets(synthetic("US", 768, 1024, ManufacturerModelName="EPIQ 7G"), self.PRESETS)
            == []
        )

    def test_multivalued_image_type(self) -> None:
        ds = synthetic("CT", ImageType=["DERIVED", "SECONDARY", "DOSE_INFO"])
        assert [p.name for p in match_mask_presets(ds, self.PRESETS)] == ["dose"]

    def test_shipped_library_on_real_files(self) -> None:
        # RGB_IMAGE.dcm is a Siemens S2000 768 x 1024 screen: CTP/deid's S2000 rule applies.
        ds = pydicom.dcmread(deid_us("RGB_IMAGE.dcm"), stop_before_pixels=True)
        assert [p.name for p in match_mask_presets(ds)] == ["us-siemens-s2000-768-1024"]
        # US1_UNCR (GE LOGIQ 700, 480 x 640) has no rule.
        assert (
            match_mask_presets(pydicom.dcmread(pydicom_data("US1_UNCR.dcm"), stop_before_pixels=True)) == []
        )
