"""Ultrasound regions (dcmexport.mask.regions): parsing the sequence, and masking real files around them.

Real files: deid-data ultrasounds (GREYSCALE_IMAGE, RGB_IMAGE, ultrasound-multiframe and the
two cine archives, unzipped into a temporary folder) and pydicom-data (OBXXXX1A, gdcm-US-ALOKA-16).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from dcmexport.mask.apply import apply_plan_to_dataset
from dcmexport.mask.detect import find_text_like_rows
from dcmexport.mask.plan import plan_masks
from dcmexport.mask.rects import keep_mask
from dcmexport.mask.regions import us_regions_from_dataset
from tests.maskdata import NO_PRESETS, deid_us, frames_of, pydicom_data, roundtrip, synthetic


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
