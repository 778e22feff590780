"""dcmexport.jpeg: JPEG frame headers read from real files' first frames, and damaged headers."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from dcmexport.jpeg import JpegHeader, JpegMarkerError, iter_jpeg_segments, read_jpeg_header, trim_jpeg_frame
from tests.conftest import data_store_file


def _first_frame(path: Path | str) -> bytes:
    ds = pydicom.dcmread(path)
    return next(iter(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1)))))


class TestReadJpegHeader:
    def test_color3d_baseline_422(self) -> None:
        header = read_jpeg_header(_first_frame(data_store_file("color3d_jpeg_baseline.dcm")))
        assert header == JpegHeader(
            sof=0xC0, precision=8, rows=480, columns=640, component_ids=(1, 2, 3),
            sampling=((2, 1), (1, 1), (1, 1)), adobe_transform=None, tables=True,
        )  # fmt: skip
        assert header.chroma_subsampling == (2, 1) and not header.signals_rgb

    def test_header_says_422_but_jpeg_is_420(self) -> None:
        # examples_ybr_color.dcm: (0028,0004) YBR_FULL_422, yet its JFIF frames are 4:2:0.
        header = read_jpeg_header(_first_frame(get_testdata_file("examples_ybr_color.dcm")))
        assert header.sampling == ((2, 2), (1, 1), (1, 1)) and header.chroma_subsampling == (2, 2)

    def test_rgb_signalled_by_adobe_transform_or_component_ids(self) -> None:
        adobe = read_jpeg_header(_first_frame(get_testdata_file("SC_rgb_jpeg_app14_dcmd.dcm")))
        assert adobe.adobe_transform == 0 and adobe.signals_rgb
        ids = read_jpeg_header(_first_frame(get_testdata_file("SC_rgb_dcmtk_+eb+cr.dcm")))
        assert ids.component_ids == (ord("R"), ord("G"), ord("B")) and ids.signals_rgb

    def test_app14_too_short_for_its_flag(self) -> None:
        # SC_rgb_jpeg.dcm's APP14 "Adobe" segment stops before the transform byte.
        header = read_jpeg_header(_first_frame(get_testdata_file("SC_rgb_jpeg.dcm")))
        assert header.adobe_transform == -1

    def test_extended_12_bit(self) -> None:
        header = read_jpeg_header(_first_frame(get_testdata_file("JPEG-lossy.dcm")))
        assert (header.sof, header.precision, len(header.component_ids)) == (0xC1, 12, 1)
        assert header.chroma_subsampling is None

    def test_lossless_is_sof3(self) -> None:
        header = read_jpeg_header(_first_frame(data_store_file("JPGLosslessP14SV1_1s_1f_8b.dcm")))
        assert header.sof == 0xC3

    def test_tables_missing(self) -> None:
        frame = _first_frame(data_store_file("color3d_jpeg_baseline.dcm"))
        start = frame.index(b"\xff\xdb")
        length = int.from_bytes(frame[start + 2 : start + 4], "big")
        without_dqt = frame[:start] + frame[start + 2 + length :]
        assert not read_jpeg_header(without_dqt).tables

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"\x00\x00\xff\xc0", "SOI"),
            (b"\xff\xd8\xff\xc0\x00\x11\x08", "runs past the end"),
            (b"\xff\xd8\xff\xdb\x00", "cut off"),
            (b"\xff\xd8\xff\xda\x00\x02", "no SOF marker before SOS"),
            (b"\xff\xd8\xff\xdb\x00\x02\xff\xd9", "no SOS marker"),
            (b"\xff\xd8\x12\x34", "expected a marker"),
        ],
    )
    def test_damaged_headers(self, data: bytes, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            read_jpeg_header(data)


class TestIterJpegSegments:
    def test_walks_every_scan_to_eoi(self) -> None:
        frame = _first_frame(data_store_file("color3d_jpeg_baseline.dcm"))
        data = frame + b"trailing"
        segments = list(iter_jpeg_segments(data))
        markers = [s.marker for s in segments]
        assert markers[-1] == 0xD9 and 0xDA in markers and 0xC0 in markers
        assert all(s.complete for s in segments)
        assert data[segments[-1].end:].lstrip(b"\0") == b"trailing"  # EOI ends the walk (DICOM pads to even)

    def test_markers_inside_entropy_data_are_not_segments(self) -> None:
        # SOS, then data holding a stuffed FF00 and a restart marker, then a COM and EOI.
        data = b"\xff\xd8\xff\xda\x00\x02\x12\xff\x00\x34\xff\xd3\x56\xff\xfe\x00\x04hi\xff\xd9"
        assert [(s.marker, s.payload) for s in iter_jpeg_segments(data)] == [
            (0xDA, b""), (0xFE, b"hi"), (0xD9, b"")]

    def test_a_segment_running_past_the_end_is_yielded_incomplete(self) -> None:
        (seg,) = iter_jpeg_segments(b"\xff\xd8\xff\xe1\x00\x10Exif")
        assert seg.marker == 0xE1 and not seg.complete and seg.payload == b"Exif"

    @pytest.mark.parametrize(
        ("data", "cut_off"),
        [(b"\xff\xd8\x12\x34", False), (b"\xff\xd8\xff\xdb\x00", True), (b"\xff\xd8\xff", True)],
    )
    def test_data_or_truncation_where_a_marker_must_be(self, data: bytes, cut_off: bool) -> None:
        with pytest.raises(JpegMarkerError) as info:
            list(iter_jpeg_segments(data))
        assert info.value.cut_off is cut_off and info.value.offset == 2


class TestChromaSubsampling:
    @pytest.mark.parametrize(
        ("sampling", "expected"),
        [
            (((1, 1), (1, 1), (1, 1)), (1, 1)),
            (((2, 1), (1, 1), (1, 1)), (2, 1)),
            (((2, 2), (1, 1), (1, 1)), (2, 2)),
            (((4, 1), (1, 1), (1, 1)), (4, 1)),
            (((3, 1), (2, 1), (2, 1)), None),  # 3/2: no planar format holds it
            (((2, 2), (1, 1), (2, 1)), None),  # Cb and Cr sampled differently
            (((2, 1),), None),  # grey
        ],
    )
    def test_layouts(self, sampling: tuple[tuple[int, int], ...], expected: tuple[int, int] | None) -> None:
        header = JpegHeader(0xC0, 8, 8, 8, tuple(range(1, len(sampling) + 1)), sampling, None, True)
        assert header.chroma_subsampling == expected


class TestTrimJpegFrame:
    def test_removes_dicom_padding(self) -> None:
        assert trim_jpeg_frame(b"\xff\xd8abc\xff\xd9\x00") == b"\xff\xd8abc\xff\xd9"
        assert trim_jpeg_frame(b"\xff\xd8ab\xff\xd9") == b"\xff\xd8ab\xff\xd9"

    def test_no_eoi(self) -> None:
        assert trim_jpeg_frame(b"\xff\xd8abc\x00") is None
        assert trim_jpeg_frame(b"\xff\xd8ab\xff\xd9\xff") is None  # data after EOI
