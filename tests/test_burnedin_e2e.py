"""Burned-in text end to end: a fake name drawn into a banner never survives masking, in any
frame of any output format; exported with --accept-burned-in and no mask, OCR reads it
(which proves the check can fail). Opt-in: needs pytesseract and Debian's tesseract-ocr."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from dcmexport import api
from dcmexport.deid import Key
from tests.samplegen import make_us_rgb_cine, write_dataset

pytest.importorskip("pytesseract")
pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract (Debian tesseract-ocr) not installed"),
]

KEY = Key(b"burned-in-e2e-key-0123456789abcd")
#: Distinctive parts of the banner text "DOE^JANE FAKE-MRN-0000" that OCR reads reliably.
TOKENS = ("FAKE", "MRN", "JANE")


def _frames(path: Path) -> list[np.ndarray]:
    from dcmexport.encode import read_video_frames

    if path.suffix in (".mp4", ".webm", ".gif"):
        return list(read_video_frames(path))
    if path.suffix == ".tiff":
        return [tifffile.imread(path)]
    return [np.asarray(Image.open(path).convert("RGB"))]


def _hits(outputs: list[Path]) -> list[str]:
    from dcmexport.mask.ocr import read_text

    found = []
    for out in outputs:
        for frame in _frames(out):
            words = " ".join(read_text(frame)).upper()
            found += [t for t in TOKENS if t in words]
    return found


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(make_us_rgb_cine(frames=3), tmp_path_factory.mktemp("in") / "us.dcm")


@pytest.mark.parametrize("fmt", ["png", "jpg", "tiff", "mp4", "webm", "gif"])
def test_masked_outputs_carry_no_trace_of_the_name(fmt: str, clip: Path, tmp_path: Path) -> None:
    frames = {"frames": "all"} if fmt in ("png", "jpg", "tiff") else {}
    result = api.export([clip], tmp_path, key=KEY, format=fmt, **frames).results[0]
    assert result.status == "written", result.reason
    assert len(result.outputs) == (3 if frames else 1)
    assert _hits(result.outputs) == []


@pytest.mark.parametrize("fmt", ["png", "mp4"])
def test_unmasked_export_is_readable_so_the_check_can_fail(fmt: str, clip: Path, tmp_path: Path) -> None:
    result = api.export([clip], tmp_path, key=KEY, format=fmt, accept_burned_in=True, mask_us_regions=False,
                        mask_presets=False).results[0]
    assert result.status == "written", result.reason
    assert _hits(result.outputs), "OCR should read the burned-in name when nothing is masked"


def test_ocr_check_strict_refuses_what_masks_miss(clip: Path, tmp_path: Path) -> None:
    result = api.export([clip], tmp_path, key=KEY, format="png", accept_burned_in=True, mask_us_regions=False,
                        mask_presets=False, ocr_check="strict").results[0]
    assert result.status == "refused" and "Tesseract still reads" in result.reason
    assert not list(tmp_path.glob("*.png"))
    ok = api.export([clip], tmp_path / "masked", key=KEY, format="png", ocr_check="strict").results[0]
    assert ok.status == "written", ok.reason
