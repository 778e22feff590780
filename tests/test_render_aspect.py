"""Square display pixels: dcmexport.render.aspect."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dcmexport.render import PixelSpacing, apply_aspect, aspect_size, pixel_spacing_from_dataset


def _raw(ds: Dataset, keyword: str, vr: str, value: bytes) -> None:
    """Store a value the way a file would deliver it, bypassing pydicom's validation on assignment."""
    tag = Tag(keyword)
    ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)


def _region(dx: float | None, dy: float | None, ux: int | None = 3, uy: int | None = 3) -> Dataset:
    item = Dataset()
    if dx is not None:
        item.PhysicalDeltaX = dx
    if dy is not None:
        item.PhysicalDeltaY = dy
    if ux is not None:
        item.PhysicalUnitsXDirection = ux
    if uy is not None:
        item.PhysicalUnitsYDirection = uy
    return item


class TestAspectSize:
    def test_coarse_rows_are_enlarged(self) -> None:
        # rows 0.5 mm apart, columns 0.25 mm apart: 100 rows cover 50 mm, 100 columns 25 mm;
        # square 0.25 mm pixels need 200 rows x 100 columns.
        assert aspect_size(100, 100, PixelSpacing(0.5, 0.25, "PixelSpacing")) == (200, 100)

    def test_coarse_columns_are_enlarged(self) -> None:
        assert aspect_size(100, 100, PixelSpacing(0.25, 0.5, "PixelSpacing")) == (100, 200)

    def test_never_shrinks(self) -> None:
        rows, cols = aspect_size(480, 640, PixelSpacing(0.3, 0.2, "x"))
        assert rows >= 480 and cols >= 640
        assert (rows, cols) == (720, 640)

    def test_equal_within_tolerance_unchanged(self) -> None:
        assert aspect_size(100, 120, PixelSpacing(0.5, 0.5004, "x")) == (100, 120)
        assert aspect_size(100, 120, PixelSpacing(0.5, 0.5, "x")) == (100, 120)

    def test_just_outside_tolerance_resamples(self) -> None:
        assert aspect_size(1000, 1000, PixelSpacing(1.01, 1.0, "x")) == (1010, 1000)

    def test_none_and_absurd_unchanged(self) -> None:
        assert aspect_size(64, 64, None) == (64, 64)
        assert aspect_size(64, 64, PixelSpacing(100.0, 1.0, "x")) == (64, 64)
        assert aspect_size(64, 64, PixelSpacing(0.0, 1.0, "x")) == (64, 64)
        assert aspect_size(64, 64, PixelSpacing(float("nan"), 1.0, "x")) == (64, 64)


class TestPixelSpacingFromDataset:
    def test_pixel_spacing_order(self) -> None:
        ds = Dataset()
        ds.PixelSpacing = [0.5, 0.25]
        assert pixel_spacing_from_dataset(ds) == PixelSpacing(0.5, 0.25, "PixelSpacing")

    def test_pixel_spacing_wins_over_imager(self) -> None:
        ds = Dataset()
        ds.ImagerPixelSpacing = [0.2, 0.1]
        assert pixel_spacing_from_dataset(ds) == PixelSpacing(0.2, 0.1, "ImagerPixelSpacing")
        ds.PixelSpacing = [0.3, 0.3]
        assert pixel_spacing_from_dataset(ds) == PixelSpacing(0.3, 0.3, "PixelSpacing")

    def test_pixel_aspect_ratio_is_vertical_over_horizontal(self) -> None:
        ds = Dataset()
        ds.PixelAspectRatio = [2, 1]  # pixels twice as tall as wide
        sp = pixel_spacing_from_dataset(ds)
        assert sp == PixelSpacing(2.0, 1.0, "PixelAspectRatio", physical=False)
        assert aspect_size(10, 10, sp) == (20, 10)

    def test_us_regions_first_spatial_item(self) -> None:
        ds = Dataset()
        ds.SequenceOfUltrasoundRegions = [
            _region(0.0, 0.02),  # zero delta: skipped
            _region(0.01, 5.0, ux=4, uy=7),  # Doppler spectrum (s, cm/s): skipped
            _region(0.02, 0.04),
            _region(0.05, 0.05),
        ]
        # cm in the regions, reported in mm like Pixel Spacing
        assert pixel_spacing_from_dataset(ds) == PixelSpacing(0.4, 0.2, "SequenceOfUltrasoundRegions")

    def test_us_regions_missing_delta(self) -> None:
        ds = Dataset()
        ds.SequenceOfUltrasoundRegions = [_region(0.02, None)]
        assert pixel_spacing_from_dataset(ds) is None

    def test_enhanced_pixel_measures(self) -> None:
        ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"), stop_before_pixels=True)
        sp = pixel_spacing_from_dataset(ds)
        assert sp is not None and sp.source == "PixelSpacing"
        assert sp.row == pytest.approx(0.388672)

    @pytest.mark.parametrize(
        "raw",
        [b"abc\\1 ", b"0\\0 ", b"-1\\1 ", b"0.5 ", b"nan\\1 ", b"1\\2\\3 ", b""],
    )
    def test_garbage_is_none(self, raw: bytes) -> None:
        ds = Dataset()
        _raw(ds, "PixelSpacing", "DS", raw)
        assert pixel_spacing_from_dataset(ds) is None

    def test_garbage_falls_through_to_next_source(self) -> None:
        ds = Dataset()
        _raw(ds, "PixelSpacing", "DS", b"abc\\1 ")
        ds.PixelAspectRatio = [4, 3]
        assert pixel_spacing_from_dataset(ds) == PixelSpacing(4.0, 3.0, "PixelAspectRatio", physical=False)

    def test_real_zero_spacing_file(self) -> None:
        path = get_testdata_file("RG1_UNCI.dcm")
        if path is None:
            pytest.skip("RG1_UNCI.dcm not in pydicom-data")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert pixel_spacing_from_dataset(ds) is None  # PixelSpacing is 0\0 there

    def test_real_pixel_aspect_ratio_file(self) -> None:
        path = get_testdata_file("color-pl.dcm")
        if path is None:
            pytest.skip("color-pl.dcm not in pydicom-data")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        sp = pixel_spacing_from_dataset(ds)
        assert sp == PixelSpacing(4.0, 3.0, "PixelAspectRatio", physical=False)
        assert aspect_size(ds.Rows, ds.Columns, sp) == (160, 256)


class TestApplyAspect:
    def test_rows_only_keeps_each_row(self) -> None:
        # Varies along columns only: stretching rows must reproduce every row exactly.
        img = np.tile((np.arange(100) * 2).astype(np.uint8), (50, 1))
        out = apply_aspect(img, 100, 100)
        assert out.shape == (100, 100) and out.dtype == np.uint8
        assert np.array_equal(out, np.tile(img[0], (100, 1)))

    def test_uint16_keeps_dtype_and_range(self) -> None:
        img = np.zeros((40, 40), dtype=np.uint16)
        img[:, 20:] = 65535  # a hard edge: Lanczos overshoots, output must clip
        out = apply_aspect(img, 40, 80)
        assert out.shape == (40, 80) and out.dtype == np.uint16
        assert out[:, :30].max() <= 65535 and out[:, -10:].min() == 65535 and out[:, :10].max() == 0

    def test_rgb(self) -> None:
        img = np.zeros((30, 20, 3), dtype=np.uint8)
        img[..., 1] = 200
        out = apply_aspect(img, 60, 20)
        assert out.shape == (60, 20, 3) and out.dtype == np.uint8
        assert (out[..., 1] == 200).all() and (out[..., 0] == 0).all()

    def test_same_size_is_identity(self) -> None:
        img = np.ones((5, 5), dtype=np.uint8)
        assert apply_aspect(img, 5, 5) is img
