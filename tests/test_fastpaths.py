"""Tests for the performance paths (bench/README.md): each must give what the straightforward path gives.

- dcmexport.read.frames: YBR_FULL(_422) JPEG decoded by Pillow and converted to RGB in C;
- dcmexport.render.renderer: grayscale tables shared between objects, identity tables skipped;
- dcmexport.encode.video: grey frames sent to ffmpeg as ready BT.709 limited-range yuv420p.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixels import iter_pixels

from dcmexport.encode import VideoWriter, probe_video
from dcmexport.encode.video import _GREY_TO_LUMA
from dcmexport.options import OutputFormat, RenderOptions
from dcmexport.read import apply_ybr_full_to_rgb, iter_frames, read_dataset
from dcmexport.read.frames import _is_ybr_jpeg
from dcmexport.render import renderer_from_dataset
from tests.conftest import data_store_file
from tests.samplegen import make_ct, make_us_gray_cine


class TestApplyYbrFullToRgb:
    def test_neutral_and_red(self) -> None:
        # PS3.3 C.7.6.3.1.2 (JFIF full range): R = Y + 1.402 (Cr - 128),
        # G = Y - 0.344136 (Cb - 128) - 0.714136 (Cr - 128), B = Y + 1.772 (Cb - 128).
        frame = np.array([[[128, 128, 128], [76, 85, 255], [0, 128, 128]]], np.uint8)
        rgb = apply_ybr_full_to_rgb(frame).astype(int)
        np.testing.assert_array_equal(rgb[0, 0], [128, 128, 128])
        np.testing.assert_allclose(rgb[0, 1], [254, 0, 0], atol=1)  # 254.05, 0.10, -0.20 clipped
        np.testing.assert_array_equal(rgb[0, 2], [0, 0, 0])

    def test_returns_writeable_copy(self) -> None:
        frame = np.full((4, 6, 3), 128, np.uint8)
        out = apply_ybr_full_to_rgb(frame)
        assert out.shape == (4, 6, 3) and out.dtype == np.uint8 and out.flags.writeable
        out[0, 0] = 0
        assert frame[0, 0, 0] == 128


class TestYbrJpegFrames:
    def test_jpeg_ybr_is_selected_rgb_jpeg_is_not(self) -> None:
        assert _is_ybr_jpeg(read_dataset(Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))))
        assert not _is_ybr_jpeg(read_dataset(Path(get_testdata_file("SC_jpeg_no_color_transform.dcm"))))
        assert not _is_ybr_jpeg(read_dataset(Path(get_testdata_file("SC_rgb_dcmtk_ebcr_dcmd.dcm"))))

    def test_equals_pydicom_pillow_path_within_one_level(self) -> None:
        path = Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
        ours = list(iter_frames(path, read_dataset(path)))
        ref = list(iter_pixels(path, as_rgb=True, decoding_plugin="pillow"))
        assert len(ours) == len(ref) == 1
        assert ours[0].shape == ref[0].shape and ours[0].dtype == np.uint8
        assert np.abs(ours[0].astype(int) - ref[0]).max() <= 1

    def test_multiframe_indices(self) -> None:
        path = data_store_file("color3d_jpeg_baseline.dcm")
        ds = read_dataset(path)
        picked = list(iter_frames(path, ds, indices=[0, 119]))
        ref = list(iter_pixels(path, indices=[0, 119], as_rgb=True, decoding_plugin="pillow"))
        assert [f.shape for f in picked] == [(480, 640, 3)] * 2
        for ours, theirs in zip(picked, ref, strict=True):
            assert np.abs(ours.astype(int) - theirs).max() <= 1


class TestSharedTables:
    def _rendered(self, intercept: float, window: tuple[float, float]) -> int:
        # stored 1064: HU = 1064 + intercept
        ds = make_ct(
            rows=8, columns=8, intercept=intercept, windows=(window,), pixels=np.full((8, 8), 1064, np.int16)
        )
        return int(renderer_from_dataset(ds, RenderOptions()).render(ds.pixel_array)[0, 0])

    def test_key_separates_rescale_and_window(self) -> None:
        # PS3.3 C.11.2.1.2.1: ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
        assert self._rendered(-1024, (40, 400)) == 128  # HU 40: 127.82
        assert self._rendered(-1000, (40, 400)) == 143  # HU 64: 143.16, same window, other intercept
        assert self._rendered(-1024, (40, 400)) == 128  # back to the first: served from the shared table
        assert self._rendered(-1024, (100, 400)) == 89  # HU 40, centre 100: 89.47

    def test_bit_depth_is_part_of_the_key(self) -> None:
        ds = make_ct(rows=8, columns=8, windows=((40, 400),), pixels=np.full((8, 8), 1064, np.int16))
        eight = renderer_from_dataset(ds, RenderOptions()).render(ds.pixel_array)
        sixteen = renderer_from_dataset(ds, RenderOptions(bit_depth=16)).render(ds.pixel_array)
        assert eight.dtype == np.uint8 and int(eight[0, 0]) == 128
        assert sixteen.dtype == np.uint16 and int(sixteen[0, 0]) == 32850  # 0.50125 * 65535 = 32849.6

    def test_shared_table_is_read_only(self) -> None:
        ds = make_ct(rows=8, columns=8, pixels=np.full((8, 8), 1064, np.int16))
        renderer = renderer_from_dataset(ds, RenderOptions())
        renderer.render(ds.pixel_array)
        for table in renderer._tables.values():
            assert not table.flags.writeable

    def test_identity_table_returns_frame_unchanged(self) -> None:
        ds = make_us_gray_cine(rows=48, columns=48, frames=2)  # 8-bit, no window: full range 0..255
        frame = np.resize(np.arange(256, dtype=np.uint8), (48, 48))
        renderer = renderer_from_dataset(ds, RenderOptions())
        assert renderer.describe().startswith("full stored range 0..255")
        for _ in range(2):  # first call builds the table, second takes the shortcut
            out = renderer.render(frame)
            np.testing.assert_array_equal(out, frame)


def _luma_planes(path: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    frame_bytes = width * height * 3 // 2
    frames = np.frombuffer(raw, np.uint8).reshape(-1, frame_bytes)
    return frames[:, : width * height].reshape(-1, height, width), frames[:, width * height :]


class TestGreyVideoPath:
    def test_luma_table_is_bt709_limited_range(self) -> None:
        # Y' = 16 + 219 * v / 255, rounded: 0 -> 16, 128 -> 125.93 -> 126, 255 -> 235
        assert (_GREY_TO_LUMA[0], _GREY_TO_LUMA[128], _GREY_TO_LUMA[255]) == (16, 126, 235)
        assert _GREY_TO_LUMA.dtype == np.uint8 and np.all(np.diff(_GREY_TO_LUMA.astype(int)) >= 0)

    def test_lossless_mp4_carries_exact_luma_and_neutral_chroma(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(7)
        frames = [rng.integers(0, 256, (32, 48), dtype=np.uint8) for _ in range(3)]
        out = tmp_path / "grey.mp4"
        with VideoWriter(out, OutputFormat.MP4, fps=10, crf=0) as writer:  # CRF 0: lossless H.264
            for frame in frames:
                writer.write(frame)
        luma, chroma = _luma_planes(out, 48, 32)
        assert luma.shape[0] == 3
        for got, frame in zip(luma, frames, strict=True):
            np.testing.assert_array_equal(got, _GREY_TO_LUMA[frame])
        assert np.all(chroma == 128)
        info = probe_video(out)
        assert (info.frames, info.width, info.height) == (3, 48, 32)

    def test_odd_size_padded_with_black_luma(self, tmp_path: Path) -> None:
        frame = np.full((5, 7), 255, np.uint8)
        out = tmp_path / "odd.mp4"
        with VideoWriter(out, OutputFormat.MP4, fps=10, crf=0) as writer:
            writer.write(frame)
            writer.write(frame)
        luma, _ = _luma_planes(out, 8, 6)
        assert np.all(luma[:, :5, :7] == 235)
        assert np.all(luma[:, 5, :] == 16) and np.all(luma[:, :, 7] == 16)


def test_real_cine_through_fast_path_keeps_frame_count(tmp_path: Path) -> None:
    path = data_store_file("color3d_jpeg_baseline.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    count = sum(1 for _ in iter_frames(path, read_dataset(path)))
    assert count == int(ds.NumberOfFrames) == 120
