"""Tests for dcmexport.encode.video and dcmexport.encode.probe: encode, probe, decode back."""

from __future__ import annotations

import gc
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcmexport.encode import VideoInfo, VideoWriter, probe_video, read_video_frames
from dcmexport.encode.ffmpeg import last_meaningful_line
from dcmexport.errors import EncodeError, UnsupportedError, UsageError
from dcmexport.options import OutputFormat

MP4, WEBM, GIF = OutputFormat.MP4, OutputFormat.WEBM, OutputFormat.GIF
ALL = [MP4, WEBM, GIF]
YUV = [MP4, WEBM]
CODEC = {MP4: "h264", WEBM: "vp9", GIF: "gif"}


def moving_square(index: int, height: int = 77, width: int = 101) -> np.ndarray:
    """Grey frame: mid-grey background with a white 12x12 square that moves 2 px per frame."""
    frame = np.full((height, width), 128, np.uint8)
    x = 4 + 2 * index
    frame[20:32, x : x + 12] = 255
    return frame


def encode(path: Path, fmt: OutputFormat, frames: list[np.ndarray], fps: float = 25.0) -> VideoInfo:
    with VideoWriter(path, fmt, fps=fps) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.frames_written == len(frames)
    return probe_video(path)


def decode(path: Path) -> np.ndarray:
    return np.stack(list(read_video_frames(path))).astype(int)


class TestVideoWriter:
    @pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.value)
    @pytest.mark.parametrize(
        "fps",
        [25.0, 12.5, 1000 / 33, 30000 / 1001, 1000 / 54.241],
        ids=["25", "12.5", "30.303", "29.97", "18.44"],
    )
    def test_frame_count_and_rate(self, tmp_path: Path, fmt: OutputFormat, fps: float) -> None:
        info = encode(tmp_path / "clip.bin", fmt, [moving_square(i) for i in range(30)], fps)
        assert info.frames == 30
        assert info.codec == CODEC[fmt]
        # The clip's playing time is right to the container's clock: MP4 exact
        # (timescale derived from the rate), WebM 1 ms ticks, GIF 10 ms delays
        # (ffmpeg rounds timestamps, not each delay, so errors do not accumulate:
        # the last timestamp and the last delay are each off by <= 5 ms).
        tolerance_s = {MP4: 1e-6, WEBM: 0.001, GIF: 0.010}[fmt]
        assert abs(30 / info.fps - 30 / fps) <= tolerance_s
        if fps in (25.0, 12.5, 1000 / 33):  # representable in all three clocks
            assert info.fps == pytest.approx(fps, rel=1e-9)

    @pytest.mark.parametrize("fmt", YUV, ids=lambda f: f.value)
    def test_odd_size_is_padded_not_cropped(self, tmp_path: Path, fmt: OutputFormat) -> None:
        frames = [moving_square(i) for i in range(30)]
        info = encode(tmp_path / "clip", fmt, frames)
        assert (info.width, info.height) == (102, 78)
        assert info.pix_fmt == "yuv420p"
        back = decode(tmp_path / "clip")
        assert back.shape == (30, 78, 102, 3)
        original = np.stack(frames).astype(int)
        # the original picture is intact in the top-left corner, frame by frame
        # (this also proves no frame was dropped, duplicated or reordered)
        assert np.abs(back[:, :77, :101, 1] - original).mean() < 1.0
        for i in (0, 13, 29):
            assert (
                np.abs(back[i, :77, :101, 1] - original[i]).max() <= 40
            )  # only ringing at the square's edges
            assert back[i, 22:30, 6 + 2 * i : 14 + 2 * i].min() >= 250  # square where it was sent
        # the padding row and column are black
        assert back[:, 77, :, :].max() <= 8
        assert back[:, :, 101, :].max() <= 8

    def test_gif_keeps_odd_size(self, tmp_path: Path) -> None:
        frames = [moving_square(i) for i in range(30)]
        info = encode(tmp_path / "clip", GIF, frames)
        assert (info.width, info.height) == (101, 77)
        np.testing.assert_array_equal(
            decode(tmp_path / "clip")[..., 0], np.stack(frames)
        )  # grey GIF is exact

    @pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.value)
    def test_grey_levels_survive(self, tmp_path: Path, fmt: OutputFormat) -> None:
        # 0 and 255 included: with BT.709 limited range they map to Y 16 / 235
        # and come back exactly in practice; the contract is +-2 for all.
        levels = [0, 16, 128, 235, 255]
        frames = [np.full((48, 64), level, np.uint8) for level in levels for _ in range(3)]
        back = decode(_encoded(tmp_path, fmt, frames))
        for k, level in enumerate(levels):
            chunk = back[3 * k : 3 * k + 3]
            assert np.abs(chunk - level).max() <= 2, f"level {level}"

    @pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.value)
    def test_rgb_grey_equals_grey_path(self, tmp_path: Path, fmt: OutputFormat) -> None:
        frames = [np.full((48, 64, 3), level, np.uint8) for level in (16, 128, 235) for _ in range(2)]
        back = decode(_encoded(tmp_path, fmt, frames))
        np.testing.assert_allclose(back, np.stack(frames), atol=2)

    @pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.value)
    def test_pure_colours_survive(self, tmp_path: Path, fmt: OutputFormat) -> None:
        # A BT.601/709 mix-up moves these by 9..39 levels; range errors by ~16.
        colours = [
            (255, 0, 0),
            (0, 255, 0),
            (0, 0, 255),
            (255, 255, 0),
            (0, 255, 255),
            (255, 0, 255),
            (200, 100, 50),
        ]
        frames = [
            np.broadcast_to(np.array(c, np.uint8), (48, 64, 3)).copy() for c in colours for _ in range(2)
        ]
        back = decode(_encoded(tmp_path, fmt, frames))
        for k, colour in enumerate(colours):
            error = np.abs(back[2 * k : 2 * k + 2] - np.array(colour)).max()
            assert error <= 4, f"colour {colour} off by {error}"

    def test_gif_rgb_up_to_256_colours_is_within_one_level(self, tmp_path: Path) -> None:
        # Each frame gets its own 256-entry palette. ffmpeg's palettegen averages
        # in OkLab, so a palette entry can come back 1 level off (measured), never more.
        rng = np.random.default_rng(7)
        palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
        frames = [palette[rng.integers(0, 256, (40, 50))] for _ in range(5)]
        back = decode(_encoded(tmp_path, GIF, frames))
        assert np.abs(back - np.stack(frames)).max() <= 1

    def test_gif_above_its_max_rate_is_refused_never_dropped(self, tmp_path: Path) -> None:
        """The writer never drops frames (issue #19 item 5): the pipeline lowers the rate and says so."""
        assert GIF.spec.max_fps == 50.0
        with pytest.raises(UsageError, match="at most 50 fps"):
            VideoWriter(tmp_path / "clip.gif", GIF, fps=60.0)
        info = encode(tmp_path / "clip", GIF, [moving_square(i) for i in range(30)], fps=50.0)
        assert info.fps == pytest.approx(50.0, rel=0.01) and info.frames == 30

    def test_crf_is_applied(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(3)
        frames = [rng.integers(0, 256, (64, 64), dtype=np.uint8) for _ in range(10)]
        sizes = {}
        for crf in (10, 40):
            path = tmp_path / f"crf{crf}.mp4"
            with VideoWriter(path, MP4, fps=10, crf=crf) as writer:
                for frame in frames:
                    writer.write(frame)
            sizes[crf] = path.stat().st_size
        assert sizes[40] < sizes[10] / 2

    def test_format_comes_from_fmt_not_suffix(self, tmp_path: Path) -> None:
        path = tmp_path / "clip.gif.part"
        with VideoWriter(path, MP4, fps=10) as writer:
            writer.write(moving_square(0))
        assert path.read_bytes()[4:8] == b"ftyp"
        assert probe_video(path).codec == "h264"

    def test_streaming_memory_does_not_grow_with_clip_length(self, tmp_path: Path) -> None:
        # 200 RGB frames of 128x128 are 9.8 MB; a writer that buffered them
        # (as Pillow's GIF save_all does) would show that in the peak.
        frame = np.zeros((128, 128, 3), np.uint8)
        frame[:, :64] = (255, 0, 0)
        for fmt in (MP4, GIF):
            tracemalloc.start()
            try:
                with VideoWriter(tmp_path / f"long.{fmt.value}", fmt, fps=50) as writer:
                    for i in range(200):
                        frame[0, 0, 1] = i  # distinct frames
                        writer.write(frame)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 2_000_000, f"{fmt.value}: peak {peak} bytes"
            assert probe_video(tmp_path / f"long.{fmt.value}").frames == 200


class TestNoMetadata:
    def test_mp4_has_no_encoder_strings_or_dates_and_is_tagged_bt709_tv(self, tmp_path: Path) -> None:
        data = _encoded(tmp_path, MP4, [moving_square(i) for i in range(5)]).read_bytes()
        for needle in (
            b"Lavf",
            b"Lavc",
            b"x264",
            b"encoder",
            b"creation_time",
            b"\xa9too",
            b"title",
            b"comment",
        ):
            assert needle not in data, needle
        # mvhd creation/modification times are zero (version 0 box: 4 bytes each after flags)
        mvhd = data.index(b"mvhd")
        assert data[mvhd + 8 : mvhd + 16] == b"\x00" * 8
        # colr/nclx: primaries 1, transfer 1, matrix 1 (BT.709), full_range flag 0 (tv)
        colr = data.index(b"colrnclx")
        assert data[colr + 8 : colr + 15] == b"\x00\x01\x00\x01\x00\x01\x00"
        # +faststart: the index (moov) precedes the media data
        assert data.index(b"moov") < data.index(b"mdat")

    def test_webm_has_no_encoder_version_or_date(self, tmp_path: Path) -> None:
        data = _encoded(tmp_path, WEBM, [moving_square(i) for i in range(5)]).read_bytes()
        for needle in (b"Lavc", b"libvpx", b"encoder", b"ENCODER", b"creation_time", b"title", b"comment"):
            assert needle not in data, needle
        # Matroska requires MuxingApp/WritingApp; bit-exact ffmpeg writes the
        # bare "Lavf" in both, never "Lavf<version>".
        assert re.search(rb"Lavf\d", data) is None
        assert data.count(b"Lavf") == 2
        assert b"\x4d\x80\x84Lavf" in data and b"\x57\x41\x84Lavf" in data
        # no DateUTC element (0x4461) in the segment header, before the first Cluster
        header = data[: data.index(b"\x1f\x43\xb6\x75")]
        assert b"\x44\x61\x88" not in header

    def test_gif_has_no_comment_or_application_text(self, tmp_path: Path) -> None:
        path = _encoded(tmp_path, GIF, [moving_square(i) for i in range(5)])
        with Image.open(path) as im:
            for index in range(getattr(im, "n_frames", 1)):
                im.seek(index)
                assert "comment" not in im.info
                assert "xmp" not in im.info
        data = path.read_bytes()
        assert b"Lav" not in data
        assert data.count(b"NETSCAPE2.0") == 1  # the loop extension is the only application block


class TestErrors:
    def test_frame_size_change_is_refused(self, tmp_path: Path) -> None:
        writer = VideoWriter(tmp_path / "x.mp4", MP4, fps=10)
        try:
            writer.write(np.zeros((10, 10), np.uint8))
            with pytest.raises(EncodeError, match="shape"):
                writer.write(np.zeros((10, 12), np.uint8))
            with pytest.raises(EncodeError, match="shape"):
                writer.write(np.zeros((10, 10, 3), np.uint8))
        finally:
            writer.abort()

    @pytest.mark.parametrize(
        "frame",
        [
            np.zeros((8, 8), np.uint16),
            np.zeros((8, 8), np.float32),
            np.zeros((8, 8, 4), np.uint8),
            np.zeros(8, np.uint8),
        ],
        ids=["uint16", "float", "rgba", "1d"],
    )
    def test_bad_frames_are_refused(self, tmp_path: Path, frame: np.ndarray) -> None:
        writer = VideoWriter(tmp_path / "x.mp4", MP4, fps=10)
        with pytest.raises(EncodeError):
            writer.write(frame)
        writer.abort()
        assert not (tmp_path / "x.mp4").exists()  # nothing started

    def test_close_without_frames_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(EncodeError, match="no frames"):
            VideoWriter(tmp_path / "x.mp4", MP4, fps=10).close()

    def test_ffmpeg_failure_becomes_encode_error_with_its_reason(self, tmp_path: Path) -> None:
        writer = VideoWriter(tmp_path / "missing-dir" / "x.mp4", MP4, fps=10)
        with pytest.raises(EncodeError) as caught:
            for _ in range(500):  # ffmpeg fails at open; the pipe breaks within a few frames
                writer.write(np.zeros((64, 64), np.uint8))
            writer.close()
        message = str(caught.value)
        assert "No such file or directory" in message
        assert "\n" not in message
        assert writer._proc is not None and writer._proc.poll() is not None  # ffmpeg reaped

    def test_codec_rejection_is_reported_at_close(self, tmp_path: Path) -> None:
        # libx264 refuses 20000x2 (beyond H.264 limits) only once it sees the first frame
        writer = VideoWriter(tmp_path / "x.mp4", MP4, fps=10)
        with pytest.raises(EncodeError, match="20000x2"):
            writer.write(np.zeros((2, 20000), np.uint8))
            writer.close()

    def test_abort_stops_ffmpeg_and_is_idempotent(self, tmp_path: Path) -> None:
        writer = VideoWriter(tmp_path / "x.mp4", MP4, fps=10)
        writer.write(np.zeros((16, 16), np.uint8))
        process = writer._proc
        assert process is not None and process.poll() is None
        writer.abort()
        writer.abort()
        assert process.poll() is not None
        with pytest.raises(EncodeError, match="closed"):
            writer.write(np.zeros((16, 16), np.uint8))

    def test_dropped_writer_kills_ffmpeg(self, tmp_path: Path) -> None:
        writer = VideoWriter(tmp_path / "x.mp4", MP4, fps=10)
        writer.write(np.zeros((16, 16), np.uint8))
        process = writer._proc
        assert process is not None
        del writer
        gc.collect()
        assert process.wait(timeout=10) != 0  # killed, not finalised into a valid clip

    def test_context_manager_aborts_on_exception(self, tmp_path: Path) -> None:
        with pytest.raises(RuntimeError), VideoWriter(tmp_path / "x.mp4", MP4, fps=10) as writer:
            writer.write(np.zeros((16, 16), np.uint8))
            raise RuntimeError("pipeline failed half-way")
        assert writer._proc is not None and writer._proc.returncode is not None
        assert writer._proc.returncode != 0  # killed, not finalised

    def test_still_format_is_unsupported(self, tmp_path: Path) -> None:
        with pytest.raises(UnsupportedError):
            VideoWriter(tmp_path / "x.png", OutputFormat.PNG, fps=10)

    @pytest.mark.parametrize("fps", [0.0, -1.0, float("nan"), float("inf")])
    def test_bad_fps(self, tmp_path: Path, fps: float) -> None:
        with pytest.raises(UsageError):
            VideoWriter(tmp_path / "x.mp4", MP4, fps=fps)

    @pytest.mark.parametrize(("fmt", "crf"), [(MP4, 52), (MP4, -1), (WEBM, 64)])
    def test_bad_crf(self, tmp_path: Path, fmt: OutputFormat, crf: int) -> None:
        with pytest.raises(UsageError, match="crf"):
            VideoWriter(tmp_path / "x", fmt, fps=10, crf=crf)

    def test_probe_and_read_reject_non_video(self, tmp_path: Path) -> None:
        junk = tmp_path / "junk.mp4"
        junk.write_bytes(b"not a video" * 50)
        with pytest.raises(EncodeError, match="Invalid data"):
            probe_video(junk)
        with pytest.raises(EncodeError):
            list(read_video_frames(junk))
        with pytest.raises(EncodeError, match="No such file"):
            probe_video(tmp_path / "absent.mp4")


class TestLastMeaningfulLine:
    def test_skips_generic_trailer_lines_and_prefixes(self) -> None:
        stderr = [
            "[libx264 @ 0x55e2] width not divisible by 2 (101x77)",
            "[vost#0:0/libx264 @ 0x55e2] [enc:libx264 @ 0x55e2] Error while opening encoder - maybe incorrect parameters",
            "[vf#0:0 @ 0x55e2] Task finished with error code: -542398533 (Generic error in an external library)",
            "[vf#0:0 @ 0x55e2] Terminating thread with return code -542398533 (Generic error in an external library)",
            "[out#0/mp4 @ 0x55e2] Nothing was written into output file, because at least one of its streams received no packets.",
            "Conversion failed!",
            "",
        ]
        assert last_meaningful_line(stderr) == "width not divisible by 2 (101x77)"

    def test_empty(self) -> None:
        assert last_meaningful_line([]) == ""
        assert last_meaningful_line(["Conversion failed!"]) == ""


def _encoded(tmp_path: Path, fmt: OutputFormat, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    path = tmp_path / f"clip.{fmt.value}"
    encode(path, fmt, frames, fps)
    return path


class TestRealClip:
    def test_pydicom_cine_to_mp4_keeps_rate_and_content(self, tmp_path: Path) -> None:
        # examples_ybr_color.dcm: 30 frames 240x320 RGB, Frame Time 33.333 ms
        pydicom = pytest.importorskip("pydicom")
        from pydicom.data import get_testdata_file

        from dcmexport.render.timing import frame_rate_from_dataset

        source = get_testdata_file("examples_ybr_color.dcm")
        assert isinstance(source, str)
        ds = pydicom.dcmread(source)
        frames = ds.pixel_array  # pydicom converts YBR_FULL_422 to RGB
        rate = frame_rate_from_dataset(ds)
        path = tmp_path / "clip.mp4"
        with VideoWriter(path, MP4, fps=rate.fps) as writer:
            for frame in frames:
                writer.write(frame)
        info = probe_video(path)
        assert (info.frames, info.width, info.height) == (30, 320, 240)
        assert info.fps == pytest.approx(1000 / 33.333, rel=1e-5)
        back = decode(path)
        assert np.abs(back - frames.astype(int)).mean() < 2.0


def jpeg_frame(index: int, *, grey: bool = False, subsampling: int = 1, height: int = 48, width: int = 64) -> bytes:
    """A JPEG codestream (Pillow, JFIF): the moving square in red on grey, or in white on grey."""
    import io

    frame = moving_square(index, height, width)
    image = Image.fromarray(frame) if grey else Image.fromarray(np.stack([frame, 128 + 0 * frame, 128 + 0 * frame], -1))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, subsampling=subsampling)
    return out.getvalue()


def _jpeg_clip(path: Path, frames: list[bytes], **kwargs: object) -> VideoInfo:
    from dcmexport.encode.video import JpegStreamWriter

    options: dict[str, object] = {"width": 64, "height": 48, "chroma_subsampling": (2, 1), **kwargs}
    with JpegStreamWriter(path, MP4, fps=25, **options) as writer:  # type: ignore[arg-type]
        for frame in frames:
            writer.write(frame)
    return probe_video(path)


class TestJpegFilterChain:
    TAG = "setparams=range=tv:colorspace=smpte170m:color_primaries=bt709:color_trc=bt709"

    def test_no_masks_no_resize_is_one_range_conversion(self) -> None:
        from dcmexport.encode.jpeg_filters import jpeg_filter_chain

        chain = jpeg_filter_chain(640, 480, (2, 1), [], None)
        assert chain == f"scale=in_range=pc:out_range=tv:flags=accurate_rnd,format=yuv420p,{self.TAG}"

    def test_masks_come_first_on_limited_range_planes_of_the_native_layout(self) -> None:
        from dcmexport.encode.jpeg_filters import jpeg_filter_chain

        chain = jpeg_filter_chain(640, 480, (2, 2), [(0, 0, 640, 32), (10, 40, 20, 50)], (480, 700))
        assert chain.split(",") == [
            "scale=in_range=pc:out_range=tv:flags=accurate_rnd",
            "format=yuv420p",
            "drawbox=x=0:y=0:w=640:h=32:color=black:t=fill",
            "drawbox=x=10:y=40:w=10:h=10:color=black:t=fill",
            "scale=w=700:h=480:flags=lanczos+accurate_rnd",
            "format=yuv420p",
            *self.TAG.split(","),
        ]

    def test_grey_masks_in_full_range_and_odd_sizes_are_padded(self) -> None:
        from dcmexport.encode.jpeg_filters import jpeg_filter_chain

        chain = jpeg_filter_chain(101, 75, None, [(0, 0, 10, 10)], None)
        assert chain.split(",") == [
            "drawbox=x=0:y=0:w=10:h=10:color=black:t=fill",
            "scale=in_range=pc:out_range=tv:flags=accurate_rnd",
            "format=yuv444p",
            "pad=102:76:0:0:color=black",
            "format=yuv420p",
            *self.TAG.split(","),
        ]

    def test_layout_without_planar_format(self) -> None:
        from dcmexport.encode.jpeg_filters import jpeg_filter_chain

        with pytest.raises(UnsupportedError):
            jpeg_filter_chain(64, 48, (3, 1), [], None)


class TestJpegStreamWriter:
    def test_frames_rate_tags_and_no_metadata(self, tmp_path: Path) -> None:
        path = tmp_path / "clip.mp4"
        info = _jpeg_clip(path, [jpeg_frame(i) for i in range(6)])
        assert (info.frames, info.fps, info.width, info.height, info.codec) == (6, 25.0, 64, 48, "h264")
        data = path.read_bytes()
        for needle in (b"Lavf", b"Lavc", b"x264", b"encoder", b"creation_time", b"JFIF"):
            assert needle not in data, needle
        # colr/nclx: primaries 1 (BT.709), transfer 1, matrix 6 (SMPTE 170M = BT.601), full_range 0
        colr = data.index(b"colrnclx")
        assert data[colr + 8 : colr + 15] == b"\x00\x01\x00\x01\x00\x06\x00"

    def test_colours_survive(self, tmp_path: Path) -> None:
        path = tmp_path / "clip.mp4"
        _jpeg_clip(path, [jpeg_frame(i, subsampling=0) for i in range(3)], chroma_subsampling=(1, 1))
        frames = decode(path)
        # Background: RGB (128, 128, 128); square: (255, 128, 128), inside its chroma cells.
        np.testing.assert_allclose(frames[:, 5, 5], [[128, 128, 128]] * 3, atol=3)
        np.testing.assert_allclose(frames[1, 22:30, 9:13].reshape(-1, 3).mean(0), [255, 128, 128], atol=4)

    def test_boxes_are_black_and_grey_stays_grey(self, tmp_path: Path) -> None:
        path = tmp_path / "grey.mp4"
        frames = [jpeg_frame(i, grey=True) for i in range(3)]
        _jpeg_clip(path, frames, chroma_subsampling=None, boxes=[(0, 16, 64, 40)])
        decoded = decode(path)
        assert decoded[:, 20:36].max() <= 2  # the square's rows are in the box
        np.testing.assert_allclose(decoded[:, 2:10, 2:10], 128, atol=3)

    def test_gif_is_unsupported(self, tmp_path: Path) -> None:
        from dcmexport.encode.video import JpegStreamWriter

        with pytest.raises(UnsupportedError, match="MP4 and WebM"):
            JpegStreamWriter(tmp_path / "x.gif", GIF, fps=10, width=64, height=48, chroma_subsampling=(2, 1))

    def test_damaged_frame_is_input_error_not_concealed(self, tmp_path: Path) -> None:
        from dcmexport.errors import InputError

        frames = [jpeg_frame(i) for i in range(4)]
        bad = bytearray(frames[2])
        sos = bad.index(b"\xff\xda")
        start = sos + 2 + int.from_bytes(bad[sos + 2 : sos + 4], "big")
        bad[start + 10 : -2] = bytes(len(bad) - 2 - start - 10)  # zeros: still SOI .. EOI
        frames[2] = bytes(bad)
        with pytest.raises(InputError, match=r"PixelData is damaged \(ffmpeg's decoder"):
            _jpeg_clip(tmp_path / "clip.mp4", frames)

    def test_frame_count_is_checked(self, tmp_path: Path) -> None:
        # Two codestreams in one write: ffmpeg's parser finds 2 frames where 1 was sent.
        frames = [jpeg_frame(0), jpeg_frame(1) + jpeg_frame(2)]
        with pytest.raises(EncodeError, match="ffmpeg wrote 3 frames for the 2 JPEG frames sent"):
            _jpeg_clip(tmp_path / "clip.mp4", frames)
