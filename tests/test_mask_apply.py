"""Masking a DICOM's Pixel Data (dcmexport.mask.apply): real compressed, palette and greyscale files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from dcmexport.errors import BurnedInError
from dcmexport.mask.apply import apply_plan_to_dataset
from dcmexport.mask.rects import MaskPlan
from tests.maskdata import deid_us, pydicom_data, roundtrip, synthetic


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
