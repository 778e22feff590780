"""OCR backend and OCR verification of masking (opt-in: needs pytesseract and the tesseract program).

Real files used for the "text outside the regions" check, chosen because Tesseract
reads words of 4+ letters outside their ultrasound regions before masking:
deid-data GREYSCALE_IMAGE.dcm (Philips, demographics line above the region),
RGB_IMAGE.dcm (Siemens, two header lines and a parameter column to the right) and
RGB_CINE.dcm (Terason cine, header band and right-hand parameter column; first and last frame).
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dcmexport.errors import BurnedInError, MissingDependencyError
from dcmexport.mask import apply_plan_to_dataset, ocr, plan_masks, us_regions_from_dataset
from dcmexport.mask.rects import keep_mask
from dcmexport.options import MaskOptions, MaskRect

needs_tesseract = pytest.mark.skipif(not ocr.ocr_available(), reason="pytesseract or tesseract not installed")


def long_words(words: list[str]) -> list[str]:
    """Words with at least four letters: what a leaked name, place or month looks like."""
    return [w for w in words if sum(ch.isalpha() for ch in w) >= 4]


class TestMissingDependency:
    def test_no_pytesseract(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "pytesseract", None)  # import now raises ImportError
        assert ocr.ocr_available() is False
        with pytest.raises(MissingDependencyError) as info:
            ocr.read_text(np.zeros((10, 10), np.uint8))
        assert "pip install dcmexport[ocr]" in str(info.value) and "tesseract-ocr" in str(info.value)

    def test_no_tesseract_program(self, monkeypatch: pytest.MonkeyPatch) -> None:
        pytesseract = pytest.importorskip("pytesseract")
        monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
        assert ocr.ocr_available() is False
        with pytest.raises(MissingDependencyError, match="tesseract-ocr"):
            ocr.read_text(np.zeros((10, 10), np.uint8))


# --------------------------------------------------------------------------- synthetic banner

NAME = ("JOHNSON", "MARGARET")
BANNER_ROWS = 50


def banner_dataset(frames: int = 3) -> Dataset:
    """A multi-frame secondary capture whose top banner carries a drawn patient name."""
    font = ImageFont.load_default(size=36)
    stack = []
    for i in range(frames):
        image = Image.new("L", (480, 240), 0)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, 479, BANNER_ROWS - 1), fill=230)
        draw.text((10, 5), " ".join(NAME), font=font, fill=0)
        # "anatomy": a smooth blob that moves between frames, no text
        yy, xx = np.mgrid[0:240, 0:480]
        blob = 200 * np.exp(-(((xx - 150 - 60 * i) ** 2) + (yy - 150) ** 2) / 2000.0)
        arr = np.asarray(image).astype(np.float64)
        arr[BANNER_ROWS:] = blob[BANNER_ROWS:]
        stack.append(arr.astype(np.uint8))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.2"  # Multi-frame Grayscale Byte SC
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.set_pixel_data(np.stack(stack), "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


def _frames_after(ds: Dataset) -> np.ndarray:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf).pixel_array


@needs_tesseract
@pytest.mark.oracle
class TestBannerName:
    def test_masked_banner_leaves_no_trace(self) -> None:
        ds = banner_dataset()
        with pytest.raises(BurnedInError):
            plan_masks(ds, MaskOptions())  # SC without a mask is refused
        plan = plan_masks(ds, MaskOptions(rects=(MaskRect(0, 0, 480, BANNER_ROWS),)))
        apply_plan_to_dataset(ds, plan)
        for frame in _frames_after(ds):
            words = ocr.read_text(frame)
            assert long_words(words) == [], words
            assert not any(part.lower() in w.lower() for part in NAME for w in words)

    def test_unmasked_banner_is_read(self) -> None:
        # Same object exported with --accept-burned-in: the check can fail.
        ds = banner_dataset()
        plan = plan_masks(ds, MaskOptions(accept_burned_in=True))
        assert plan.is_empty
        for frame in _frames_after(ds):
            upper = [w.upper() for w in ocr.read_text(frame)]
            assert all(part in upper for part in NAME), upper


# --------------------------------------------------------------------------- real ultrasound


def deid_us(name: str) -> Path:
    deid_data = pytest.importorskip("deid_data")
    return Path(deid_data.__file__).parent / "data" / "ultrasounds" / name


@pytest.fixture(scope="module")
def rgb_cine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ocr_cine")
    with zipfile.ZipFile(deid_us("RGB_CINE.zip")) as zf:
        zf.extractall(target)
    return next(target.rglob("*.dcm"))


def _outside_only(frame: np.ndarray, keep: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    """The frame with the kept regions blacked out, so OCR sees only the border."""
    out = frame.copy()
    out[keep_mask(keep, *frame.shape[:2])] = 0
    return out


def _check_outside(path: Path, frame_indices: tuple[int, ...]) -> None:
    ds = pydicom.dcmread(path)
    plan = plan_masks(ds, MaskOptions(use_presets=False))
    keep = us_regions_from_dataset(ds)
    assert plan.keep == keep and keep
    arr = ds.pixel_array
    before = arr[np.newaxis] if arr.ndim == (2 if int(ds.SamplesPerPixel) == 1 else 3) else arr
    apply_plan_to_dataset(ds, plan)
    after = _frames_after(ds)
    after = after[np.newaxis] if after.ndim == before.ndim - 1 else after
    for i in frame_indices:
        unmasked_words = long_words(ocr.read_text(_outside_only(before[i], keep)))
        assert unmasked_words, f"frame {i}: OCR reads nothing outside the regions even before masking"
        masked_words = long_words(ocr.read_text(_outside_only(after[i], keep)))
        assert masked_words == [], masked_words


@needs_tesseract
@pytest.mark.oracle
class TestRealUltrasoundOcr:
    @pytest.mark.parametrize("name", ["GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm"])
    def test_stills(self, name: str) -> None:
        _check_outside(deid_us(name), (0,))

    def test_rgb_cine_first_and_last_frame(self, rgb_cine: Path) -> None:
        _check_outside(rgb_cine, (0, -1))

    def test_preset_removes_header_words(self) -> None:
        # RGB_IMAGE matches the CTP/deid Siemens S2000 rule (top 60 rows). With regions off,
        # no word OCR reads in the header before masking survives anywhere in the masked frame.
        ds = pydicom.dcmread(deid_us("RGB_IMAGE.dcm"))
        frame = ds.pixel_array.copy()
        header_words = set(long_words(ocr.read_text(frame[:60])))
        assert len(header_words) >= 3, header_words
        plan = plan_masks(ds, MaskOptions(us_regions=False))
        assert plan.sources == ("preset:us-siemens-s2000-768-1024",)
        apply_plan_to_dataset(ds, plan)
        masked_words = set(ocr.read_text(_frames_after(ds)))
        assert header_words.isdisjoint(masked_words), header_words & masked_words


@needs_tesseract
def test_tesseract_version_reported() -> None:
    assert ocr.tesseract_version()[0].isdigit()
