"""Teaching clips (issue #16 items 1-4): trim, speed, loop, true variable frame rate, animated WebP and APNG,
MP4 that players open; on generated clips with a known Frame Time Vector and on real clips."""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.cli import app
from dcmexport.deid import Key
from dcmexport.encode.h264 import choose_level
from dcmexport.encode.probe import probe_timestamps, probe_video
from dcmexport.encode.video import VideoWriter
from dcmexport.errors import UsageError
from dcmexport.options import FrameRange, OutputFormat, build_options, parse_frame_range
from dcmexport.render.frame_times import apply_speed_and_floor, frame_times_from_dataset, is_constant
from tests.conftest import data_store_file
from tests.samplegen import make_us_gray_cine, make_us_rgb_cine, write_dataset

KEY = Key(b"clips-test-key-0123456789abcdef0")
runner = CliRunner()
#: A Frame Time Vector (ms) that varies: frame 0's entry is the increment before it (0).
VECTOR = [0, 40, 40, 66.7, 100, 33.3, 20, 125.5, 40, 57.9671, 80, 40]


def cumulative(vector: Sequence[float]) -> list[float]:
    """Start time of each frame in seconds, from a Frame Time Vector in ms."""
    return [float(t) / 1000 for t in np.cumsum([0.0, *vector[1:]])]


def with_vector(ds: Dataset, vector: Sequence[float]) -> Dataset:
    ds.FrameTimeVector = [f"{v:g}" for v in vector]
    ds.FrameIncrementPointer = 0x00181065
    for keyword in ("FrameTime", "CineRate"):
        if keyword in ds:
            delattr(ds, keyword)
    return ds


@pytest.fixture(scope="module")
def vfr_gray(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-bit grey cine of 12 frames timed only by a varying Frame Time Vector, odd-sized (97 x 75)."""
    ds = with_vector(make_us_gray_cine(rows=75, columns=97, frames=len(VECTOR)), VECTOR)
    return write_dataset(ds, tmp_path_factory.mktemp("vfr") / "gray.dcm")


def export_one(src: Path, out: Path, **kwargs: object) -> api.ExportResult:
    (result,) = api.export([src], out, key=KEY, accept_burned_in=True, **kwargs).results  # type: ignore[arg-type]
    assert result.status == "written", result.reason
    return result


class TestOptions:
    @pytest.mark.parametrize(("text", "expected"), [
        ("10:40", FrameRange(10, 40)), ("0:-1:2", FrameRange(0, -1, 2)), (":5", FrameRange(None, 5)),
        ("-10:", FrameRange(-10, None)), ("3:9:3", FrameRange(3, 9, 3)),
    ])  # fmt: skip
    def test_frame_range_is_a_python_slice(self, text: str, expected: FrameRange) -> None:
        got = parse_frame_range(text)
        assert got == expected and got.describe() == text
        assert list(got.select(20)) == list(range(20))[slice(expected.start, expected.stop, expected.step)]

    @pytest.mark.parametrize("text", ["10", "a:b", "1:2:0", "1:2:-1", "1:2:3:4"])
    def test_bad_frame_range(self, text: str) -> None:
        with pytest.raises(UsageError, match="--frame-range"):
            build_options("o", frame_range=text)

    @pytest.mark.parametrize(("kwargs", "match"), [
        ({"speed": 0.2}, "--speed"), ({"speed": 4.5}, "--speed"), ({"speed": 2, "format": "png"}, "apply to clips"),
        ({"frame_range": "0:5", "format": "jpg"}, "apply to clips"), ({"loop": 2}, "--loop applies"),
        ({"loop": 2, "format": "mp4"}, "--loop applies"), ({"loop": -1, "format": "gif"}, "--loop"),
        ({"lossless": True, "format": "gif"}, "--lossless"), ({"max_size": "1920"}, "--max-size"),
        ({"max_size": "8x8"}, "--max-size"), ({"max_fps": 0.5}, "--max-fps"),
        ({"frame_range": "0:5", "series": True}, "--series"),
    ])  # fmt: skip
    def test_validated_at_the_boundary(self, kwargs: dict[str, object], match: str) -> None:
        with pytest.raises(UsageError, match=match):
            build_options("o", **kwargs)  # type: ignore[arg-type]

    def test_good_values(self) -> None:
        enc = build_options("o", format="webp", frame_range="2:8", speed=0.5, loop=3, lossless=True).encode
        assert (enc.frame_range, enc.speed, enc.loop, enc.lossless) == (FrameRange(2, 8), 0.5, 3, True)
        assert build_options("o", max_size="1920x1080").render.max_size == (1920, 1080)

    def test_cli_usage_error_exit_2(self, vfr_gray: Path, tmp_path: Path) -> None:
        res = runner.invoke(app, ["export", str(vfr_gray), "--out", str(tmp_path / "o"), "--speed", "9"],
                            env={"DCMEXPORT_KEY": "k" * 64})
        assert res.exit_code == 2 and "--speed must be between 0.25 and 4" in res.output


class TestFrameTimes:
    def test_vector_gives_cumulative_times(self) -> None:
        ds = with_vector(Dataset(), VECTOR)
        times = frame_times_from_dataset(ds, len(VECTOR), "FrameTimeVector")
        assert times is not None and np.allclose(np.array(times) / 1000, cumulative(VECTOR))
        assert frame_times_from_dataset(ds, len(VECTOR) + 1, "FrameTimeVector") is None  # wrong length
        assert frame_times_from_dataset(ds, len(VECTOR), "FrameTime") is None  # the rate came from elsewhere
        assert frame_times_from_dataset(with_vector(Dataset(), [0, 10, -5]), 3, "FrameTimeVector") is None

    def test_constant_and_speed(self) -> None:
        assert is_constant([0, 33.3, 66.6, 99.9]) and not is_constant([0, 33.3, 66.6, 100])
        times, lengthened = apply_speed_and_floor([0, 10, 50, 60], 2.0, 1000 / 90)
        assert lengthened == 2 and times == pytest.approx([0, 1 / 90, 1 / 90 + 0.02, 2 / 90 + 0.02])


class TestVariableFrameRate:
    @pytest.mark.parametrize("fmt", ["mp4", "webm"])
    def test_timestamps_match_the_vector_within_1ms(self, vfr_gray: Path, tmp_path: Path, fmt: str) -> None:
        result = export_one(vfr_gray, tmp_path / fmt, format=fmt)
        got = probe_timestamps(result.outputs[0])
        assert len(got) == len(VECTOR)
        assert np.max(np.abs(np.array(got) - cumulative(VECTOR))) < 0.001
        assert any(n.startswith("variable frame rate") for n in result.notes)
        assert result.fps == pytest.approx(1000 / np.mean(VECTOR[1:]))

    def test_range_step_and_speed(self, vfr_gray: Path, tmp_path: Path) -> None:
        """Frames 1, 3, 5, 7, 9 at speed 2: each kept frame lasts until the next kept one, halved."""
        result = export_one(vfr_gray, tmp_path / "cut", format="mp4", frame_range="1:10:2", speed=2)
        starts = cumulative(VECTOR)
        expected = [(starts[i] - starts[1]) / 2 for i in (1, 3, 5, 7, 9)]
        got = probe_timestamps(result.outputs[0])
        assert np.max(np.abs(np.array(got) - expected)) < 0.001
        assert result.frames == 5 and any(n.startswith("cut: frames 1:10:2 of 12") for n in result.notes)

    def test_enhanced_frame_content_times(self, tmp_path: Path) -> None:
        """pydicom-data's enhanced MR (10 frames) given Frame Reference DateTimes 0, 50, 150 ... ms apart."""
        ds = pydicom.dcmread(data_store_file("emri_small.dcm"))
        offsets_ms = [0, 50, 150, 200, 400, 450, 500, 700, 750, 1000]
        groups = ds.get("PerFrameFunctionalGroupsSequence") or DicomSequence([Dataset() for _ in offsets_ms])
        for item, ms in zip(groups, offsets_ms, strict=True):
            content = Dataset()
            content.FrameReferenceDateTime = f"20240101120000.{ms * 1000:06d}" if ms < 1000 else "20240101120001"
            item.FrameContentSequence = DicomSequence([content])
        ds.PerFrameFunctionalGroupsSequence = groups
        src = tmp_path / "emri_times.dcm"
        ds.save_as(src)
        result = export_one(src, tmp_path / "out", format="webm")
        got = probe_timestamps(result.outputs[0])
        assert np.max(np.abs(np.array(got) - np.array(offsets_ms) / 1000)) < 0.001
        assert any("Frame Content Sequence" in n for n in result.notes)

    def test_jpeg_passthrough_keeps_per_frame_times(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """pydicom-data's 120-frame YBR JPEG cine with a varying vector: the undecoded frames go through the
        timestamped stream (V_MJPEG), the first 30 kept."""
        from dcmexport.encode import video

        ds = pydicom.dcmread(data_store_file("color3d_jpeg_baseline.dcm"))
        vector = [0] + [33.333 if i % 3 else 66.667 for i in range(1, 120)]
        src = tmp_path / "jpeg_vfr.dcm"
        with_vector(ds, vector).save_as(src)
        used: list[bool] = []
        real_write = video.JpegStreamWriter.write
        monkeypatch.setattr(video.JpegStreamWriter, "write",
                            lambda self, jpeg: (used.append(True), real_write(self, jpeg))[1])
        result = export_one(src, tmp_path / "out", format="mp4", frame_range="0:30")
        assert used, "the JPEG passthrough was not used"
        got = probe_timestamps(result.outputs[0])
        assert np.max(np.abs(np.array(got) - cumulative(vector)[:30])) < 0.001

    def test_constant_vector_of_a_real_cine_stays_constant(self, deid_cine_dir: Path, tmp_path: Path) -> None:
        """deid-data's RGB_CINE (51 frames, 1016x672) is timed by a constant Frame Time Vector of 57.9671 ms:
        a constant-rate file as before (first 8 frames, to keep the test short)."""
        src = deid_cine_dir / "RGB_CINE" / "RGB_CINE.dcm"
        result = export_one(src, tmp_path / "out", format="mp4", frame_range=":8")
        got = np.array(probe_timestamps(result.outputs[0]))
        assert len(got) == 8 and np.ptp(np.diff(got)) < 1e-4
        assert np.diff(got).mean() == pytest.approx(0.0579671, abs=1e-4)
        assert not any(n.startswith("variable") for n in result.notes) and result.fps_source == "FrameTimeVector"


class TestTrimAndSpeedOnRealClips:
    def test_greyscale_cine_cut_and_slowed(self, deid_cine_dir: Path, tmp_path: Path) -> None:
        """deid-data's GREYSCALE_CINE (27 frames, Frame Time 33.333 ms): frames 5:-5:2 at half speed are
        9 frames at 30 / 2 * 0.5 = 7.5 fps; the manifest and the review page say what was cut."""
        from dcmexport.audit.review import build_review_html

        src = deid_cine_dir / "GREYSCALE_CINE" / "GREYSCALE_CINE.dcm"
        out = tmp_path / "out"
        result = export_one(src, out, format="webm", frame_range="5:-5:2", speed=0.5)
        info = probe_video(result.outputs[0])
        assert info.frames == 9 == result.frames and info.fps == pytest.approx(7.5, rel=1e-3)
        record = next(json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()
                      if '"outputs"' in line)
        assert record["frames"] == 9 and any(n.startswith("cut: frames 5:-5:2 of 27: 9 kept") for n in record["notes"])
        assert any(n.startswith("speed 0.5x") for n in record["notes"])
        html = build_review_html(out)
        assert "cut: frames 5:-5:2 of 27" in html and "manifest frames" not in html

    def test_range_keeping_one_frame_fails_that_object(self, vfr_gray: Path, tmp_path: Path) -> None:
        (result,) = api.export([vfr_gray], tmp_path / "o", format="mp4", frame_range="3:4", key=KEY).results
        assert result.status == "failed" and "keeps 1 of the 12 frames" in (result.reason or "")
        assert not result.outputs


def _gray_ramp_frames(n: int = 4, rows: int = 33, cols: int = 47) -> list[np.ndarray]:
    base = (np.arange(rows * cols) % 256).reshape(rows, cols).astype(np.uint8)
    return [np.roll(base, 7 * i) for i in range(n)]


class TestAnimatedImages:
    @pytest.mark.parametrize(("fmt", "loop"), [("gif", 0), ("gif", 1), ("gif", 3), ("webp", 0), ("webp", 3),
                                               ("apng", 0), ("apng", 2)])
    def test_loop_count_is_plays(self, tmp_path: Path, fmt: str, loop: int) -> None:
        path = tmp_path / f"a.{fmt}"
        with VideoWriter(path, OutputFormat(fmt), fps=10, loop=loop) as writer:
            for frame in _gray_ramp_frames():
                writer.write(frame)
        with Image.open(path) as im:
            assert im.n_frames == 4
            stored = im.info.get("loop")
        # Pillow reports GIF's NETSCAPE count (repeats: plays - 1; none for one play), WebP's and APNG's plays.
        expected = {("gif", 0): 0, ("gif", 1): None, ("gif", 3): 2}.get((fmt, loop), loop)
        assert stored == expected

    @pytest.mark.parametrize("fmt", ["apng", "webp"])
    def test_lossless_keeps_every_level(self, tmp_path: Path, fmt: str) -> None:
        frames = _gray_ramp_frames()
        path = tmp_path / f"a.{fmt}"
        with VideoWriter(path, OutputFormat(fmt), fps=10, lossless=fmt == "webp") as writer:
            for frame in frames:
                writer.write(frame)
        with Image.open(path) as im:
            for i, frame in enumerate(frames):
                im.seek(i)
                assert np.array_equal(np.asarray(im.convert("L")), frame)

    def test_lossy_webp_quality_and_rgb(self, tmp_path: Path) -> None:
        frames = [np.dstack([f, 255 - f, f // 2]) for f in _gray_ramp_frames()]
        sizes = {}
        for quality in (30, 95):
            path = tmp_path / f"q{quality}.webp"
            with VideoWriter(path, OutputFormat.WEBP, fps=10, quality=quality) as writer:
                for frame in frames:
                    writer.write(frame)
            sizes[quality] = path.stat().st_size
            decoded = list(OutputFormat.WEBP.spec.read_frames(path))
            assert len(decoded) == 4 and decoded[0].shape == (33, 47, 3)
        assert sizes[30] < sizes[95]

    @pytest.mark.parametrize("fmt", ["gif", "webp", "apng"])
    def test_real_rgb_clip_with_range(self, tmp_path: Path, fmt: str) -> None:
        """pydicom-data's YBR JPEG cine (120 frames 640x480): frames 0:12, read back frame by frame; the
        per-frame durations add up to 12 frames at 30 fps. libwebp merges identical consecutive frames into
        one (their durations add up), so a WebP may hold fewer frames."""
        src = data_store_file("color3d_jpeg_baseline.dcm")
        result = export_one(src, tmp_path / fmt, format=fmt, frame_range="0:12", max_size="320x240")
        with Image.open(result.outputs[0]) as im:
            assert (im.n_frames <= 12 if fmt == "webp" else im.n_frames == 12) and im.size == (320, 240)
            total = 0
            for i in range(im.n_frames):
                im.seek(i)
                im.load()  # Pillow's WebP plugin reads a frame's duration when it decodes it
                total += im.info["duration"]
        assert total == pytest.approx(400, abs=10)

    @pytest.mark.parametrize("fmt", ["gif", "webp", "apng"])
    def test_variable_rate_durations(self, vfr_gray: Path, tmp_path: Path, fmt: str) -> None:
        """Per-frame durations follow the vector (GIF on its 10 ms grid): its shortest interval, 20 ms, is
        within what every format plays honestly (GIF 50 fps, WebP and APNG 90 fps)."""
        result = export_one(vfr_gray, tmp_path / fmt, format=fmt)
        with Image.open(result.outputs[0]) as im:
            durations = []
            for i in range(im.n_frames):
                im.seek(i)
                im.load()
                durations.append(im.info["duration"])
        tolerance = 10 if fmt == "gif" else 1
        assert np.max(np.abs(np.cumsum(durations[:-1]) - np.cumsum(VECTOR[1:]))) <= tolerance


def _mp4_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, payload start, payload end) of the boxes between start and end."""
    boxes, pos, end = [], start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        boxes.append((kind.decode("latin-1"), pos + 8, pos + size))
        pos += size
    return boxes


def _avcc(data: bytes) -> bytes:
    """The avcC payload of the first video sample entry (moov/trak/mdia/minf/stbl/stsd/avc1)."""
    pos = data.find(b"avcC")
    assert pos > 0
    return data[pos + 4:pos + 8]


class TestMp4ForPlayers:
    def test_high_profile_level_yuv420p_even_faststart_bt709(self, vfr_gray: Path, tmp_path: Path) -> None:
        result = export_one(vfr_gray, tmp_path / "mp4", format="mp4")
        path = result.outputs[0]
        data = path.read_bytes()
        top = [kind for kind, _, _ in _mp4_boxes(data)]
        assert top.index("moov") < top.index("mdat")  # +faststart
        version, profile, _compat, level = _avcc(data)
        assert version == 1 and profile == 100 and level == 30  # High, level 3.0 for 98x76 at <= 50 fps
        stderr = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                                capture_output=True, text=True, check=False).stderr
        assert "h264 (High)" in stderr and "yuv420p(tv, bt709" in stderr
        info = probe_video(path)
        assert (info.width, info.height) == (98, 76)  # 97 x 75 padded to even

    @pytest.mark.parametrize(("size", "fps", "level"), [((640, 480), 30, "3"), ((1280, 720), 30, "3.1"),
                                                        ((1920, 1080), 30, "4"), ((1920, 1080), 60, "4.2"),
                                                        ((3840, 2160), 30, "5.1")])
    def test_level_fits_size_and_rate(self, size: tuple[int, int], fps: float, level: str) -> None:
        assert choose_level(*size, fps).name == level

    def test_lossless_crf_0_is_not_forced_to_high(self) -> None:
        """CRF 0 is lossless, which High profile cannot carry: x264 chooses High 4:4:4 Predictive itself."""
        from dcmexport.encode.h264 import x264_level_args

        assert x264_level_args(640, 480, 30, 18)[:2] == ["-profile:v", "high"]
        assert "-profile:v" not in x264_level_args(640, 480, 30, 0)
        assert x264_level_args(640, 480, 30, 18)[2:] == ["-level:v", "3", "-maxrate", "12500k", "-bufsize", "12500k"]

    def test_teaching_video_preset_caps_size_and_rate(self, tmp_path: Path) -> None:
        """A 2400x500 clip at 120 fps becomes 1920x400 at 60 fps, every frame kept (the preset's caps)."""
        ds = make_us_rgb_cine(rows=500, columns=2400, frames=4, frame_time_ms=1000 / 120)
        src = write_dataset(ds, tmp_path / "big.dcm")
        res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--preset", "teaching-video",
                                  "--accept-burned-in", "--json"], env={"DCMEXPORT_KEY": "k" * 64})
        assert res.exit_code == 0, res.output
        (obj,) = json.loads(res.stdout)["objects"]
        assert obj["fps"] == 60 and any("--max-fps plays at most 60" in n for n in obj["notes"])
        (output,) = (tmp_path / "o").glob("*.mp4")
        info = probe_video(output)
        assert (info.width, info.height) == (1920, 400) and info.frames == 4
        assert info.fps == pytest.approx(60, rel=1e-3)


def test_verify_finds_metadata_chunks_in_webp(tmp_path: Path) -> None:
    """verify reads WebP's RIFF chunks: what dcmexport writes is clean; an added EXIF chunk is metadata."""
    from dcmexport.audit.verify import iter_webp_metadata

    path = tmp_path / "a.webp"
    with VideoWriter(path, OutputFormat.WEBP, fps=10) as writer:
        for frame in _gray_ramp_frames():
            writer.write(frame)
    data = path.read_bytes()
    assert list(iter_webp_metadata(data)) == []
    exif = b"EXIF" + struct.pack("<I", 6) + b"Exif\0\0"
    tampered = data[:4] + struct.pack("<I", len(data) - 8 + len(exif)) + data[8:] + exif
    assert [item.detail for item in iter_webp_metadata(tampered)] == ["WebP EXIF chunk"]


def test_cli_cut_loop_apng(vfr_gray: Path, tmp_path: Path) -> None:
    """The CLI wires --frame-range, --speed and --loop through to the file: 4 frames, plays twice."""
    out = tmp_path / "o"
    res = runner.invoke(app, ["export", str(vfr_gray), "--out", str(out), "--format", "apng", "--frame-range", "0:4",
                              "--speed", "2", "--loop", "2", "--json"], env={"DCMEXPORT_KEY": "k" * 64})
    assert res.exit_code == 0, res.output
    (obj,) = json.loads(res.stdout)["objects"]
    assert obj["frames"] == 4 and any(n.startswith("cut: frames 0:4 of 12") for n in obj["notes"])
    (path,) = out.glob("*.apng")
    with Image.open(path) as im:
        assert im.n_frames == 4 and im.info["loop"] == 2
        durations = []
        for i in range(4):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[:3] == pytest.approx([v / 2 for v in VECTOR[1:4]], abs=0.5)


def test_variable_rate_faster_than_the_format_is_lengthened(tmp_path: Path) -> None:
    """10 ms intervals are too fast for GIF (browsers play them as 100 ms): lengthened to 20 ms, every frame
    kept, and said; the 50 ms ones stay."""
    vector = [0, 10, 50, 10, 50, 10]
    src = write_dataset(with_vector(make_us_gray_cine(frames=len(vector)), vector), tmp_path / "fast.dcm")
    result = export_one(src, tmp_path / "gif", format="gif")
    assert any("3 interval(s) lengthened to 20 ms, every frame kept" in n for n in result.notes), result.notes
    with Image.open(result.outputs[0]) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[:-1] == [20, 50, 20, 50, 20]


@pytest.mark.parametrize(("offsets_ms", "positions", "used"), [
    ([0, 40, 100, 130], [1, 2, 3, 4], True),  # a cine: one time point per frame
    ([0, 40, 100, 130], None, True),  # no Temporal Position Index: the times alone decide
    ([0, 40, 100, 130], [1, 1, 2, 2], False),  # two slices per time point: not a cine
    ([0, 40, 100, 130], [1, 1, 1, 1], False),  # a volume
    ([0, 40, 100, 30_130], None, False),  # 30 s between frames: slower than 0.1 fps, not a cine
    ([0, 40, 40, 130], None, False),  # two frames at one time
])  # fmt: skip
def test_frame_content_times_only_for_a_cine(offsets_ms: list[int], positions: list[int] | None,
                                             used: bool) -> None:
    ds = Dataset()
    items = []
    for i, ms in enumerate(offsets_ms):
        content = Dataset()
        seconds, millis = divmod(ms, 1000)
        content.FrameAcquisitionDateTime = f"202401011200{seconds:02d}.{millis * 1000:06d}"
        if positions is not None:
            content.TemporalPositionIndex = positions[i]
        item = Dataset()
        item.FrameContentSequence = DicomSequence([content])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(items)
    times = frame_times_from_dataset(ds, len(offsets_ms), "default")
    assert (times == tuple(float(t) for t in offsets_ms)) if used else times is None


def test_ocr_check_of_a_cut_clip_reads_its_first_middle_and_last_frame(vfr_gray: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample OCR check is planned by position among the frames kept: 4 kept frames -> positions 0, 2, 3."""
    from dcmexport.mask import ocr

    read: list[int] = []
    monkeypatch.setattr(ocr, "ocr_available", lambda: True)
    monkeypatch.setattr(ocr, "read_text", lambda image: read.append(int(image.sum())) or [])
    export_one(vfr_gray, tmp_path / "o", format="webm", frame_range="4:8", ocr_check="report")
    assert len(read) == 3
