"""Tests for dcmexport.render.timing: frame rate rules of PS3.3 C.7.6.5 / C.7.6.6."""

from __future__ import annotations

import math
import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian

from dcmexport.errors import UsageError
from dcmexport.render.timing import DEFAULT_FPS, MAX_FPS, MIN_FPS, FrameRate, frame_rate_from_dataset

FRAME_TIME = Tag(0x0018, 0x1063)
FRAME_TIME_VECTOR = Tag(0x0018, 0x1065)
CINE_RATE = Tag(0x0018, 0x0040)
RECOMMENDED = Tag(0x0008, 0x2144)
TAGS = {"FrameTime": (FRAME_TIME, "DS"), "FrameTimeVector": (FRAME_TIME_VECTOR, "DS"),
        "CineRate": (CINE_RATE, "IS"), "RecommendedDisplayFrameRate": (RECOMMENDED, "IS")}  # fmt: skip


def raw_dataset(**values: str) -> Dataset:
    """A dataset whose timing attributes hold the given *raw* strings, as read from a file.

    Raw elements are converted lazily on access, exactly like a dcmread of a
    damaged file, so garbage such as 'ab.c' can be planted.
    """
    ds = Dataset()
    for keyword, text in values.items():
        tag, vr = TAGS[keyword]
        raw = text.encode("ascii")
        if len(raw) % 2:
            raw += b" "
        ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, True, True)
    return ds


def rate(ds: Dataset, override: float | None = None) -> FrameRate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the planted invalid values
        return frame_rate_from_dataset(ds, override)


class TestFrameRateFromDataset:
    def test_frame_time_is_milliseconds_per_frame(self) -> None:
        assert rate(raw_dataset(FrameTime="40")) == FrameRate(25.0, "FrameTime")
        assert rate(raw_dataset(FrameTime="80")) == FrameRate(12.5, "FrameTime")
        result = rate(raw_dataset(FrameTime="33"))
        assert result.source == "FrameTime"
        assert result.fps == pytest.approx(1000 / 33)

    def test_frame_time_vector_mean_after_first_entry(self) -> None:
        # entries after the leading 0: 30, 50 -> mean 40 ms -> 25 fps
        assert rate(raw_dataset(FrameTimeVector="0\\30\\50")) == FrameRate(25.0, "FrameTimeVector")

    def test_frame_time_vector_ignores_non_positive_and_unparsable_entries(self) -> None:
        # 40, 40 remain after dropping 0, -5 and 'xx' -> 25 fps
        result = rate(raw_dataset(FrameTimeVector="0\\40\\0\\-5\\xx\\40"))
        assert result == FrameRate(25.0, "FrameTimeVector")

    def test_frame_time_vector_first_entry_is_not_counted(self) -> None:
        # a non-zero first entry (100) must not pull the mean: 1000/20 = 50 fps
        assert rate(raw_dataset(FrameTimeVector="100\\20\\20")).fps == pytest.approx(50.0)

    def test_frame_time_vector_with_only_one_entry_is_unusable(self) -> None:
        assert rate(raw_dataset(FrameTimeVector="40", CineRate="15")) == FrameRate(15.0, "CineRate")

    def test_cine_rate(self) -> None:
        assert rate(raw_dataset(CineRate="30")) == FrameRate(30.0, "CineRate")

    def test_recommended_display_frame_rate(self) -> None:
        assert rate(raw_dataset(RecommendedDisplayFrameRate="15")) == FrameRate(
            15.0, "RecommendedDisplayFrameRate"
        )

    def test_precedence_order(self) -> None:
        every = {
            "FrameTime": "40",
            "FrameTimeVector": "0\\50",
            "CineRate": "30",
            "RecommendedDisplayFrameRate": "15",
        }
        assert rate(raw_dataset(**every)).source == "FrameTime"
        del every["FrameTime"]
        assert rate(raw_dataset(**every)) == FrameRate(20.0, "FrameTimeVector")
        del every["FrameTimeVector"]
        assert rate(raw_dataset(**every)) == FrameRate(30.0, "CineRate")
        del every["CineRate"]
        assert rate(raw_dataset(**every)) == FrameRate(15.0, "RecommendedDisplayFrameRate")

    def test_frame_increment_pointer_to_vector_promotes_it(self) -> None:
        ds = raw_dataset(FrameTime="40", FrameTimeVector="0\\50\\50")
        ds.FrameIncrementPointer = FRAME_TIME_VECTOR
        assert rate(ds) == FrameRate(20.0, "FrameTimeVector")
        ds.FrameIncrementPointer = FRAME_TIME
        assert rate(ds) == FrameRate(25.0, "FrameTime")

    def test_nothing_recorded_gives_default(self) -> None:
        assert rate(Dataset()) == FrameRate(DEFAULT_FPS, "default")
        assert DEFAULT_FPS == 10.0

    @pytest.mark.parametrize("garbage", ["ab.c", "0", "-40", "0.0", "nan", "inf", "1e999", " "])
    def test_garbage_frame_time_is_skipped(self, garbage: str) -> None:
        assert rate(raw_dataset(FrameTime=garbage, CineRate="24")) == FrameRate(24.0, "CineRate")
        assert rate(raw_dataset(FrameTime=garbage)) == FrameRate(DEFAULT_FPS, "default")

    @pytest.mark.parametrize("garbage", ["abc", "0", "-3", "1.5e"])
    def test_garbage_rates_are_skipped(self, garbage: str) -> None:
        ds = raw_dataset(CineRate=garbage, RecommendedDisplayFrameRate="12")
        assert rate(ds) == FrameRate(12.0, "RecommendedDisplayFrameRate")

    def test_multi_valued_frame_time_is_malformed(self) -> None:
        assert rate(raw_dataset(FrameTime="40\\50", CineRate="5")) == FrameRate(5.0, "CineRate")

    def test_out_of_range_candidate_yields_to_a_sane_one(self) -> None:
        # 0.001 ms per frame = 1e6 fps is implausible; Cine Rate is used instead
        assert rate(raw_dataset(FrameTime="0.001", CineRate="30")) == FrameRate(30.0, "CineRate")

    def test_out_of_range_alone_is_clamped(self) -> None:
        assert rate(raw_dataset(FrameTime="0.001")) == FrameRate(MAX_FPS, "FrameTime")
        assert rate(raw_dataset(CineRate="1000")) == FrameRate(MAX_FPS, "CineRate")
        assert rate(raw_dataset(FrameTime="1000000")) == FrameRate(MIN_FPS, "FrameTime")
        assert (MIN_FPS, MAX_FPS) == (0.1, 240.0)

    def test_override_wins(self) -> None:
        ds = raw_dataset(FrameTime="40", CineRate="30")
        assert rate(ds, 12.5) == FrameRate(12.5, "--fps")
        assert rate(Dataset(), 7) == FrameRate(7.0, "--fps")

    @pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, 1000.0, 0.01])
    def test_bad_override_is_a_usage_error(self, bad: float) -> None:
        with pytest.raises(UsageError, match="--fps"):
            frame_rate_from_dataset(Dataset(), bad)

    def test_garbage_survives_a_real_write_and_read(self, tmp_path: Path) -> None:
        # Plant a damaged Frame Time through real file bytes, not only in memory.
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.FrameTime = "12345678"  # placeholder of the same length as the garbage
        ds.CineRate = "25"
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=False)
        damaged = buffer.getvalue().replace(b"12345678", b"x1.2.3!!")
        path = tmp_path / "damaged.dcm"
        path.write_bytes(damaged)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read = pydicom.dcmread(path, force=True)
        assert rate(read) == FrameRate(25.0, "CineRate")

    def test_real_file_frame_time(self) -> None:
        # pydicom's examples_ybr_color.dcm: 30 frames, Frame Time 33.333 ms
        path = get_testdata_file("examples_ybr_color.dcm")
        assert isinstance(path, str)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        result = frame_rate_from_dataset(ds)
        assert result.source == "FrameTime"
        assert result.fps == pytest.approx(1000 / 33.333)

    def test_real_ultrasound_prefers_frame_time_over_cine_rate(self) -> None:
        # deid-data ultrasound: Frame Time 54.241 ms (18.44 fps) and Cine Rate 18;
        # Frame Increment Pointer names Frame Time, which therefore wins.
        data = pytest.importorskip("deid_data")
        path = Path(data.__file__).parent / "data" / "ultrasounds" / "ultrasound-multiframe.dcm"
        if not path.exists():
            pytest.skip("deid-data ultrasound-multiframe.dcm not installed")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        result = frame_rate_from_dataset(ds)
        assert result.source == "FrameTime"
        assert result.fps == pytest.approx(1000 / 54.241)
