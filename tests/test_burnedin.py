"""Burned-in text handling on datasets: presets, ultrasound regions, refusal, masking Pixel Data.

Real files: deid-data ultrasounds (GREYSCALE_IMAGE, RGB_IMAGE, ultrasound-multiframe and the
two cine archives, unzipped into a temporary folder) and pydicom-data (US1_UNCR, US1_J2KR,
OBXXXX1A, gdcm-US-ALOKA-16).
"""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dcmexport.burnedin import (
    _PLAN_MEMO,
    MaskMatch,
    MaskPreset,
    _plan_key,
    apply_plan_to_dataset,
    load_mask_presets,
    match_mask_presets,
    may_carry_burned_in,
    plan_masks,
    read_mask_file,
    read_mask_presets_file,
    us_regions_from_dataset,
)
from dcmexport.errors import BurnedInError, PresetError
from dcmexport.mask import MaskPlan, keep_mask
from dcmexport.options import MaskOptions, MaskRect
from dcmexport.textdetect import find_text_like_rows

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path("/work/shared/reference")
FLAGS = ("--mask X,Y,W,H", "--mask-file", "--accept-burned-in")
NO_PRESETS = MaskOptions(use_presets=False)


# --------------------------------------------------------------------------- helpers


def deid_us(name: str) -> Path:
    deid_data = pytest.importorskip("deid_data")
    path = Path(deid_data.__file__).parent / "data" / "ultrasounds" / name
    if not path.is_file():
        pytest.skip(f"deid-data lacks {name}")
    return path


def pydicom_data(name: str) -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    if found is None:
        pytest.skip(f"pydicom-data lacks {name}")
    return Path(str(found))


@pytest.fixture(scope="module")
def cines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """RGB_CINE.dcm and GREYSCALE_CINE.dcm unzipped from deid-data into a temporary folder."""
    out: dict[str, Path] = {}
    target = tmp_path_factory.mktemp("cines")
    for stem in ("RGB_CINE", "GREYSCALE_CINE"):
        with zipfile.ZipFile(deid_us(f"{stem}.zip")) as zf:
            zf.extractall(target / stem)
        out[stem] = next((target / stem).rglob("*.dcm"))
    return out


def synthetic(
    modality: str = "CT",
    rows: int = 64,
    columns: int = 80,
    *,
    photometric: str = "MONOCHROME2",
    **attrs: object,
) -> Dataset:
    """A small uncompressed single-frame dataset; PatientName is a planted PHI value."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "Planted^Secret"
    ds.Modality = modality
    samples = 3 if photometric == "RGB" else 1
    shape = (rows, columns, 3) if samples == 3 else (rows, columns)
    arr = (np.arange(int(np.prod(shape))) % 200 + 20).astype(np.uint8).reshape(shape)
    ds.set_pixel_data(arr, photometric, 8, generate_instance_uid=False)
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def roundtrip(ds: Dataset) -> Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf)


def frames_of(ds: Dataset) -> np.ndarray:
    """All frames as (frames, rows, columns[, samples]), RGB for colour."""
    arr = ds.pixel_array
    single = arr.ndim == (2 if int(ds.SamplesPerPixel) == 1 else 3)
    return arr[np.newaxis] if single else arr


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_mask_presets", REPO / "scripts" / "gen_mask_presets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- presets


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
            "dcmexport.burnedin.iter_preset_files", lambda sub: sorted(tmp_path.glob("*.toml"))
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


# --------------------------------------------------------------------------- regions


class TestUsRegionsFromDataset:
    def test_inclusive_max_and_spatial_format_zero_skipped(self) -> None:
        # gdcm-US-ALOKA-16: two 2D regions side by side and one waveform-free graphics region (format 0).
        ds = pydicom.dcmread(pydicom_data("gdcm-US-ALOKA-16.dcm"), stop_before_pixels=True)
        assert us_regions_from_dataset(ds) == ((32, 24, 336, 416), (336, 24, 640, 416))

    def test_clipped_and_garbage_ignored(self) -> None:
        ds = synthetic("US", 100, 120)
        good, garbage, none_fmt = Dataset(), Dataset(), Dataset()
        good.RegionSpatialFormat = 1
        good.RegionLocationMinX0, good.RegionLocationMinY0 = 10, 5
        good.RegionLocationMaxX1, good.RegionLocationMaxY1 = 500, 60
        garbage.RegionSpatialFormat = 1  # no location at all
        none_fmt.RegionSpatialFormat = 0
        none_fmt.RegionLocationMinX0 = none_fmt.RegionLocationMinY0 = 0
        none_fmt.RegionLocationMaxX1 = none_fmt.RegionLocationMaxY1 = 99
        ds.SequenceOfUltrasoundRegions = [good, garbage, none_fmt]
        assert us_regions_from_dataset(ds) == ((10, 5, 120, 61),)

    def test_none_without_sequence(self) -> None:
        assert us_regions_from_dataset(synthetic("US")) == ()


# ultrasound-multiframe.dcm was already cropped upstream: all its annotations (parameters,
# heart rate) lie inside the region rectangle, so there is no outside text to find.
REGION_FILES = [("GREYSCALE_IMAGE.dcm", True), ("RGB_IMAGE.dcm", True), ("ultrasound-multiframe.dcm", False)]


def _check_region_masking(path: Path, text_outside: bool = True) -> None:
    original = pydicom.dcmread(path)
    before = frames_of(original)
    plan = plan_masks(original, NO_PRESETS)
    assert plan.keep and plan.keep == us_regions_from_dataset(original) and plan.sources == ("us-regions",)
    rows, columns = before.shape[1:3]
    inside = keep_mask(plan.keep, rows, columns)
    # There is text outside the regions before masking (the cheap detector sees it)...
    assert bool(find_text_like_rows(before[0], plan.keep)) is text_outside

    apply_plan_to_dataset(original, plan)
    after = frames_of(roundtrip(original))
    assert after.shape == before.shape
    # ...the sector is pixel-identical on every frame and everything outside is black.
    np.testing.assert_array_equal(after[:, inside], before[:, inside])
    assert not after[:, ~inside].any()
    assert find_text_like_rows(after[0], plan.keep) == []
    assert find_text_like_rows(after[-1], plan.keep) == []


class TestRealUltrasoundRegions:
    @pytest.mark.parametrize(("name", "text_outside"), REGION_FILES)
    def test_deid_data_files(self, name: str, text_outside: bool) -> None:
        _check_region_masking(deid_us(name), text_outside)

    @pytest.mark.parametrize("stem", ["RGB_CINE", "GREYSCALE_CINE"])
    def test_deid_data_cines(self, cines: dict[str, Path], stem: str) -> None:
        _check_region_masking(cines[stem])

    def test_pydicom_data_palette(self) -> None:
        _check_region_masking(pydicom_data("OBXXXX1A.dcm"))


# --------------------------------------------------------------------------- refusal


class TestMayCarryBurnedIn:
    @pytest.mark.parametrize("modality", ["US", "SC", "XA", "RF", "ES", "OT"])
    def test_text_prone_modalities(self, modality: str) -> None:
        reason = may_carry_burned_in(synthetic(modality))
        assert reason is not None and "(0008,0060)" in reason

    def test_yes_always_and_no_clears(self) -> None:
        assert "(0028,0301)" in str(may_carry_burned_in(synthetic("CT", BurnedInAnnotation="YES")))
        assert may_carry_burned_in(synthetic("US", BurnedInAnnotation="NO")) is None
        assert may_carry_burned_in(synthetic("CT")) is None

    def test_secondary_capture_classes(self) -> None:
        for uid in ("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.4"):
            reason = may_carry_burned_in(synthetic("CT", SOPClassUID=uid))
            assert reason is not None and "(0008,0016)" in reason and uid not in reason


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
        # (burnedin._plan_key); it must never give a plan a fresh computation would not.
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
                _PLAN_MEMO[1].clear()
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
        import dcmexport.burnedin as burnedin

        def broken() -> tuple[MaskPreset, ...]:
            raise PresetError("presets/masks: broken library")

        ds = roundtrip(synthetic("CT", 64, 80))
        monkeypatch.setattr(burnedin, "_default_presets", broken)
        assert plan_masks(ds, MaskOptions(use_presets=False, rects=(MaskRect(0, 0, 4, 4),))).sources == ("user",)
        with pytest.raises(PresetError):
            plan_masks(ds, MaskOptions())

    def test_no_memo_for_mask_file_or_sequences_read_eagerly(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4]]\n")
        ds = roundtrip(synthetic("CT", 64, 80, BurnedInAnnotation="YES"))
        assert _plan_key(ds, MaskOptions()) is not None
        assert _plan_key(ds, MaskOptions(mask_file=mask_file)) is None
        assert plan_masks(ds, MaskOptions(mask_file=mask_file)).blank == ((0, 0, 10, 4),)
        mask_file.write_text("rects = [[0, 0, 20, 4]]\n")  # edited between two calls: read again
        assert plan_masks(ds, MaskOptions(mask_file=mask_file)).blank == ((0, 0, 20, 4),)
        # deid-data's ultrasound regions are undefined-length sequences, read eagerly: no record
        us = pydicom.dcmread(deid_us("GREYSCALE_IMAGE.dcm"), stop_before_pixels=True)
        assert _plan_key(us, MaskOptions()) is None

    def test_bad_mask_file(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "m.toml"
        mask_file.write_text("rect = [[0, 0, 1, 1]]\n")
        with pytest.raises(PresetError, match=r"m\.toml.*'rect'"):
            read_mask_file(mask_file)
        mask_file.write_text('rects = [[0, 0, "a", 1]]\n')
        with pytest.raises(PresetError, match=r"rects\[0\]"):
            read_mask_file(mask_file)


# --------------------------------------------------------------------------- Pixel Data


class TestApplyPlanToDataset:
    def test_real_us_greyscale_roundtrip(self) -> None:
        ds = pydicom.dcmread(deid_us("GREYSCALE_IMAGE.dcm"))
        assert ds.BurnedInAnnotation == "YES"
        before = ds.pixel_array.copy()
        plan = MaskPlan(blank=((0, 0, 1024, 38),), sources=("user",))
        apply_plan_to_dataset(ds, plan)
        out = roundtrip(ds)
        assert out.BurnedInAnnotation == "YES"  # a rectangle does not make it NO: the marking decides (deid.marking)
        assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        after = out.pixel_array
        assert before[:38].any() and not after[:38].any()
        np.testing.assert_array_equal(after[38:], before[38:])

    def test_compressed_ybr_becomes_rgb(self) -> None:
        ds = pydicom.dcmread(pydicom_data("US1_J2KR.dcm"))
        assert ds.PhotometricInterpretation == "YBR_RCT"
        before = ds.pixel_array.copy()
        uid = ds.SOPInstanceUID
        apply_plan_to_dataset(ds, MaskPlan(blank=((0, 0, 640, 110),)))
        out = roundtrip(ds)
        assert out.PhotometricInterpretation == "RGB" and out.PlanarConfiguration == 0
        assert out.SOPInstanceUID == uid  # UIDs are de-identification's business
        assert not out.pixel_array[:110].any()
        np.testing.assert_array_equal(out.pixel_array[110:], before[110:])

    def test_palette_fill_is_darkest_entry(self) -> None:
        from pydicom.pixels import apply_color_lut

        ds = pydicom.dcmread(pydicom_data("OBXXXX1A.dcm"))
        apply_plan_to_dataset(ds, MaskPlan(blank=((0, 0, 10, 10),)))
        out = roundtrip(ds)
        fill = out.pixel_array[0, 0]
        rgb = apply_color_lut(out.pixel_array, out)
        assert out.PhotometricInterpretation == "PALETTE COLOR"
        assert (out.pixel_array[:10, :10] == fill).all()
        assert int(rgb[0, 0].sum()) == int(rgb.reshape(-1, rgb.shape[-1]).sum(axis=1).min())

    def test_monochrome1_fills_max(self) -> None:
        ds = synthetic("CR", photometric="MONOCHROME1")
        apply_plan_to_dataset(ds, MaskPlan(blank=((0, 0, 4, 4),)))
        assert (roundtrip(ds).pixel_array[:4, :4] == 255).all()

    def test_empty_plan_leaves_dataset(self) -> None:
        ds = synthetic("US", BurnedInAnnotation="YES")
        data = ds.PixelData
        apply_plan_to_dataset(ds, MaskPlan())
        assert ds.PixelData == data and ds.BurnedInAnnotation == "YES"

    def test_big_endian_refused(self) -> None:
        from pydicom.data import get_testdata_file

        ds = pydicom.dcmread(get_testdata_file("MR_small_bigendian.dcm"))
        with pytest.raises(BurnedInError, match="big-endian"):
            apply_plan_to_dataset(ds, MaskPlan(blank=((0, 0, 4, 4),)))
