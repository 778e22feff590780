"""Tests for tests/samplegen (the synthetic-object generator), scripts/make_samples.py and the committed samples/ folder."""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
)

from dcmexport.errors import UsageError
from tests import samplegen as samples

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SCRIPT = REPO / "scripts" / "make_samples.py"

# Small objects keep the file fast; the factories are exercised at sample size by TestSamplesDir.
FACTORIES: dict[str, Callable[..., Dataset]] = {
    "ct": samples.make_ct,
    "mr": samples.make_mr,
    "cr": samples.make_cr_mono1,
    "us_rgb": lambda **kw: samples.make_us_rgb_cine(frames=3, **kw),
    "us_gray": lambda **kw: samples.make_us_gray_cine(frames=3, **kw),
    "us_rgb_rle": lambda **kw: samples.make_us_rgb_cine(frames=3, compress=True, **kw),
}

# Type 1 (present, non-empty) and Type 2 (present) attributes of each IOD that the
# generator promises (PS3.3 A.2, A.3, A.4, A.7 and the modules they reference).
COMMON_TYPE1 = [
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PixelData",
]  # fmt: skip
COMMON_TYPE2 = [
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "SeriesNumber", "Manufacturer",
    "InstanceNumber",
]  # fmt: skip
IOD_TYPE1 = {
    "ct": ["ImageType", "RescaleIntercept", "RescaleSlope", "FrameOfReferenceUID", "PixelSpacing",
           "ImageOrientationPatient", "ImagePositionPatient"],
    "mr": ["ImageType", "ScanningSequence", "SequenceVariant", "FrameOfReferenceUID", "PixelSpacing",
           "ImageOrientationPatient", "ImagePositionPatient"],
    "cr": [],
    "us_rgb": ["NumberOfFrames", "FrameIncrementPointer", "FrameTime", "PlanarConfiguration"],
    "us_gray": ["NumberOfFrames", "CineRate"],
}  # fmt: skip
IOD_TYPE2 = {
    "ct": ["KVP", "AcquisitionNumber", "PositionReferenceIndicator", "SliceThickness", "PatientPosition"],
    "mr": ["ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength", "PositionReferenceIndicator"],
    "cr": ["BodyPartExamined", "ViewPosition", "PatientOrientation"],
    "us_rgb": ["ImageType", "PatientOrientation"],
    "us_gray": ["ImageType", "PatientOrientation"],
}


def _file_bytes(ds: Dataset, tmp_path: Path, name: str = "x.dcm") -> bytes:
    return samples.write_dataset(ds, tmp_path / name).read_bytes()


def _roundtrip(ds: Dataset, tmp_path: Path) -> Dataset:
    return pydicom.dcmread(samples.write_dataset(ds, tmp_path / "rt.dcm"))


@pytest.fixture
def strict() -> Iterator[None]:
    """Make pydicom raise on invalid values while writing and reading (VR length/charset rules)."""
    old = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    config.settings.reading_validation_mode = config.RAISE
    config.settings.writing_validation_mode = config.RAISE
    try:
        yield
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = old


def _touch_all_values(ds: Dataset) -> None:
    for elem in ds.iterall():
        _ = elem.value


class TestUidFromName:
    def test_deterministic_and_distinct(self) -> None:
        # Pinned: the committed samples/ hold UIDs made this way, so any change of the rule shows here.
        assert samples.uid_from_name("a") == "2.25.281544844245879468796343751037911746224"
        assert samples.uid_from_name("a") != samples.uid_from_name("b")

    def test_same_in_a_fresh_interpreter_with_another_hash_seed(self) -> None:
        code = "from tests.samplegen import uid_from_name; print(uid_from_name('a'), uid_from_name('b'))"
        env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=REPO, env=env, timeout=60).stdout.split()
        assert out == [samples.uid_from_name("a"), samples.uid_from_name("b")]

    def test_valid_2_25_uid(self) -> None:
        uid = samples.uid_from_name("anything")
        assert re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", uid)
        assert len(uid) <= 44
        assert UID(uid).is_valid


class TestPlantedPhi:
    def test_returns_a_copy(self) -> None:
        first = samples.planted_phi()
        first["PatientName"] = "CHANGED"
        assert samples.planted_phi()["PatientName"] == "FAKE^PATIENT^SAMPLE"

    def test_values_are_clearly_fake(self) -> None:
        phi = samples.planted_phi()
        assert phi["PatientName"] == "FAKE^PATIENT^SAMPLE"
        assert phi["PatientID"] == "FAKE-ID-0001"
        assert phi["PatientBirthDate"] == "19000101"
        assert phi["InstitutionName"] == "Fake General Hospital"
        # every free-text/name value says FAKE; dates/times are the only exception
        for key, value in phi.items():
            if not (key.endswith("Date") or key.endswith("Time")):
                assert "fake" in value.lower(), key

    @pytest.mark.parametrize("kind", sorted(FACTORIES))
    def test_every_value_is_in_the_written_bytes(self, kind: str, tmp_path: Path) -> None:
        raw = _file_bytes(FACTORIES[kind](), tmp_path)
        for key, value in samples.planted_phi().items():
            assert value.encode("latin-1") in raw, key

    @pytest.mark.parametrize("kind", sorted(FACTORIES))
    def test_private_block_and_nested_sequences(self, kind: str) -> None:
        ds = FACTORIES[kind]()
        phi = samples.planted_phi()
        assert ds[0x0009, 0x0010].value == samples.PRIVATE_CREATOR
        block = ds.private_block(samples.PRIVATE_GROUP, samples.PRIVATE_CREATOR)
        assert block[0x01].VR == "LO"
        assert block[0x01].value == phi["(0009,1001)"]
        assert ds.OtherPatientIDsSequence[0].PatientID == phi["OtherPatientIDsSequence/PatientID"]
        nested_pn = ds.RequestAttributesSequence[0]["RequestingPhysician"]
        assert nested_pn.VR == "PN"
        assert str(nested_pn.value) == phi["RequestAttributesSequence/RequestingPhysician"]

    def test_phi_overrides_and_extends(self, tmp_path: Path) -> None:
        ds = samples.make_ct(
            phi={
                "PatientName": "OTHER^FAKE",
                "PatientComments": "EXTRA FAKE TOKEN",
                "OtherPatientIDsSequence/PatientID": "FAKE-NESTED-9",
                "ReferencedPatientSequence/ReferencedSOPInstanceUID": "2.25.1",
                "(0009,1003)": "FAKE-PRIVATE-EXTRA",
            }
        )
        assert str(ds.PatientName) == "OTHER^FAKE"
        assert ds.PatientComments == "EXTRA FAKE TOKEN"
        assert ds.OtherPatientIDsSequence[0].PatientID == "FAKE-NESTED-9"
        assert ds.ReferencedPatientSequence[0].ReferencedSOPInstanceUID == "2.25.1"
        assert ds.private_block(0x0009, samples.PRIVATE_CREATOR)[0x03].value == "FAKE-PRIVATE-EXTRA"
        raw = _file_bytes(ds, tmp_path)
        assert b"FAKE^PATIENT^SAMPLE" not in raw
        assert b"FAKE-ID-0001" in raw  # the other defaults stay

    @pytest.mark.parametrize("key", ["NotAKeyword", "PatientName/PatientID", "(0011,1001)", "A/B/C"])
    def test_unknown_key_raises(self, key: str) -> None:
        with pytest.raises(UsageError, match="samples: "):
            samples.make_ct(phi={key: "x"})


class TestIodAttributes:
    @pytest.mark.parametrize("kind", ["ct", "mr", "cr", "us_rgb", "us_gray"])
    def test_type1_and_type2_present(self, kind: str, tmp_path: Path, strict: None) -> None:
        ds = _roundtrip(FACTORIES[kind](), tmp_path)
        _touch_all_values(ds)  # strict mode: any invalid value raises here
        for keyword in COMMON_TYPE1 + IOD_TYPE1[kind]:
            assert keyword in ds and ds[keyword].value not in (None, "", b""), keyword
        for keyword in COMMON_TYPE2 + IOD_TYPE2[kind]:
            assert keyword in ds, keyword

    @pytest.mark.parametrize(
        ("kind", "sop_class"),
        [
            ("ct", CTImageStorage),
            ("mr", MRImageStorage),
            ("cr", ComputedRadiographyImageStorage),
            ("us_rgb", UltrasoundMultiFrameImageStorage),
            ("us_gray", UltrasoundMultiFrameImageStorage),
        ],
    )
    def test_part10_file_meta(self, kind: str, sop_class: str, tmp_path: Path) -> None:
        raw = _file_bytes(FACTORIES[kind](), tmp_path)
        assert raw[128:132] == b"DICM"
        ds = pydicom.dcmread(tmp_path / "x.dcm")
        assert ds.SOPClassUID == sop_class
        assert ds.file_meta.MediaStorageSOPClassUID == sop_class
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


class TestDciodvfy:
    """David Clunie's IOD validator (dicom3tools) as an oracle for the committed samples."""

    @pytest.mark.oracle
    @pytest.mark.parametrize("name", [n for n, _ in samples.iter_samples()])
    def test_no_iod_errors(self, name: str) -> None:
        exe = shutil.which("dciodvfy")
        if exe is None:
            pytest.skip("dciodvfy (dicom3tools) not installed")
        result = subprocess.run(
            [exe, "-new", str(SAMPLES / name)], capture_output=True, text=True, timeout=60
        )
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        if name == "us_gray_cine.dcm":
            # The one deliberate deviation: Cine Rate only, no Frame Increment Pointer.
            assert errors and all("FrameIncrementPointer(0028,0009)" in line for line in errors)
        else:
            assert errors == []


class TestMakeCt:
    def test_pixels_shape_dtype(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_ct(rows=48, columns=80), tmp_path)
        arr = ds.pixel_array
        assert arr.shape == (48, 80)
        assert arr.dtype == np.int16
        assert (ds.Rows, ds.Columns, ds.PixelRepresentation, ds.BitsStored) == (48, 80, 1, 16)

    def test_unsigned_option(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_ct(pixel_representation=0, bits_stored=12), tmp_path)
        assert ds.pixel_array.dtype == np.uint16
        assert (ds.PixelRepresentation, ds.BitsStored, ds.HighBit) == (0, 12, 11)

    def test_two_windows_multivalued(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_ct(), tmp_path)
        assert ds["WindowCenter"].VM == 2 and ds["WindowWidth"].VM == 2
        assert [float(v) for v in ds.WindowCenter] == [40.0, -600.0]
        assert [float(v) for v in ds.WindowWidth] == [400.0, 1500.0]
        assert ds["WindowCenterWidthExplanation"].VM == 2

    def test_one_and_no_window(self, tmp_path: Path) -> None:
        one = _roundtrip(samples.make_ct(windows=((50.0, 350.0),)), tmp_path)
        assert one["WindowCenter"].VM == 1 and float(one.WindowCenter) == 50.0
        assert float(one.WindowWidth) == 350.0
        none = samples.make_ct(windows=())
        assert "WindowCenter" not in none and "WindowWidth" not in none

    @pytest.mark.parametrize(("slope", "intercept"), [(1.0, -1024.0), (0.5, -1024.0), (2.0, -2048.0)])
    def test_rescale_gives_phantom_hu(self, slope: float, intercept: float, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_ct(slope=slope, intercept=intercept, noise=0), tmp_path)
        assert float(ds.RescaleSlope) == slope and float(ds.RescaleIntercept) == intercept
        hu = apply_modality_lut(ds.pixel_array, ds)
        assert hu[0, 0] == pytest.approx(-1000.0, abs=abs(slope))  # air corner
        assert hu[32, 6] == pytest.approx(40.0, abs=abs(slope))  # body, left of the lungs
        # stored air value, by hand: (-1000 - intercept) / slope
        assert ds.pixel_array[0, 0] == round((-1000 - intercept) / slope)

    def test_noise_is_bounded(self) -> None:
        hu = apply_modality_lut(samples.make_ct(noise=10).pixel_array, samples.make_ct(noise=10))
        corner = hu[:4, :4]
        assert corner.min() >= -1010 and corner.max() <= -990
        assert len(np.unique(corner)) > 1

    def test_exact_pixels(self, tmp_path: Path) -> None:
        values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
        ds = _roundtrip(samples.make_ct(pixels=values), tmp_path)
        np.testing.assert_array_equal(ds.pixel_array, values)
        assert (ds.Rows, ds.Columns) == (3, 4)

    def test_exact_pixels_out_of_range(self) -> None:
        with pytest.raises(UsageError, match=r"\(0028,0101\) BitsStored 12"):
            samples.make_ct(pixels=np.array([[0, 5000]]), pixel_representation=0, bits_stored=12)
        with pytest.raises(UsageError, match="2 dimensions"):
            samples.make_ct(pixels=np.zeros((2, 2, 2), dtype=np.int16))

    def test_geometry(self) -> None:
        ds = samples.make_ct(rows=4, columns=6, position_z=-12.5, pixel_spacing=(0.5, 0.8))
        assert [float(v) for v in ds.PixelSpacing] == [0.5, 0.8]
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        # centred on the isocentre: x0 = -0.8 * (6-1)/2, y0 = -0.5 * (4-1)/2
        assert [float(v) for v in ds.ImagePositionPatient] == [-2.0, -0.75, -12.5]
        assert float(ds.SliceLocation) == -12.5


class TestMakeMr:
    def test_pixels_and_window(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_mr(), tmp_path)
        arr = ds.pixel_array
        assert arr.shape == (64, 64) and arr.dtype == np.uint16
        assert ds.BitsStored == 12 and int(arr.max()) <= 4095
        assert ds["WindowCenter"].VM == 1 and float(ds.WindowCenter) == 600.0
        assert float(ds.WindowWidth) == 1200.0
        assert "RescaleSlope" not in ds

    def test_exact_pixels(self) -> None:
        values = np.array([[0, 4095], [7, 8]], dtype=np.uint16)
        np.testing.assert_array_equal(samples.make_mr(pixels=values).pixel_array, values)
        with pytest.raises(UsageError):
            samples.make_mr(pixels=np.array([[4096]]))


class TestMakeCrMono1:
    def test_attributes(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_cr_mono1(), tmp_path)
        assert ds.PhotometricInterpretation == "MONOCHROME1"
        assert [float(v) for v in ds.ImagerPixelSpacing] == [0.2, 0.1]
        assert "PixelSpacing" not in ds
        assert ds.pixel_array.shape == (96, 192) and ds.pixel_array.dtype == np.uint16

    def test_mono1_polarity_and_marker(self) -> None:
        arr = samples.make_cr_mono1(noise=0).pixel_array.astype(int)
        background, body, marker = arr[95, 0], arr[48, 40], arr[0, 0]
        # MONOCHROME1: low = white. The marker and "bone" are whiter than the body,
        # the body whiter than the direct-exposure background.
        assert marker < arr[48, 96] < body < background

    def test_disc_is_round_in_millimetres(self) -> None:
        arr = samples.make_cr_mono1(rows=96, columns=192, noise=0).pixel_array
        inside = arr < arr[95, 0]  # anything darker-than-background in stored value terms
        rows_with_disc = np.flatnonzero(inside[:, 20:172].any(axis=1))  # skip the corner marker
        height_mm = (rows_with_disc[-1] - rows_with_disc[0] + 1) * 0.2
        width_mm = inside[48].sum() * 0.1
        assert height_mm == pytest.approx(width_mm, abs=0.4)
        assert inside[48].sum() > 1.5 * len(rows_with_disc)  # but not round in pixels


class TestUsLayout:
    @pytest.mark.parametrize(("rows", "columns"), [(48, 48), (120, 160), (240, 320), (600, 800)])
    def test_banner_above_region_inside_image(self, rows: int, columns: int) -> None:
        layout = samples.us_layout(rows, columns)
        bx0, by0, bx1, by1 = layout.banner
        x0, y0, x1, y1 = layout.region
        assert (bx0, by0, bx1) == (0, 0, columns) and by1 >= 12
        assert by1 <= y0 and 0 <= x0 < x1 < columns and y0 < y1 < rows

    def test_too_small(self) -> None:
        with pytest.raises(UsageError):
            samples.us_layout(40, 160)


class TestMakeUsRgbCine:
    def test_pixels_and_timing(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_us_rgb_cine(), tmp_path)
        assert ds.pixel_array.shape == (12, 120, 160, 3) and ds.pixel_array.dtype == np.uint8
        assert (ds.PhotometricInterpretation, ds.PlanarConfiguration, ds.NumberOfFrames) == ("RGB", 0, 12)
        assert float(ds.FrameTime) == 40.0
        assert ds.FrameIncrementPointer == Tag(0x0018, 0x1063)
        assert "CineRate" not in ds
        assert ds.BurnedInAnnotation == "YES"
        assert float(samples.make_us_rgb_cine(frame_time_ms=33.3, frames=2).FrameTime) == 33.3

    def test_region(self) -> None:
        ds = samples.make_us_rgb_cine(rows=240, columns=320, frames=2)
        (region,) = ds.SequenceOfUltrasoundRegions
        assert region.RegionSpatialFormat == 1
        assert (region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection) == (3, 3)
        assert (region.PhysicalDeltaX, region.PhysicalDeltaY) == (0.03, 0.03)
        box = (region.RegionLocationMinX0, region.RegionLocationMinY0,
               region.RegionLocationMaxX1, region.RegionLocationMaxY1)  # fmt: skip
        assert box == samples.us_layout(240, 320).region

    def test_banner_changes_banner_pixels_only(self) -> None:
        with_text = samples.make_us_rgb_cine().pixel_array
        without = samples.make_us_rgb_cine(banner_text="").pixel_array
        layout = samples.us_layout(120, 160)
        _, _, _, banner_bottom = layout.banner
        x0, y0, x1, y1 = layout.region
        changed = np.any(with_text != without, axis=(0, 3))
        assert changed[:banner_bottom].sum() > 0.05 * banner_bottom * 160  # real glyphs, not a dot
        assert not changed[banner_bottom:].any()
        np.testing.assert_array_equal(
            with_text[:, y0 : y1 + 1, x0 : x1 + 1], without[:, y0 : y1 + 1, x0 : x1 + 1]
        )
        banner = with_text[:, :banner_bottom]
        assert banner.max() == 255 and (banner[..., 0] == banner[..., 2]).all()  # white on black
        assert (without[:, :banner_bottom] == 0).all()

    def test_content_stays_in_region_moves_and_has_colour(self) -> None:
        arr = samples.make_us_rgb_cine(banner_text="").pixel_array
        x0, y0, x1, y1 = samples.us_layout(120, 160).region
        outside = arr.copy()
        outside[:, y0 : y1 + 1, x0 : x1 + 1] = 0
        assert not outside.any()
        assert not np.array_equal(arr[0], arr[1])
        assert (arr[..., 0].astype(int) - arr[..., 1] > 50).any()  # the red "flow" patch

    def test_rle_is_lossless(self, tmp_path: Path) -> None:
        plain = samples.make_us_rgb_cine(frames=4)
        rle = _roundtrip(samples.make_us_rgb_cine(frames=4, compress=True), tmp_path)
        assert rle.file_meta.TransferSyntaxUID == RLELossless
        assert rle.SOPInstanceUID == plain.SOPInstanceUID
        np.testing.assert_array_equal(rle.pixel_array, plain.pixel_array)
        assert (tmp_path / "rt.dcm").stat().st_size < len(plain.PixelData) / 3

    def test_too_few_frames(self) -> None:
        with pytest.raises(UsageError):
            samples.make_us_rgb_cine(frames=1)

    @pytest.mark.oracle
    def test_banner_is_ocr_readable(self) -> None:
        pytesseract = pytest.importorskip("pytesseract")
        if shutil.which("tesseract") is None:
            pytest.skip("tesseract binary not installed")
        from PIL import Image

        ds = samples.make_us_rgb_cine(rows=240, columns=320, frames=2)
        bx0, by0, bx1, by1 = samples.us_layout(240, 320).banner
        text = pytesseract.image_to_string(
            Image.fromarray(ds.pixel_array[0, by0:by1, bx0:bx1]), config="--psm 7"
        )
        assert "FAKE-MRN-0000" in text and "JANE" in text


class TestMakeUsGrayCine:
    def test_pixels_and_timing(self, tmp_path: Path) -> None:
        ds = _roundtrip(samples.make_us_gray_cine(), tmp_path)
        assert ds.pixel_array.shape == (10, 128, 128) and ds.pixel_array.dtype == np.uint8
        assert (ds.PhotometricInterpretation, ds.BitsStored, ds.NumberOfFrames) == ("MONOCHROME2", 8, 10)
        assert ds.CineRate == 15
        assert "FrameTime" not in ds and "FrameIncrementPointer" not in ds and "FrameTimeVector" not in ds
        assert ds.BurnedInAnnotation == "NO"
        assert "SequenceOfUltrasoundRegions" not in ds

    def test_no_text_moves_and_optional_region(self) -> None:
        ds = samples.make_us_gray_cine(cine_rate=25, with_region=True)
        arr = ds.pixel_array
        _, _, _, banner_bottom = samples.us_layout(128, 128).banner
        assert not arr[:, :banner_bottom].any()
        assert not np.array_equal(arr[0], arr[5])
        assert ds.CineRate == 25
        assert ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0 == samples.us_layout(128, 128).region[1]


class TestCompressJpegBaseline:
    @pytest.mark.parametrize(
        ("subsampling", "photometric", "sampling"),
        [("4:4:4", "YBR_FULL", (1, 1)), ("4:2:2", "YBR_FULL_422", (2, 1)), ("4:2:0", "YBR_FULL_422", (2, 2))],
    )
    def test_rgb_frames_become_jpeg_fragments(
        self, subsampling: str, photometric: str, sampling: tuple[int, int], tmp_path: Path
    ) -> None:
        from pydicom.encaps import generate_frames

        from dcmexport.read.jpeg import read_jpeg_header

        ds = samples.make_us_rgb_cine(frames=3)
        original = ds.pixel_array.astype(int)
        samples.compress_jpeg_baseline(ds, subsampling=subsampling, quality=95)
        back = _roundtrip(ds, tmp_path)
        assert back.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
        assert (back.PhotometricInterpretation, back.LossyImageCompression) == (photometric, "01")
        frames = list(generate_frames(back.PixelData, number_of_frames=3))
        assert len(frames) == 3 and read_jpeg_header(frames[0]).chroma_subsampling == sampling
        assert np.abs(back.pixel_array.astype(int) - original).mean() < 3  # lossy, but the same image

    def test_grey_and_refusals(self) -> None:
        grey = samples.make_us_gray_cine(frames=2)
        samples.compress_jpeg_baseline(grey)
        assert grey.PhotometricInterpretation == "MONOCHROME2" and grey.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
        with pytest.raises(UsageError):
            samples.compress_jpeg_baseline(samples.make_ct())  # 16-bit
        with pytest.raises(UsageError):
            samples.compress_jpeg_baseline(samples.make_us_gray_cine(frames=2), subsampling="4:1:1")


class TestMakeCtSeries:
    def test_consistent_series(self) -> None:
        series = samples.make_ct_series(5)
        assert [int(ds.InstanceNumber) for ds in series] == [1, 2, 3, 4, 5]
        assert [float(ds.ImagePositionPatient[2]) for ds in series] == [0.0, 2.5, 5.0, 7.5, 10.0]
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            assert len({ds[keyword].value for ds in series}) == 1, keyword
        assert len({ds.SOPInstanceUID for ds in series}) == 5
        assert series[0].SOPInstanceUID != samples.make_ct().SOPInstanceUID
        assert not np.array_equal(series[0].pixel_array, series[1].pixel_array)

    def test_shuffled_is_deterministic_and_sortable(self) -> None:
        ordered = samples.make_ct_series(6)
        shuffled = samples.make_ct_series(6, shuffled_seed=3)
        again = samples.make_ct_series(6, shuffled_seed=3)
        assert [d.SOPInstanceUID for d in shuffled] == [d.SOPInstanceUID for d in again]
        assert [d.SOPInstanceUID for d in shuffled] != [d.SOPInstanceUID for d in ordered]
        restored = sorted(shuffled, key=lambda d: float(d.ImagePositionPatient[2]))
        assert [d.SOPInstanceUID for d in restored] == [d.SOPInstanceUID for d in ordered]

    def test_explicit_uids(self) -> None:
        series = samples.make_ct_series(2, series_uid="2.25.11", study_uid="2.25.22")
        assert {(d.SeriesInstanceUID, d.StudyInstanceUID) for d in series} == {("2.25.11", "2.25.22")}

    def test_empty(self) -> None:
        with pytest.raises(UsageError):
            samples.make_ct_series(0)


class TestWriteDataset:
    def test_creates_parents_and_returns_path(self, tmp_path: Path) -> None:
        target = tmp_path / "a" / "b" / "ct.dcm"
        assert samples.write_dataset(samples.make_ct(), target) == target
        ds = pydicom.dcmread(target)  # no force: a real Part 10 preamble + meta
        assert ds.file_meta.ImplementationVersionName == "DCMEXPORT_SMPL"


class TestDeterminism:
    @pytest.mark.parametrize("kind", sorted(FACTORIES))
    def test_two_calls_identical_bytes(self, kind: str, tmp_path: Path) -> None:
        first = _file_bytes(FACTORIES[kind](), tmp_path, "1.dcm")
        second = _file_bytes(FACTORIES[kind](), tmp_path, "2.dcm")
        assert first == second

    @pytest.mark.parametrize("kind", ["ct", "mr", "cr"])
    def test_seed_changes_pixels_and_uid(self, kind: str) -> None:
        a, b = FACTORIES[kind](seed=0), FACTORIES[kind](seed=1)
        assert a.PixelData != b.PixelData
        assert a.SOPInstanceUID != b.SOPInstanceUID


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestSamplesDir:
    def test_every_sample_exists_and_decodes(self) -> None:
        for name, _ in samples.iter_samples():
            ds = pydicom.dcmread(SAMPLES / name)
            assert ds.pixel_array.size > 0, name

    def test_matches_generator(self, tmp_path: Path) -> None:
        """Committed samples equal the generator's output.

        Byte for byte where the libraries match; otherwise (a newer Pillow/FreeType
        rasterises the banner font differently) the headers must be identical and the
        pixels identical everywhere outside the text banner.
        """
        written = samples.write_samples(tmp_path)
        for path in written:
            committed = SAMPLES / path.relative_to(tmp_path)
            assert committed.is_file(), committed.name
            if filecmp.cmp(path, committed, shallow=False):
                continue
            new, old = pydicom.dcmread(path), pydicom.dcmread(committed)
            new_px, old_px = new.pixel_array, old.pixel_array
            del new.PixelData, old.PixelData
            assert new == old, f"{committed.name}: header differs; run scripts/make_samples.py"
            if "BurnedInAnnotation" in new and new.BurnedInAnnotation == "YES":
                x0, y0, x1, y1 = samples.us_layout(int(new.Rows), int(new.Columns)).banner
                new_px[..., y0:y1, x0:x1, :] = 0
                old_px[..., y0:y1, x0:x1, :] = 0
            np.testing.assert_array_equal(new_px, old_px, err_msg=f"{committed.name}: run scripts/make_samples.py")

    def test_no_unlisted_files(self) -> None:
        expected = {name for name, _ in samples.iter_samples()} | {"README.md"}
        present = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file()}
        assert present == expected

    def test_total_size_under_5_mb(self) -> None:
        total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
        assert total < 5 * 1024 * 1024

    def test_readme_describes_every_file_and_says_fake(self) -> None:
        readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
        assert readme == samples.render_samples_readme()
        assert "All PHI in these files is fake" in readme
        described = set(samples.SAMPLE_DESCRIPTIONS)
        for name, _ in samples.iter_samples():
            assert name in described or name.split("/")[0] + "/" in described, name
            assert f"`{name.split('/')[0] + '/' if '/' in name else name}`" in readme

    def test_expected_kinds(self) -> None:
        kinds = {
            name: pydicom.dcmread(SAMPLES / name, stop_before_pixels=True)
            for name in samples.SAMPLE_DESCRIPTIONS
            if name.endswith(".dcm")
        }
        assert kinds["ct_two_windows.dcm"]["WindowCenter"].VM == 2
        assert kinds["cr_monochrome1.dcm"].PhotometricInterpretation == "MONOCHROME1"
        assert "FrameTime" in kinds["us_rgb_cine.dcm"] and "FrameTime" not in kinds["us_gray_cine.dcm"]
        assert kinds["us_rgb_cine.dcm"].file_meta.TransferSyntaxUID == RLELossless
        assert kinds["us_rgb_cine.dcm"].PlanarConfiguration == 0
        series = [
            pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((SAMPLES / "ct_series").glob("*.dcm"))
        ]
        file_order = [int(d.InstanceNumber) for d in series]
        assert sorted(file_order) == [1, 2, 3, 4, 5] and file_order != [1, 2, 3, 4, 5]


class TestMakeSamplesScript:
    def test_two_runs_byte_identical(self, tmp_path: Path) -> None:
        for out in ("a", "b"):  # separate processes: catches hash-seed or clock dependence
            result = subprocess.run(
                [sys.executable, str(SCRIPT), "--out", str(tmp_path / out)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
        cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
        names = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()]
        assert len(names) == len(list(samples.iter_samples())) + 1
        assert not cmp.left_only and not cmp.right_only
        for name in names:
            assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name

    def test_check_mode(self, tmp_path: Path) -> None:
        script = _load_script()
        fresh = tmp_path / "fresh"
        samples.write_samples(fresh)
        assert script.main(["--check", "--out", str(fresh)]) == 0
        stale = tmp_path / "stale"
        shutil.copytree(fresh, stale)
        (stale / "mr.dcm").write_bytes(b"not the sample")
        (stale / "ct_series" / "slice_2.dcm").unlink()
        assert script.main(["--check", "--out", str(stale)]) == 1
        assert sorted(script.check_samples(stale)) == ["ct_series/slice_2.dcm", "mr.dcm"]
