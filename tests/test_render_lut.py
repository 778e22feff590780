"""Grayscale maths of dcmexport.render.lut against hand-computed values (PS3.3 C.11)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dcmexport.errors import RenderError
from dcmexport.options import VoiFunction, Window
from dcmexport.render.lut import (
    apply_inversion,
    apply_modality,
    apply_range,
    apply_voi_window,
    rescale_from_dataset,
    stored_value_range,
    to_output_dtype,
    voi_function_from_dataset,
    window_count_from_dataset,
    window_from_dataset,
)


class TestApplyVoiWindowLinear:
    """PS3.3 C.11.2.1.2.1 with center 40, width 400, output 0..255.

    Bottom clamp: x <= c - 0.5 - (w-1)/2 = -160; top clamp: x > c - 0.5 + (w-1)/2 = 239.
    In between: ((x - 39.5) / 399 + 0.5) * 255, so -159 -> 1/399*255 = 0.639.
    """

    def test_hand_values(self) -> None:
        x = np.array([-1000, -160, -159, 40, 238, 239, 240, 5000])
        out = apply_voi_window(x, 40, 400, VoiFunction.LINEAR, 0, 255)
        expected = [0, 0, 1 / 399 * 255, (0.5 / 399 + 0.5) * 255, (198.5 / 399 + 0.5) * 255, 255, 255, 255]
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)
        assert out[3] == pytest.approx(127.8195488)

    def test_custom_output_range(self) -> None:
        out = apply_voi_window(np.array([40.0]), 40, 400, VoiFunction.LINEAR, 10, 20)
        assert out[0] == pytest.approx((0.5 / 399 + 0.5) * 10 + 10)

    def test_width_one_is_a_threshold(self) -> None:
        out = apply_voi_window(np.array([-1.0, 0.0, 0.4, 0.5, 1.0]), 0.5, 1, VoiFunction.LINEAR, 0, 255)
        # lower = upper = c - 0.5 = 0: x <= 0 -> 0, x > 0 -> 255
        assert out.tolist() == [0, 0, 255, 255, 255]

    def test_width_below_one_rejected(self) -> None:
        with pytest.raises(RenderError, match=r"\(0028,1051\) WindowWidth"):
            apply_voi_window(np.zeros(3), 40, 0.5, VoiFunction.LINEAR)

    def test_float32_stays_float32(self) -> None:
        out = apply_voi_window(np.zeros(3, dtype=np.float32), 40, 400)
        assert out.dtype == np.float32


class TestApplyVoiWindowLinearExact:
    """PS3.3 C.11.2.1.3.2: x <= c - w/2 -> 0; x > c + w/2 -> 255; else ((x - c)/w + 0.5) * 255."""

    def test_hand_values(self) -> None:
        x = np.array([-161, -160, -60, 40, 140, 240, 241])
        out = apply_voi_window(x, 40, 400, VoiFunction.LINEAR_EXACT, 0, 255)
        np.testing.assert_allclose(out, [0, 0, 63.75, 127.5, 191.25, 255, 255], atol=1e-9)

    def test_width_zero_rejected(self) -> None:
        with pytest.raises(RenderError, match="LINEAR_EXACT"):
            apply_voi_window(np.zeros(1), 40, 0, VoiFunction.LINEAR_EXACT)


class TestApplyVoiWindowSigmoid:
    """PS3.3 C.11.2.1.3.1: y = 255 / (1 + exp(-4 (x - c) / w))."""

    def test_hand_values(self) -> None:
        x = np.array([-160, 40, 240, -1e6, 1e6])
        out = apply_voi_window(x, 40, 400, VoiFunction.SIGMOID, 0, 255)
        # -160: 255 / (1 + e^2) ; 240: 255 / (1 + e^-2)
        np.testing.assert_allclose(out, [30.39675, 127.5, 224.60325, 0, 255], atol=1e-4)

    def test_no_overflow_warning(self) -> None:
        with np.errstate(all="raise"):
            out = apply_voi_window(np.array([-1e9], dtype=np.float32), 0, 1, VoiFunction.SIGMOID)
        assert out[0] == 0


class TestApplyRange:
    def test_maps_and_clips(self) -> None:
        out = apply_range(np.array([-10, 0, 50, 100, 110]), 0, 100, 255)
        np.testing.assert_allclose(out, [0, 0, 127.5, 255, 255])

    def test_flat_range_is_black(self) -> None:
        assert apply_range(np.array([5, 5]), 5, 5, 255).tolist() == [0, 0]


class TestInversionAndOutput:
    def test_inversion(self) -> None:
        assert apply_inversion(np.array([0.0, 100.0, 255.0]), 255).tolist() == [255, 155, 0]

    def test_to_output_dtype_rounds_and_clips(self) -> None:
        out = to_output_dtype(np.array([-3.0, 0.49, 0.5, 1.5, 254.6, 300.0, np.nan]), 8)
        assert out.dtype == np.uint8
        assert out.tolist() == [0, 0, 0, 2, 255, 255, 0]  # rint: half to even

    def test_to_output_dtype_16(self) -> None:
        out = to_output_dtype(np.array([65534.6, 70000.0]), 16)
        assert out.dtype == np.uint16 and out.tolist() == [65535, 65535]

    def test_bad_depth(self) -> None:
        with pytest.raises(RenderError, match="8 or 16"):
            to_output_dtype(np.zeros(1), 12)


class TestStoredValueRange:
    @pytest.mark.parametrize(
        ("bits", "signed", "expected"),
        [(8, False, (0, 255)), (12, True, (-2048, 2047)), (16, False, (0, 65535)), (1, False, (0, 1))],
    )
    def test_ranges(self, bits: int, signed: bool, expected: tuple[int, int]) -> None:
        assert stored_value_range(bits, signed) == expected

    def test_invalid(self) -> None:
        with pytest.raises(RenderError, match=r"\(0028,0101\) BitsStored"):
            stored_value_range(0, False)


class TestApplyModality:
    def test_rescale(self) -> None:
        ds = Dataset()
        ds.RescaleSlope = 2
        ds.RescaleIntercept = -1000
        out = apply_modality(np.array([0, 520, 1000], dtype=np.int16), ds)
        assert out.tolist() == [-1000, 40, 1000]

    def test_rescale_float32_stays_float32(self) -> None:
        ds = Dataset()
        ds.RescaleSlope = "0.5"
        ds.RescaleIntercept = "10"
        out = apply_modality(np.array([4.0], dtype=np.float32), ds)
        assert out.dtype == np.float32 and out[0] == pytest.approx(12.0)

    def test_identity_without_rescale(self) -> None:
        arr = np.array([1, 2, 3], dtype=np.uint16)
        assert apply_modality(arr, Dataset()) is arr
        assert rescale_from_dataset(Dataset()) == (1.0, 0.0)


class TestWindowFromDataset:
    def _ds(self) -> Dataset:
        ds = Dataset()
        ds.WindowCenter = [40, 400]
        ds.WindowWidth = [400, 2000]
        return ds

    def test_first_and_second(self) -> None:
        ds = self._ds()
        assert window_count_from_dataset(ds) == 2
        assert window_from_dataset(ds) == Window(40, 400, VoiFunction.LINEAR)
        assert window_from_dataset(ds, 1) == Window(400, 2000, VoiFunction.LINEAR)

    def test_single_valued(self) -> None:
        ds = Dataset()
        ds.WindowCenter = "600"
        ds.WindowWidth = "1600"
        assert window_from_dataset(ds) == Window(600, 1600)

    def test_out_of_range_names_tag_and_count(self) -> None:
        with pytest.raises(RenderError, match=r"\(0028,1050\) WindowCenter holds 2 window\(s\)"):
            window_from_dataset(self._ds(), 2)

    def test_none_when_absent(self) -> None:
        assert window_from_dataset(Dataset()) is None
        with pytest.raises(RenderError, match=r"\(0028,1050\) WindowCenter holds 0 windows"):
            window_from_dataset(Dataset(), 1)

    def test_function_read(self) -> None:
        ds = self._ds()
        ds.VOILUTFunction = "SIGMOID"
        assert window_from_dataset(ds).function is VoiFunction.SIGMOID  # type: ignore[union-attr]

    def test_unknown_function(self) -> None:
        ds = self._ds()
        ds.VOILUTFunction = "CUBIC"
        with pytest.raises(RenderError, match=r"Unsupported \(0028,1056\) VOI LUT Function value") as info:
            voi_function_from_dataset(ds)
        assert "CUBIC" not in str(info.value)  # values are never quoted (a CS can hold anything)
