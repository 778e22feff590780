"""The JPEG clip passthrough (pipeline.passthrough.passthrough_plan / encode.video.JpegStreamWriter), end to end.

Each clip is exported twice, through the passthrough and through the decode
path (forced by planning no passthrough), and both MP4s are decoded back to RGB
with the bundled ffmpeg: they must agree to within codec rounding, carry the
header's frame count and rate, and every masked pixel of the passthrough
output must be black in every frame. Damaged JPEG data must fail the object
with nothing written; objects the passthrough cannot take must still be decoded in
Python.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.encode import probe_video, read_video_frames
from dcmexport.pipeline import objects, passthrough
from dcmexport.pipeline.frames import plan_pixels
from dcmexport.pipeline.passthrough import Passthrough, passthrough_plan
from dcmexport.results import ExportResult, Status
from tests.conftest import data_store_file
from tests.samplegen import compress_jpeg_baseline, make_us_gray_cine, make_us_rgb_cine, write_dataset

KEY = Key(b"passthrough-test-key-0123456789a")


class _Paths:
    """Records how each export read its pixels: undecoded JPEG frames, or decoded frames (and which)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded: list[Sequence[int] | None] = []  # the `indices` of each iter_frames call
        self.jpeg_clips = 0
        real_iter_frames, real_jpeg = objects.iter_frames, passthrough.iter_jpeg_frames

        def iter_frames(path: Path, ds: pydicom.Dataset, indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
            self.decoded.append(None if indices is None else list(indices))
            return real_iter_frames(path, ds, indices)

        def iter_jpeg_frames(*args: object) -> Iterator[bytes]:
            self.jpeg_clips += 1
            return real_jpeg(*args)  # type: ignore[arg-type]

        # Every module of the pipeline that reads pixels (the decode path and the passthrough).
        monkeypatch.setattr(objects, "iter_frames", iter_frames)
        monkeypatch.setattr(passthrough, "iter_frames", iter_frames)
        monkeypatch.setattr(passthrough, "iter_jpeg_frames", iter_jpeg_frames)

    @property
    def all_frames_decoded(self) -> bool:
        return None in self.decoded


def _export(src: Path, out: Path, **kwargs: object) -> api.ExportResult:
    fmt = kwargs.pop("format", "mp4")
    crf = {"crf": 18} if fmt in ("mp4", "webm") else {}  # CRF applies to those only (a usage error elsewhere)
    result = api.export([src], out, key=KEY, format=fmt, **crf, **kwargs).results[0]
    assert result.status == "written", result.reason
    return result


def _both_paths(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object
) -> tuple[np.ndarray, np.ndarray, api.ExportResult]:
    """(passthrough RGB frames, decode-path RGB frames, passthrough result); checks which path ran."""
    with monkeypatch.context() as m:
        paths = _Paths(m)
        fast = _export(src, tmp_path / "fast", **kwargs)
        assert paths.jpeg_clips == 1 and not paths.all_frames_decoded, "the passthrough was not taken"
    with monkeypatch.context() as m:
        m.setattr(objects, "passthrough_plan", lambda *a, **k: None)
        paths = _Paths(m)
        slow = _export(src, tmp_path / "slow", **kwargs)
        assert paths.jpeg_clips == 0 and paths.all_frames_decoded
    for result in (fast, slow):
        info = probe_video(result.outputs[0])
        assert info.frames == result.frames
        assert info.fps == pytest.approx(result.fps, abs=1e-6)
    a = np.stack(list(read_video_frames(fast.outputs[0]))).astype(np.int16)
    b = np.stack(list(read_video_frames(slow.outputs[0]))).astype(np.int16)
    assert a.shape == b.shape
    return a, b, fast


def _outside(shape: tuple[int, int], kept: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels outside the kept box (x0, y0, x1, y1)."""
    return ~_inside(shape, kept)


def _inside(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _depth(masked: np.ndarray, limit: int = 16) -> np.ndarray:
    """Per pixel, how far (chessboard steps, up to ``limit``) it lies inside ``masked``; 0 outside.

    The frame border does not count as an edge: only unmasked pixels do.
    """
    depth = np.zeros(masked.shape, np.int16)
    current = masked.copy()
    for step in range(1, limit + 1):
        depth[current] = step
        padded = np.pad(current, 1, constant_values=True)
        eroded = current.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                eroded &= padded[dy : dy + masked.shape[0], dx : dx + masked.shape[1]]
        current = eroded
    return depth


def _assert_black(frames: np.ndarray, masked: np.ndarray) -> None:
    """Every masked pixel of every frame black within codec rounding.

    The edge row is where the clip's resampling (aspect correction, after the
    mask on both paths) blends in the neighbouring content, and where H.264
    rings next to bright content (the decode path reaches 22 there on a
    102 x 76 clip); the bound tightens with the distance from unmasked pixels,
    and 16 pixels in, where no 8 x 8 or 16 x 16 block reaches unmasked content,
    it is exactly 0. A mask drawn in limited-range black on full-range data
    (level 16 everywhere) or a missing mask fails.
    """
    depth = _depth(masked)
    for at_least, bound in ((1, 24), (3, 4), (16, 0)):
        values = frames[:, depth >= at_least]
        assert values.size and values.max() <= bound, (
            f"masked pixels {at_least}+ px from the edge reach {values.max()} (allowed {bound})"
        )


class TestEquivalence:
    def test_color3d_jpeg_baseline(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        src = data_store_file("color3d_jpeg_baseline.dcm")
        fast, slow, result = _both_paths(src, tmp_path, monkeypatch)
        assert result.frames == 120 and result.fps == pytest.approx(1000 / 33.333)  # FrameTime 33.333 ms
        assert fast.shape == (120, 480, 640, 3)
        assert np.abs(fast - slow).mean() <= 2
        # The ultrasound region (84, 31)-(596, 415) is kept, the rest blanked; the passthrough grows
        # the blanked area to the 2 x 2 grid of 4:2:0, keeping (84, 32)-(596, 414).
        assert result.keep_boxes == [(84, 31, 596, 415)]
        _assert_black(fast, _outside((480, 640), (84, 32, 596, 414)))
        assert fast[:, 40:400, 100:580].mean() > 10  # the kept region is not blanked (mean 14: dark US)

    def test_examples_ybr_color_declared_422_coded_420(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from pydicom.data import get_testdata_file

        fast, slow, result = _both_paths(Path(get_testdata_file("examples_ybr_color.dcm")), tmp_path, monkeypatch)
        assert fast.shape == (30, 240, 320, 3) and result.frames == 30
        assert np.abs(fast - slow).mean() <= 2
        assert result.keep_boxes is not None and len(result.keep_boxes) == 1
        x0, y0, x1, y1 = result.keep_boxes[0]
        grown = (x0 + x0 % 2, y0 + y0 % 2, x1 - x1 % 2, y1 - y1 % 2)
        _assert_black(fast, _outside((240, 320), grown))

    def test_synthetic_clip_with_mask_and_non_square_pixels(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Rows are 0.6 mm apart, columns 0.3 mm: the output doubles the rows (120 -> 240).
        ds = make_us_rgb_cine(rows=120, columns=160, frames=6, physical_delta=(0.03, 0.06))
        frames = ds.pixel_array.copy()
        # Saturated "text" fills the box (32, 16)-(96, 48) exactly, on the 16-pixel MCU grid
        # so the JPEG itself keeps it inside; flat grey around it.
        frames[:, 0:64, 16:112] = 90
        rng = np.random.default_rng(0)
        frames[:, 16:48, 32:96] = rng.choice(np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8),
                                             size=(6, 32, 64))
        ds.set_pixel_data(frames, "RGB", 8, generate_instance_uid=False)
        compress_jpeg_baseline(ds, subsampling="4:2:2")
        src = write_dataset(ds, tmp_path / "jpeg.dcm")
        # An odd-placed rectangle inside the text area's cells: grown to (32, 16)-(96, 48).
        kwargs: dict[str, object] = {"masks": ["33,17,62,30"], "mask_us_regions": False}
        fast, slow, result = _both_paths(src, tmp_path, monkeypatch, **kwargs)
        assert fast.shape == (6, 240, 160, 3) and "resized 160x120 -> 160x240 (aspect from SequenceOfUltrasoundRegions)" in result.notes
        # The banner text lies outside the mask: frame 0 is still checked in Python, and says so.
        assert any(n.startswith("suspicious: text-like rows") for n in result.notes)
        box = (32, 32, 96, 96)  # (32, 16)-(96, 48) with rows doubled
        # The passthrough blanks one chroma cell more around the box (by design): compare elsewhere.
        elsewhere = _outside((240, 160), (28, 28, 100, 100))
        assert np.abs(fast - slow)[:, elsewhere].mean() <= 2
        _assert_black(fast, _inside((240, 160), box))
        # No colour of the text outside the box: masks are drawn before any resampling.
        ring = _outside((240, 160), (30, 30, 98, 98)) & _inside((240, 160), (16, 8, 112, 120))
        chroma = fast[:, ring].max(-1) - fast[:, ring].min(-1)
        assert chroma.max() <= 6, f"text colour leaked past the mask: {chroma.max()}"

    @pytest.mark.parametrize(("subsampling", "rows", "columns"), [("4:2:0", 96, 128), ("4:4:4", 75, 101)])
    def test_other_chroma_layouts_and_odd_sizes(
        self, subsampling: str, rows: int, columns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ds = make_us_rgb_cine(rows=rows, columns=columns, frames=4)
        compress_jpeg_baseline(ds, subsampling=subsampling)
        src = write_dataset(ds, tmp_path / "jpeg.dcm")
        fast, slow, result = _both_paths(src, tmp_path, monkeypatch)
        assert fast.shape == (4, rows + rows % 2, columns + columns % 2, 3)  # odd sizes padded, not scaled
        assert np.abs(fast - slow).mean() <= 2
        region = pydicom.dcmread(src).SequenceOfUltrasoundRegions[0]
        keep = (region.RegionLocationMinX0, region.RegionLocationMinY0,
                region.RegionLocationMaxX1 + 1, region.RegionLocationMaxY1 + 1)  # fmt: skip
        grown = (keep[0] + keep[0] % 2, keep[1] + keep[1] % 2, keep[2] - keep[2] % 2, keep[3] - keep[3] % 2)
        shape = fast.shape[1:3]
        _assert_black(fast, _outside(shape, grown))

    def test_grey_jpeg_clip(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        ds = make_us_gray_cine(rows=128, columns=160, frames=5, with_region=True)
        compress_jpeg_baseline(ds)
        src = write_dataset(ds, tmp_path / "grey.dcm")
        fast, slow, _ = _both_paths(src, tmp_path, monkeypatch)
        assert np.abs(fast - slow).mean() <= 2
        assert (np.abs(fast[..., 0] - fast[..., 2]) <= 2).all()  # still grey
        region = ds.SequenceOfUltrasoundRegions[0]
        keep = (region.RegionLocationMinX0, region.RegionLocationMinY0,
                region.RegionLocationMaxX1 + 1, region.RegionLocationMaxY1 + 1)  # fmt: skip
        _assert_black(fast, _outside((128, 160), keep))

    def test_webm(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        ds = make_us_rgb_cine(frames=4)
        compress_jpeg_baseline(ds)
        src = write_dataset(ds, tmp_path / "jpeg.dcm")
        fast, slow, result = _both_paths(src, tmp_path, monkeypatch, format="webm")
        assert result.outputs[0].suffix == ".webm" and probe_video(result.outputs[0]).codec == "vp9"
        assert np.abs(fast - slow).mean() <= 2


def _plan(path: Path, fmt: str = "mp4", **kwargs: object) -> Passthrough | None:
    from dcmexport.options import OutputFormat
    from dcmexport.read import check_pixel_geometry, read_dataset

    ds = read_dataset(path)
    options = api.build_options(path.parent / "unused", format=fmt, **kwargs)  # type: ignore[arg-type]
    pipeline = plan_pixels(ds, options, OutputFormat(fmt), check_pixel_geometry(ds), ExportResult(path, Status.FAILED))
    return passthrough_plan(path, ds, OutputFormat(fmt), pipeline)


class TestPassthroughPlan:
    """The eligibility rule, on real files; boxes hand-computed from the ultrasound region."""

    def test_color3d_keep_region_becomes_four_boxes_on_the_2x2_grid(self) -> None:
        plan = _plan(data_store_file("color3d_jpeg_baseline.dcm"))
        assert plan is not None and plan.header.chroma_subsampling == (2, 1)
        # Region (84, 31)-(596, 415): its complement, each blank box grown to even coordinates.
        assert plan.boxes == ((0, 0, 640, 32), (0, 30, 84, 416), (596, 30, 640, 416), (0, 414, 640, 480))

    def test_webm_and_user_masks(self) -> None:
        plan = _plan(data_store_file("color3d_jpeg_baseline.dcm"), "webm", masks=["101,7,10,10"])
        assert plan is not None and (100, 6, 112, 18) in plan.boxes

    def test_gif_needs_python(self) -> None:
        assert _plan(data_store_file("color3d_jpeg_baseline.dcm"), "gif") is None

    def test_colour_ignores_a_window_on_both_paths(self) -> None:
        assert _plan(data_store_file("color3d_jpeg_baseline.dcm"), window="100,50") is not None

    def test_grey_needs_python_only_when_rendering_changes_values(self, tmp_path: Path) -> None:
        ds = make_us_gray_cine(frames=2, with_region=True)
        compress_jpeg_baseline(ds)
        src = write_dataset(ds, tmp_path / "grey.dcm")
        plan = _plan(src)
        assert plan is not None and plan.header.chroma_subsampling is None
        assert _plan(src, window="100,50") is None

    @pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract (Debian tesseract-ocr) not installed")
    def test_ocr_check_needs_python(self) -> None:
        pytest.importorskip("pytesseract")
        assert _plan(data_store_file("color3d_jpeg_baseline.dcm"), ocr_check="report") is None

    @pytest.mark.parametrize(
        "name",
        [
            "SC_rgb_jpeg_app14_dcmd.dcm",  # RGB photometric, Adobe transform 0
            "SC_jpeg_no_color_transform.dcm",  # RGB photometric, YCbCr-looking ids
            "JPEG-lossy.dcm",  # 12-bit extended
            "SC_rgb_jpeg_gdcm.dcm",  # lossless
            "SC_rgb_dcmtk_+eb+cy+n1.dcm",  # eligible layout: proves the case can pass
        ],
    )
    def test_real_files(self, name: str) -> None:
        from pydicom.data import get_testdata_file

        plan = _plan(Path(get_testdata_file(name)), "mp4", accept_burned_in=True)
        assert (plan is not None) == (name == "SC_rgb_dcmtk_+eb+cy+n1.dcm")


def _rewrite_frames(src: Path, dst: Path, change: dict[int, bytes]) -> Path:
    """Copy ``src`` with some encapsulated frames replaced (the rest of the file unchanged)."""
    ds = pydicom.dcmread(src)
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    for index, data in change.items():
        frames[index] = data
    ds.PixelData = encapsulate(frames)
    ds.save_as(dst, enforce_file_format=True)
    return dst


def _entropy_start(frame: bytes) -> int:
    sos = frame.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(frame[sos + 2 : sos + 4], "big")


@pytest.fixture(scope="module")
def jpeg_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = make_us_rgb_cine(frames=8)
    compress_jpeg_baseline(ds)
    return write_dataset(ds, tmp_path_factory.mktemp("clip") / "jpeg.dcm")


class TestFailClosed:
    def test_damaged_entropy_data_fails_with_nothing_written(self, jpeg_clip: Path, tmp_path: Path) -> None:
        frame = bytearray(next(iter(generate_frames(pydicom.dcmread(jpeg_clip).PixelData, number_of_frames=8))))
        start = _entropy_start(bytes(frame))
        for k in range(start + 40, len(frame) - 40, 97):  # flip bits, keeping 0xFF stuffing and markers intact
            if frame[k] != 0xFF and frame[k - 1] != 0xFF and frame[k] ^ 0x5A != 0xFF:
                frame[k] ^= 0x5A
        src = _rewrite_frames(jpeg_clip, tmp_path / "damaged.dcm", {5: bytes(frame)})
        out = tmp_path / "out"
        result = api.export([src], out, key=KEY, format="mp4").results[0]
        assert result.status == "failed" and result.error_kind == "input"
        assert "damaged" in (result.reason or "")
        assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]  # no clip, no temporary file

    def test_truncated_fragment_fails_with_nothing_written(self, jpeg_clip: Path, tmp_path: Path) -> None:
        frame = next(iter(generate_frames(pydicom.dcmread(jpeg_clip).PixelData, number_of_frames=8)))
        cut = frame[: _entropy_start(frame) + (len(frame) - _entropy_start(frame)) // 2]
        src = _rewrite_frames(jpeg_clip, tmp_path / "truncated.dcm", {3: cut + b"\x00" * (len(cut) % 2)})
        out = tmp_path / "out"
        result = api.export([src], out, key=KEY, format="mp4").results[0]
        assert result.status == "failed" and result.error_kind == "input"
        assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]

    def test_truncated_then_closed_with_eoi_is_caught_by_the_decoder(self, jpeg_clip: Path, tmp_path: Path) -> None:
        frame = next(iter(generate_frames(pydicom.dcmread(jpeg_clip).PixelData, number_of_frames=8)))
        cut = frame[: _entropy_start(frame) + (len(frame) - _entropy_start(frame)) // 2] + b"\xff\xd9"
        src = _rewrite_frames(jpeg_clip, tmp_path / "short.dcm", {6: cut + b"\x00" * (len(cut) % 2)})
        out = tmp_path / "out"
        result = api.export([src], out, key=KEY, format="mp4").results[0]
        assert result.status == "failed" and "damaged" in (result.reason or "")
        assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]


class TestIneligible:
    def _paths_of(self, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> _Paths:
        paths = _Paths(monkeypatch)
        _export(src, tmp_path / "out", **kwargs)
        return paths

    @pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract (Debian tesseract-ocr) not installed")
    def test_ocr_check_decodes_every_frame(
        self, jpeg_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pytest.importorskip("pytesseract")
        paths = self._paths_of(jpeg_clip, tmp_path, monkeypatch, ocr_check="report")
        assert paths.jpeg_clips == 0 and paths.all_frames_decoded

    @pytest.mark.parametrize("fmt", ["gif", "png"])
    def test_gif_and_stills_decode(
        self, fmt: str, jpeg_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        paths = self._paths_of(jpeg_clip, tmp_path, monkeypatch, format=fmt)
        assert paths.jpeg_clips == 0 and paths.decoded

    def test_grey_with_a_window_decodes(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        ds = make_us_gray_cine(frames=3)
        compress_jpeg_baseline(ds)
        src = write_dataset(ds, tmp_path / "grey.dcm")
        paths = self._paths_of(src, tmp_path, monkeypatch, window="100,80")
        assert paths.jpeg_clips == 0 and paths.all_frames_decoded

    def test_a_frame_coded_unlike_frame_0_falls_back_to_decoding(
        self, jpeg_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Frame 4 in 4:4:4 while the others are 4:2:2: valid, but not one stream layout.
        other = make_us_rgb_cine(frames=8)
        compress_jpeg_baseline(other, subsampling="4:4:4")
        odd = list(generate_frames(other.PixelData, number_of_frames=8))[4]
        src = _rewrite_frames(jpeg_clip, tmp_path / "mixed.dcm", {4: odd})
        paths = _Paths(monkeypatch)
        ticks: list[None] = []
        result = _export(src, tmp_path / "out", on_frame=lambda: ticks.append(None))
        assert paths.jpeg_clips == 1 and paths.all_frames_decoded  # tried, then decoded in Python
        assert probe_video(result.outputs[0]).frames == 8
        assert len(ticks) == 8  # progress counts each frame once, not the 4 of the first attempt again
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["manifest.jsonl", result.outputs[0].name])
