"""Tests for dcmexport.encode.still: write-then-read round trips and absence of metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, PngImagePlugin

from dcmexport.encode import write_still
from dcmexport.errors import EncodeError, UnsupportedError, UsageError
from dcmexport.options import OutputFormat

RNG = np.random.default_rng(20240601)
GREY8 = RNG.integers(0, 256, (37, 53), dtype=np.uint8)  # odd sizes on purpose
GREY16 = RNG.integers(0, 65536, (37, 53), dtype=np.uint16)
RGB8 = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
# JPEG is lossy: compare on smooth content, where quality 95 is near exact.
_yy, _xx = np.mgrid[0:64, 0:96]
SMOOTH_GREY = ((_xx * 2 + _yy) % 256).astype(np.uint8)
SMOOTH_RGB = np.stack([_xx * 2, _yy * 3, 255 - _xx * 2], axis=-1).clip(0, 255).astype(np.uint8)


def read_pil(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


class TestWriteStill:
    @pytest.mark.parametrize("image", [GREY8, GREY16, RGB8], ids=["grey8", "grey16", "rgb8"])
    def test_png_round_trip_is_exact(self, tmp_path: Path, image: np.ndarray) -> None:
        path = tmp_path / "out.png"
        write_still(path, image, OutputFormat.PNG)
        back = read_pil(path)
        assert back.shape == image.shape
        assert back.dtype == image.dtype  # 16-bit stays 16-bit
        np.testing.assert_array_equal(back, image)

    @pytest.mark.parametrize("image", [GREY8, GREY16, RGB8], ids=["grey8", "grey16", "rgb8"])
    def test_tiff_round_trip_is_exact_and_deflated(self, tmp_path: Path, image: np.ndarray) -> None:
        path = tmp_path / "out.tiff"
        write_still(path, image, OutputFormat.TIFF)
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            back = page.asarray()
            assert page.compression in (tifffile.COMPRESSION.ADOBE_DEFLATE, tifffile.COMPRESSION.DEFLATE)
            assert page.bitspersample == image.dtype.itemsize * 8
            assert page.photometric == (
                tifffile.PHOTOMETRIC.RGB if image.ndim == 3 else tifffile.PHOTOMETRIC.MINISBLACK
            )
        assert back.dtype == image.dtype
        np.testing.assert_array_equal(back, image)

    @pytest.mark.parametrize("image", [SMOOTH_GREY, SMOOTH_RGB], ids=["grey", "rgb"])
    def test_jpg_round_trip_within_tolerance(self, tmp_path: Path, image: np.ndarray) -> None:
        path = tmp_path / "out.jpg"
        write_still(path, image, OutputFormat.JPG, quality=95)
        back = read_pil(path).astype(int)
        assert back.shape == image.shape
        error = np.abs(back - image.astype(int))
        assert error.mean() < 1.5
        assert error.max() <= 12

    def test_jpg_quality_changes_the_file(self, tmp_path: Path) -> None:
        write_still(tmp_path / "q95.jpg", RGB8, OutputFormat.JPG, quality=95)
        write_still(tmp_path / "q30.jpg", RGB8, OutputFormat.JPG, quality=30)
        assert (tmp_path / "q30.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size

    def test_jpg_16_bit_is_refused_with_a_hint(self, tmp_path: Path) -> None:
        with pytest.raises(EncodeError, match="--bit-depth 8"):
            write_still(tmp_path / "x.jpg", GREY16, OutputFormat.JPG)
        assert not (tmp_path / "x.jpg").exists()

    @pytest.mark.parametrize("quality", [0, 101])
    def test_jpg_quality_out_of_range(self, tmp_path: Path, quality: int) -> None:
        with pytest.raises(UsageError):
            write_still(tmp_path / "x.jpg", GREY8, OutputFormat.JPG, quality=quality)

    def test_tiff_dpi_written_as_inch_resolution(self, tmp_path: Path) -> None:
        path = tmp_path / "out.tiff"
        write_still(path, GREY16, OutputFormat.TIFF, dpi=(254.0, 127.0))
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages.first.tags
            x_num, x_den = tags["XResolution"].value
            y_num, y_den = tags["YResolution"].value
            assert x_num / x_den == pytest.approx(254.0)
            assert y_num / y_den == pytest.approx(127.0)
            assert tags["ResolutionUnit"].value == tifffile.RESUNIT.INCH

    def test_png_and_jpg_dpi(self, tmp_path: Path) -> None:
        write_still(tmp_path / "a.png", GREY8, OutputFormat.PNG, dpi=(300.0, 150.0))
        write_still(tmp_path / "a.jpg", GREY8, OutputFormat.JPG, dpi=(300.0, 150.0))
        with Image.open(tmp_path / "a.png") as im:
            # pHYs stores whole pixels per metre: 150 dpi = 5905.5/m -> 5906/m = 150.012 dpi
            assert im.info["dpi"] == pytest.approx((300.0, 150.0), abs=0.0254 / 2)
        with Image.open(tmp_path / "a.jpg") as im:
            assert im.info["dpi"] == pytest.approx((300.0, 150.0), abs=0.01)

    def test_format_comes_from_fmt_not_suffix(self, tmp_path: Path) -> None:
        path = tmp_path / "out.png.part"  # the orchestrator's temporary name
        write_still(path, RGB8, OutputFormat.TIFF)
        assert path.read_bytes()[:4] in (b"II*\x00", b"MM\x00*")
        write_still(path, RGB8, OutputFormat.PNG)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        write_still(path, RGB8, OutputFormat.JPG)
        assert path.read_bytes()[:2] == b"\xff\xd8"


class TestNoMetadata:
    def test_png_has_no_text_or_exif_chunks(self, tmp_path: Path) -> None:
        path = tmp_path / "out.png"
        write_still(path, GREY16, OutputFormat.PNG, dpi=(96.0, 96.0))
        with Image.open(path) as im:
            assert isinstance(im, PngImagePlugin.PngImageFile)
            assert im.text == {}
            assert "exif" not in im.info and "icc_profile" not in im.info
        chunk_types = _png_chunk_types(path.read_bytes())
        assert set(chunk_types) <= {b"IHDR", b"pHYs", b"IDAT", b"IEND"}
        assert not {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} & set(chunk_types)

    def test_jpg_has_no_exif_icc_or_comment(self, tmp_path: Path) -> None:
        path = tmp_path / "out.jpg"
        write_still(path, RGB8, OutputFormat.JPG)
        with Image.open(path) as im:
            assert not {"exif", "icc_profile", "comment", "xmp"} & set(im.info)
            assert im.getexif() == {}
        data = path.read_bytes()
        assert b"Exif" not in data and b"\xff\xfe" not in data[: data.index(b"\xff\xda")]  # no COM segment

    @pytest.mark.parametrize("image", [GREY8, RGB8], ids=["grey", "rgb"])
    def test_tiff_has_no_description_software_or_datetime(self, tmp_path: Path, image: np.ndarray) -> None:
        path = tmp_path / "out.tiff"
        write_still(path, image, OutputFormat.TIFF, dpi=(72.0, 72.0))
        with tifffile.TiffFile(path) as tif:
            names = {tag.name for tag in tif.pages.first.tags}
            assert len(tif.pages) == 1
        assert not {"ImageDescription", "Software", "DateTime", "Artist", "HostComputer"} & names
        assert b"shape" not in path.read_bytes()  # tifffile's JSON description is absent


class TestInputChecks:
    @pytest.mark.parametrize(
        "image",
        [
            np.zeros((4, 4), np.float32),
            np.zeros((4, 4), np.int16),
            np.zeros((4, 4, 4), np.uint8),
            np.zeros((4,), np.uint8),
            np.zeros((4, 4, 3), np.uint16),
            np.zeros((0, 4), np.uint8),
        ],
        ids=["float", "int16", "rgba", "1d", "rgb16", "empty"],
    )
    def test_bad_arrays_are_refused(self, tmp_path: Path, image: np.ndarray) -> None:
        with pytest.raises(EncodeError):
            write_still(tmp_path / "x.png", image, OutputFormat.PNG)
        assert not (tmp_path / "x.png").exists()

    def test_video_format_is_not_a_still(self, tmp_path: Path) -> None:
        with pytest.raises(UnsupportedError):
            write_still(tmp_path / "x.mp4", GREY8, OutputFormat.MP4)

    def test_unwritable_path_is_an_encode_error(self, tmp_path: Path) -> None:
        with pytest.raises(EncodeError, match="cannot write"):
            write_still(tmp_path / "missing-dir" / "x.png", GREY8, OutputFormat.PNG)


def _png_chunk_types(data: bytes) -> list[bytes]:
    """Chunk types of a PNG, walked by hand so nothing Pillow hides can slip through."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types
