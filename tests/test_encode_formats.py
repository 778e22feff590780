"""The output-format registry (``dcmexport.encode.formats``): every entry writes, verifies and reviews;
options are validated against the chosen format once, at the boundary (issue #18 items 4-5, #19 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.cli import app
from dcmexport.deid import Key
from dcmexport.encode.formats import FORMATS, OutputFormat, coerce_format, format_for_suffix
from dcmexport.encode.probe import probe_video
from dcmexport.encode.video import VideoWriter
from dcmexport.errors import UsageError
from dcmexport.options import build_options
from dcmexport.samples import make_ct, make_us_gray_cine, write_dataset
from tests.conftest import data_store_file

KEY = Key(b"formats-test-key-0123456789abcde")
runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    return {
        "still": write_dataset(make_ct(), root / "in" / "ct.dcm"),
        "clip": write_dataset(make_us_gray_cine(frames=6), root / "in" / "us.dcm"),
        "root": root,
    }


def test_every_format_has_one_entry_and_auto_none() -> None:
    assert set(FORMATS) == set(OutputFormat) - {OutputFormat.AUTO}
    for fmt, spec in FORMATS.items():
        assert spec.format is fmt and fmt.extension == spec.extension and spec.extension in spec.suffixes
        assert format_for_suffix(spec.extension.upper()) is spec
        assert fmt.is_video == spec.clip
        assert (spec.crf_range is None) == (spec.default_crf is None)
        if spec.crf_range:
            assert spec.crf_range[0] <= spec.default_crf <= spec.crf_range[1]  # type: ignore[operator]


@pytest.mark.parametrize("fmt", sorted(FORMATS, key=str))
def test_write_verify_review_each_format(inputs: dict[str, Path], tmp_path: Path, fmt: OutputFormat) -> None:
    """Walk the registry: each format is written by the pipeline, read back by its entry, passes verify
    against the input, and gets a preview on the review page."""
    from dcmexport.audit.review import build_review_html
    from dcmexport.audit.verify import verify_paths

    spec = fmt.spec
    src = inputs["clip" if spec.clip else "still"]
    out = tmp_path / "out"
    batch = api.export([src], out, format=fmt.value, key=KEY, accept_burned_in=True)
    (result,) = batch.results
    assert result.status == "written", result.reason
    (path,) = result.outputs
    assert path.suffix == spec.extension
    frames = list(spec.read_frames(path))
    assert len(frames) == (6 if spec.clip else 1) and all(isinstance(f, np.ndarray) and f.size for f in frames)
    report = verify_paths([out], against=[src])
    assert report.exit_code == 0, [(f.path, f.problem) for f in report.findings][:5]
    html = build_review_html(out)
    assert "data:image/png;base64," in html and path.name in html


class TestCrf:
    def test_each_format_gets_its_own_default(self) -> None:
        """WebM's CRF 32 is reachable: the API and CLI pass None unless --crf is given (#18 item 4)."""
        assert build_options("o", format="webm").encode.crf is None
        assert build_options("o").encode.crf is None
        for fmt in (OutputFormat.MP4, OutputFormat.WEBM):
            assert VideoWriter(Path("unused"), fmt, fps=10).crf == fmt.spec.default_crf
        assert OutputFormat.WEBM.spec.default_crf == 32 and OutputFormat.MP4.spec.default_crf == 18

    def test_teaching_video_preset_with_webm_keeps_webm_default(self, inputs: dict[str, Path],
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[int | None] = []
        real_init = VideoWriter.__init__

        def spy(self: VideoWriter, *args: object, **kwargs: object) -> None:
            real_init(self, *args, **kwargs)  # type: ignore[arg-type]
            seen.append(self.crf)

        monkeypatch.setattr(VideoWriter, "__init__", spy)
        res = runner.invoke(app, ["export", str(inputs["clip"]), "--out", str(tmp_path / "o"), "--preset",
                                  "teaching-video", "--format", "webm", "--accept-burned-in", "-q"],
                            env={"DCMEXPORT_KEY": "k" * 64})
        assert res.exit_code == 0, res.output
        assert seen == [32]

    @pytest.mark.parametrize(("fmt", "crf", "ok"), [("mp4", 51, True), ("mp4", 52, False), ("mp4", 55, False),
                                                     ("webm", 63, True), ("webm", 64, False), ("auto", 55, False),
                                                     ("png", 20, False), ("gif", 20, False)])
    def test_validated_once_against_the_chosen_format(self, fmt: str, crf: int, ok: bool) -> None:
        if ok:
            assert build_options("o", format=fmt, crf=crf).encode.crf == crf
        else:
            with pytest.raises(UsageError, match="--crf"):
                build_options("o", format=fmt, crf=crf)

    def test_cli_crf_out_of_range_is_a_usage_error(self, inputs: dict[str, Path], tmp_path: Path) -> None:
        """Was: every object failed (exit 1); now one line, exit 2, nothing written (#18 item 5)."""
        out = tmp_path / "o"
        res = runner.invoke(app, ["export", str(inputs["clip"]), "--out", str(out), "--format", "mp4",
                                  "--crf", "55"], env={"DCMEXPORT_KEY": "k" * 64})
        assert res.exit_code == 2 and "--crf for mp4 must be 0..51" in res.output
        assert not out.exists() or not any(out.iterdir())


def test_coerce_format_aliases() -> None:
    assert coerce_format("JPEG") is OutputFormat.JPG and coerce_format(".tif") is OutputFormat.TIFF
    with pytest.raises(ValueError):
        coerce_format("bmp")


def test_gif_faster_than_50_fps_keeps_every_frame_and_says_so(tmp_path: Path) -> None:
    """emri_small (pydicom-data, 10 frames) at --fps 60 and 100: the GIF holds 10 frames at 50 fps (ffprobe),
    and the result reports the rate the file holds, with a note (#19 item 5: was 8 and 5 frames)."""
    src = data_store_file("emri_small.dcm")
    for fps in (60, 100):
        out = tmp_path / f"gif{fps}"
        (result,) = api.export([src], out, format="gif", fps=fps, key=KEY).results
        assert result.status == "written", result.reason
        info = probe_video(result.outputs[0])
        assert info.frames == result.frames == 10
        assert result.fps == 50 and info.fps == pytest.approx(50, rel=0.02)
        assert any("rate lowered from" in n and "every frame kept" in n for n in result.notes)
    # At or below 50 fps nothing changes and nothing is said.
    (result,) = api.export([src], tmp_path / "gif30", format="gif", fps=30, key=KEY).results
    assert result.fps == 30 and not any("rate lowered" in n for n in result.notes)


def test_cli_json_reports_the_lowered_rate(tmp_path: Path) -> None:
    src = data_store_file("emri_small.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--format", "gif", "--fps", "60",
                              "--json"], env={"DCMEXPORT_KEY": "k" * 64})
    assert res.exit_code == 0, res.output
    (obj,) = json.loads(res.stdout)["objects"]
    assert obj["fps"] == 50 and obj["frames"] == 10

