"""Workflow presets (--preset): slides, case-report, teaching-video; command-line flags win."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from dcmexport.cli import app
from dcmexport.errors import PresetError
from dcmexport.workflows import list_workflows, load_workflow
from tests.samplegen import make_cr_mono1, make_ct, write_dataset

runner = CliRunner()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", "workflow-test-key-0123456789abcdef")


def test_three_workflows_ship_and_validate() -> None:
    assert {"slides", "case-report", "teaching-video"} <= set(list_workflows())
    assert load_workflow("slides")["max_side"] == 1920
    with pytest.raises(PresetError, match="unknown workflow preset"):
        load_workflow("nope")


def test_slides_caps_long_side_and_keeps_aspect(tmp_path: Path) -> None:
    # 1200 rows x 2400 columns, spacing 0.2 x 0.1 -> square pixels at 2400 x 2400 -> capped to 1920 x 1920
    src = write_dataset(make_cr_mono1(rows=1200, columns=2400), tmp_path / "cr.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--preset", "slides", "-q"])
    assert res.exit_code == 0, res.output
    (png,) = (tmp_path / "o").glob("*.png")
    assert Image.open(png).size == (1920, 1920)


def test_case_report_is_16bit_tiff_with_dpi_and_flags_win(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")  # 64 x 64 at 0.7 mm
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--preset", "case-report", "-q"])
    assert res.exit_code == 0, res.output
    (tif,) = (tmp_path / "o").glob("*.tiff")
    with tifffile.TiffFile(tif) as t:
        page = t.pages[0]
        assert page.dtype == np.uint16 and page.shape == (64, 64)
        num, den = page.tags["XResolution"].value
        assert num / den == pytest.approx(25.4 / 0.7, rel=1e-3)  # dots per inch from 0.7 mm pixels
        assert page.tags["ResolutionUnit"].value == 2
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o8"), "--preset", "case-report",
                              "--bit-depth", "8", "-q"])
    (tif8,) = (tmp_path / "o8").glob("*.tiff")
    assert tifffile.imread(tif8).dtype == np.uint8  # the explicit flag beat the preset


def test_teaching_video_is_h264_mp4(tmp_path: Path) -> None:
    from dcmexport.encode import probe_video
    from tests.samplegen import make_us_gray_cine

    src = write_dataset(make_us_gray_cine(frames=5), tmp_path / "g.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--preset", "teaching-video", "-q"])
    assert res.exit_code == 0, res.output
    (mp4,) = (tmp_path / "o").glob("*.mp4")
    info = probe_video(mp4)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p" and info.frames == 5


def test_ultrasound_tiff_dpi_uses_centimetre_regions(tmp_path: Path) -> None:
    from tests.samplegen import make_us_rgb_cine

    # Physical Delta X/Y 0.03 cm = 0.3 mm per pixel -> 25.4 / 0.3 = 84.67 dpi
    src = write_dataset(make_us_rgb_cine(frames=2, physical_delta=(0.03, 0.03)), tmp_path / "us.dcm")
    res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--format", "tiff", "-q"])
    assert res.exit_code == 0, res.output
    (tif,) = (tmp_path / "o").glob("*.tiff")
    with tifffile.TiffFile(tif) as t:
        num, den = t.pages[0].tags["XResolution"].value
    assert num / den == pytest.approx(25.4 / 0.3, rel=1e-3)
