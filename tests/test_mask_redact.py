"""OCR redaction (``--redact-text``, issue #17): classification, boxes, the deferred refusal, the policy, end to end.

The pure parts run everywhere; the parts that run Tesseract are marked ``oracle`` and skip without it.
The full evaluation (300+ planted tokens) is ``bench/ocr_eval.py``; here a seeded sample of
``tests/textgen.py`` scenes keeps the same measures within CI time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont
from pydicom.uid import generate_uid

from dcmexport.errors import BurnedInError, MissingDependencyError
from dcmexport.mask import apply_plan_to_dataset, ocr, plan_masks
from dcmexport.mask.plan import pixel_sources
from dcmexport.mask.redact import (
    apply_ground_fill,
    apply_ink_growth,
    merge_boxes,
    redact_frames,
    sample_frame_indices,
    text_contrast,
)
from dcmexport.mask.words import load_allow_list, looks_like_phi
from dcmexport.options import MaskOptions, RedactText
from tests.test_mask_ocr import NAME, banner_dataset

needs_tesseract = pytest.mark.skipif(not ocr.ocr_available(), reason="pytesseract or tesseract not installed")


# --------------------------------------------------------------------------- words: PHI-like or allowed


class TestClassification:
    @pytest.mark.parametrize("word", ["JOHNSON", "Margaret", "12/03/1971", "1971-03-12", "14:03", "14:03:59",
                                      "12MAR1971", "March", "12345678", "A455598", "2023", "OKAFOR,"])
    def test_phi_like(self, word: str) -> None:
        assert looks_like_phi(word)
        assert not load_allow_list().allows(word)

    @pytest.mark.parametrize("word", ["MI", "TIS", "0.8", "Hz", "dB", "12cm", "cm", "C5-1", "L12-5", "60%",
                                      "-20dB", "TIB:", "(R)", "PW", "THI", "MI0.8", "3.5", "Gain", "TIB:0.5",
                                      "\u2018MI:1.4", "3850Hz"])
    def test_allowed(self, word: str) -> None:
        assert load_allow_list().allows(word)

    @pytest.mark.parametrize("word", ["Mar5", "JAN12", "Dec31", "1540", "Smith", "xq7"])
    def test_not_allowed(self, word: str) -> None:
        assert not load_allow_list().allows(word)

    def test_allow_list_words_are_not_phi_like(self) -> None:
        allow = load_allow_list()
        assert not [w for w in allow.words if looks_like_phi(w)]


# --------------------------------------------------------------------------- boxes


class TestBoxes:
    def test_sampling(self) -> None:
        assert sample_frame_indices(1, all_frames=False, step=10) == [0]
        assert sample_frame_indices(25, all_frames=False, step=10) == [0, 10, 12, 20, 24]
        assert sample_frame_indices(4, all_frames=True, step=10) == [0, 1, 2, 3]
        assert sample_frame_indices(60, all_frames=False, step=100) == [0, 30, 59]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 90), st.integers(0, 90), st.integers(1, 30), st.integers(1, 30)),
                    max_size=12))
    def test_merge_never_unmasks(self, raw: list[tuple[int, int, int, int]]) -> None:
        boxes = [(x, y, x + w, y + h) for x, y, w, h in raw]
        before = np.zeros((130, 130), bool)
        for x0, y0, x1, y1 in boxes:
            before[y0:y1, x0:x1] = True
        merged = merge_boxes(boxes)
        after = np.zeros((130, 130), bool)
        for x0, y0, x1, y1 in merged:
            after[y0:y1, x0:x1] = True
        assert not (before & ~after).any()
        assert len(merged) <= len(set(boxes))

    def test_merge_unites_a_line_but_not_an_l_shape(self) -> None:
        assert merge_boxes([(0, 0, 50, 10), (40, 1, 90, 11)]) == ((0, 0, 90, 11),)
        corner = [(0, 0, 100, 10), (90, 5, 100, 200)]
        assert sorted(merge_boxes(corner)) == sorted(corner)

    def test_ink_growth_follows_a_partly_read_word(self) -> None:
        gray = np.zeros((40, 300), np.uint8)
        font = ImageFont.load_default(size=20)
        image = Image.fromarray(gray)
        ImageDraw.Draw(image).text((10, 10), "VASQUEZ", font=font, fill=255)
        gray = np.asarray(image)
        ys, xs = np.nonzero(gray > 128)
        third = int(xs.min() + (xs.max() - xs.min()) // 3)
        grown = apply_ink_growth(gray, (int(xs.min()), int(ys.min()), third, int(ys.max()) + 1))
        assert grown[0] <= xs.min() and grown[2] >= xs.max() + 1

    def test_contrast_tells_text_from_speckle(self) -> None:
        rng = np.random.default_rng(0)
        speckle = np.clip(rng.rayleigh(38, (30, 120)), 0, 255).astype(np.uint8)
        assert text_contrast(speckle, (0, 0, 120, 30)) < 64
        text = speckle.copy()
        text[10:20, 10:110:4] = 250
        assert text_contrast(text, (0, 0, 120, 30)) >= 64

    def test_ground_fill_hides_the_mask_itself(self) -> None:
        gray = np.full((40, 60), 220, np.uint8)
        gray[10:20, 10:40] = 0  # a blanked box on a light banner
        filled = apply_ground_fill(gray, [(10, 10, 40, 20)])
        assert (filled == 220).all()


# --------------------------------------------------------------------------- the deferred refusal (plan)


class TestDeferredRefusal:
    def test_redact_text_defers_the_refusal_and_the_plan_cannot_be_used(self) -> None:
        ds = banner_dataset(1)
        with pytest.raises(BurnedInError):
            plan_masks(ds, MaskOptions())
        plan = plan_masks(ds, MaskOptions(redact_text=RedactText.ALL))
        assert plan.unresolved is not None and "may carry burned-in text" in plan.unresolved
        with pytest.raises(BurnedInError):
            plan.apply(np.zeros((4, 4), np.uint8))
        with pytest.raises(BurnedInError):
            plan.blank_boxes(4, 4)
        with pytest.raises(BurnedInError):
            apply_plan_to_dataset(ds, plan)  # deid's path, which runs no OCR, refuses
        assert plan_masks(ds, MaskOptions(redact_text=RedactText.ALL)) is not plan  # never memoised

    def test_pixel_sources(self) -> None:
        assert pixel_sources(MaskOptions()) == ()
        assert pixel_sources(MaskOptions(redact_text=RedactText.PHI)) == ("ocr-redact",)

    def test_covered_objects_are_not_deferred(self) -> None:
        plan = plan_masks(banner_dataset(1), MaskOptions(accept_burned_in=True, redact_text=RedactText.ALL))
        assert plan.unresolved is None


# --------------------------------------------------------------------------- Tesseract


def _draw(size: tuple[int, int], texts: list[tuple[tuple[int, int], str, int]]) -> np.ndarray:
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    for (x, y), text, height in texts:
        draw.text((x, y), text, font=ImageFont.load_default(size=height), fill=255)
    return np.asarray(image)


def _covered(boxes: tuple[tuple[int, int, int, int], ...], frame: np.ndarray, region: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = region
    ink = frame[y0:y1, x0:x1] > 100
    blank = np.zeros(frame.shape[:2], bool)
    for b in boxes:
        blank[b[1]:b[3], b[0]:b[2]] = True
    return bool((blank[y0:y1, x0:x1] | ~ink).all())


@needs_tesseract
@pytest.mark.oracle
class TestRedaction:
    def test_phi_mode_keeps_settings_and_masks_the_name(self) -> None:
        frame = _draw((480, 200), [((20, 20), "MI 0.8  TIS 0.3", 22), ((20, 120), "JOHNSON MARGARET", 22)])
        result = redact_frames(lambda i: frame, 1, mode=RedactText.PHI, keep=None, all_frames=False, step=10)
        assert _covered(result.boxes, frame, (0, 110, 480, 160))
        assert not any(b[1] < 60 for b in result.boxes), result.boxes  # the settings line stays
        assert result.findings.kept >= 2 and result.findings.clean

    def test_all_mode_inside_a_region_masks_only_phi_like_words(self) -> None:
        frame = _draw((480, 240), [((40, 40), "12cm", 24), ((40, 150), "KOWALSKI", 24)])
        keep = ((0, 0, 480, 240),)
        result = redact_frames(lambda i: frame, 1, mode=RedactText.ALL, keep=keep, all_frames=False, step=10)
        assert _covered(result.boxes, frame, (0, 140, 480, 190))
        assert not any(b[1] < 80 for b in result.boxes), result.boxes
        outside = redact_frames(lambda i: frame, 1, mode=RedactText.ALL, keep=None, all_frames=False, step=10)
        assert _covered(outside.boxes, frame, (0, 0, 480, 240))  # no region: all text goes

    def test_planted_tokens_sample(self) -> None:
        """A seeded sample of the bench's evaluation: every planted token unreadable, text-free frames untouched."""
        from tests.textgen import make_scene, token_readable

        rng = np.random.default_rng(5)
        planted = unreadable = 0
        for background in ("us", "rgb"):
            scene = make_scene(rng, background=background, frames=1, tokens=4)
            result = redact_frames(lambda i, s=scene: s.frames[i], 1, mode=RedactText.ALL, keep=None,
                                   all_frames=False, step=10)
            masked = scene.frames[0].copy()
            for x0, y0, x1, y1 in result.boxes:
                masked[y0:y1, x0:x1] = 0
            for token in scene.tokens:
                planted += 1
                unreadable += not token_readable(masked, token)
        assert planted == 8 and unreadable == planted
        free = make_scene(rng, background="us", frames=1, tokens=0)
        result = redact_frames(lambda i: free.frames[i], 1, mode=RedactText.ALL, keep=None, all_frames=False, step=10)
        area = sum((b[2] - b[0]) * (b[3] - b[1]) for b in result.boxes) / free.frames[0][..., 0].size
        assert area <= 0.05


#: The tests' evaluation (a seeded sample of bench/ocr_eval.py's; figures of the full one in bench/README.md).
EVAL_SEED = 1717
EVAL_SCENES = (("us", 1), ("ct", 1), ("rgb", 1), ("us", 8), ("ct", 1), ("rgb", 1))  # background, frames


@needs_tesseract
@pytest.mark.oracle
def test_evaluation_sample_recall_and_masked_area() -> None:
    """bench/ocr_eval.py in small: 36 planted tokens (names, IDs, dates, times; 8-40 px, several
    font families, both polarities) on ultrasound-like, CT-like and RGB scenes, one of them an
    8-frame clip; then three text-free scenes. Removed = covered or not readable by the
    independent reader (tests.textgen.token_readable)."""
    from tests.textgen import make_scene, score_token, token_readable

    rng = np.random.default_rng(EVAL_SEED)
    planted = removed = readable_before = 0
    sizes: list[int] = []
    for background, frames in EVAL_SCENES:
        scene = make_scene(rng, background=background, frames=frames, tokens=6)
        result = redact_frames(lambda i, s=scene: s.frames[i], frames, mode=RedactText.ALL, keep=None,
                               all_frames=False, step=10)
        blanked = np.zeros(scene.frames.shape[1:3], bool)
        for x0, y0, x1, y1 in result.boxes:
            blanked[y0:y1, x0:x1] = True
        masked = scene.frames[-1].copy()  # the last frame: boxes found on any frame read hold on all
        masked[blanked] = 0
        for token in scene.tokens:
            covered, readable = score_token(masked, blanked, scene.glyphs, token)
            planted += 1
            removed += covered or not readable
            readable_before += token_readable(scene.frames[-1], token)
            sizes.append(token.size)
    assert planted == 36 and min(sizes) <= 12 and max(sizes) >= 30
    assert readable_before >= 0.9 * planted  # the reader reads what was planted: the recall means something
    assert removed / planted >= 0.97, f"recall {removed}/{planted}"
    for background in ("us", "ct", "rgb"):
        free = make_scene(rng, background=background, frames=1, tokens=0)
        result = redact_frames(lambda i, f=free: f.frames[i], 1, mode=RedactText.ALL, keep=None, all_frames=False,
                               step=10)
        blanked = np.zeros(free.frames.shape[1:3], bool)
        for x0, y0, x1, y1 in result.boxes:
            blanked[y0:y1, x0:x1] = True
        assert blanked.mean() <= 0.05, (background, float(blanked.mean()))


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def banner_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("redact") / "banner.dcm"
    banner_dataset(2).save_as(path, enforce_file_format=True)
    return path


def _run(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from dcmexport.cli import app

    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


@needs_tesseract
@pytest.mark.oracle
class TestEndToEnd:
    def test_refused_without_exported_with_redact_text(self, banner_file: Path, tmp_path: Path) -> None:
        code, _ = _run(["export", str(banner_file), "--out", str(tmp_path / "plain"), "-q"])
        assert code == 1  # an SC-like object without preset: refused
        out = tmp_path / "redacted"
        code, output = _run(["export", str(banner_file), "--out", str(out), "--redact-text", "all", "--also-dicom",
                             "--format", "png", "--frames", "all", "--review", "-q"])
        assert code == 0, output
        stills = sorted(out.glob("*.png"))
        assert len(stills) == 2
        for still in stills:
            words = [w.upper() for w in ocr.read_text(np.asarray(Image.open(still)))]
            assert not any(part in w for part in NAME for w in words), words
        (dicom,) = out.glob("*.dcm")
        for frame in pydicom.dcmread(dicom).pixel_array:
            words = [w.upper() for w in ocr.read_text(frame)]
            assert not any(part in w for part in NAME for w in words), words
        manifest = (out / "manifest.jsonl").read_text()
        assert not any(part.lower() in manifest.lower() for part in NAME)  # counts and boxes, never the words
        record = json.loads(manifest.splitlines()[-1])
        assert record["text_boxes"] and record["text"]["masked"] >= 1 and record["text"]["check_phi"] == 0
        assert any(note.startswith("ocr-redact") for note in record["notes"])
        # where OCR read what kind of text: places, categories, confidences; never the words
        hits = record["text_hits"]
        assert {h["stage"] for h in hits} == {"detect"} and {"name"} <= {h["category"] for h in hits}, hits
        assert all(set(h) == {"stage", "category", "confidence", "box"} and 0 <= h["confidence"] <= 100
                   for h in hits)
        masked = [h["box"] for h in hits if h["category"] != "kept"]
        assert all(any(t[0] <= b[0] and t[1] <= b[1] and t[2] >= b[2] and t[3] >= b[3] for t in record["text_boxes"])
                   for b in masked), (masked, record["text_boxes"])  # each masked word lies in a text box
        page = (out / "review.html").read_text()
        assert page.count('<rect class="text"') == 2 * len(record["text_boxes"])  # on both stills' thumbnails
        assert "OCR places read" in page and "OCR second pass" in page
        assert not any(part.lower() in page.lower() for part in NAME)

    def test_clip_masked_on_every_frame_and_in_the_dicom(self, banner_file: Path, tmp_path: Path) -> None:
        from dcmexport.encode import read_video_frames

        code, output = _run(["export", str(banner_file), "--out", str(tmp_path), "--redact-text", "phi",
                             "--also-dicom", "--format", "gif", "-q"])
        assert code == 0, output
        (clip,) = tmp_path.glob("*.gif")
        (dicom,) = tmp_path.glob("*.dcm")
        frames = [*read_video_frames(clip), *pydicom.dcmread(dicom).pixel_array]
        assert len(frames) == 4  # two frames in each
        for frame in frames:
            words = [w.upper() for w in ocr.read_text(np.asarray(frame))]
            assert not any(part in w for part in NAME for w in words), words

    def test_second_pass_refuses_what_detection_missed(self, banner_file: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        import dcmexport.mask.redact as redact

        monkeypatch.setattr(redact, "find_text_boxes", lambda *a, **k: [])  # detection finds nothing
        code, output = _run(["export", str(banner_file), "--out", str(tmp_path), "--redact-text", "all",
                             "--format", "gif", "--json"])
        assert code == 1
        payload = json.loads(output[output.index("{"):])
        (obj,) = payload["objects"]
        assert obj["status"] == "refused" and "second OCR pass still reads" in obj["reason"]
        assert not any(part.lower() in output.lower() for part in NAME)
        assert not list(tmp_path.glob("*.gif"))
        manifest = (tmp_path / "manifest.jsonl").read_text()
        assert not any(part.lower() in manifest.lower() for part in NAME)
        record = json.loads(manifest.splitlines()[-1])
        left = [h for h in record["text_hits"] if h["stage"] == "check"]  # where the text left is, for a --mask
        assert left and all(h["category"] in ("name", "id", "date", "time", "inside") for h in left), left
        assert all(h["box"][3] <= 60 for h in left), left  # the banner rows (the name is drawn at y 5-45)


@needs_tesseract
@pytest.mark.oracle
def test_redaction_runs_in_the_workers(banner_file: Path, tmp_path: Path) -> None:
    from dcmexport import api

    second = tmp_path / "second.dcm"
    other = pydicom.dcmread(banner_file)
    other.SOPInstanceUID = other.file_meta.MediaStorageSOPInstanceUID = generate_uid()  # another object
    other.save_as(second, enforce_file_format=True)
    batch = api.export([banner_file, second], tmp_path / "out", redact_text="phi", format="png", jobs=2)
    assert [r.status for r in batch.results] == ["written", "written"], [(r.reason, r.text_findings) for r in batch.results]
    assert all(r.text_boxes and r.text_findings["masked"] >= 1 for r in batch.results), [
        (r.text_boxes, r.text_findings) for r in batch.results]


def test_options_boundary() -> None:
    from dcmexport.cli.export import _ocr_all, _ocr_step
    from dcmexport.errors import UsageError
    from dcmexport.options import build_options

    assert build_options("o", redact_text="phi", ocr_step=5).mask.redact_text is RedactText.PHI
    with pytest.raises(UsageError, match="--redact-text"):
        build_options("o", redact_text="some")
    with pytest.raises(UsageError, match="--ocr-frames"):
        build_options("o", ocr_step=0)
    assert (_ocr_all("7"), _ocr_step("7"), _ocr_all("all"), _ocr_step("sample")) == (False, 7, True, 10)
    with pytest.raises(UsageError, match="--ocr-frames"):
        _ocr_all("every")


def test_missing_tesseract_stops_the_run(banner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pytesseract", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match="tesseract-ocr"):
        ocr.require_ocr()
    code, output = _run(["export", str(banner_file), "--out", str(tmp_path / "o"), "--redact-text", "phi"])
    assert code == 2 and "tesseract-ocr" in output
    assert not (tmp_path / "o").exists()  # stopped before any output


@pytest.mark.parametrize("flag", [["--redact-text", "all"], ["--ocr-check", "report"]])
def test_missing_tesseract_program_is_a_clear_error(banner_file: Path, tmp_path: Path, flag: list[str]) -> None:
    """A real process whose PATH holds no tesseract: exit 2 before any output, naming what to install."""
    import os
    import subprocess

    env = {**os.environ, "PATH": str(tmp_path / "empty"), "DCMEXPORT_KEY": "k" * 64}
    proc = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(banner_file), "--out",
                           str(tmp_path / "o"), *flag], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    # (without pytesseract, the start-up check stops at the missing module first, with the same hint)
    assert "tesseract program was not found" in proc.stderr or "pytesseract is not installed" in proc.stderr
    assert "apt-get install tesseract-ocr" in proc.stderr
    assert "dcmexport[ocr]" in proc.stderr
    assert not (tmp_path / "o").exists()



@needs_tesseract
@pytest.mark.oracle
def test_boxes_are_recorded_where_they_are_in_a_letterboxed_output(banner_file: Path, tmp_path: Path) -> None:
    """--size letterboxes last: the text boxes and masks the manifest records (and the review page draws)
    are moved with the image, and each lies on masked (black) output pixels; no box is recorded twice."""
    from dcmexport import api

    plain = api.export(banner_file, tmp_path / "plain", redact_text="all", format="png").results[0]
    (result,) = api.export(banner_file, tmp_path / "boxed", redact_text="all", format="png", size="300x300").results
    assert result.status == "written", result.reason
    assert len(result.mask_boxes) == len(set(result.mask_boxes)) == len(plain.mask_boxes)
    assert len(result.text_boxes) == len(plain.text_boxes) >= 1
    image = np.asarray(Image.open(result.outputs[0]).convert("L"))
    assert image.shape == (300, 300)
    for x0, y0, x1, y1 in [*result.text_boxes, *result.mask_boxes, *(h.box for h in result.text_hits)]:
        assert 0 <= x0 < x1 <= 300 and 0 <= y0 < y1 <= 300, (x0, y0, x1, y1)  # inside the output image
    for x0, y0, x1, y1 in result.text_boxes:
        inner = image[y0 + 2:y1 - 2, x0 + 2:x1 - 2]  # two pixels in: the resampling's ringing at mask edges
        assert inner.size and int(inner.max()) <= 16, (x0, y0, x1, y1, int(inner.max()))
    assert result.text_boxes != plain.text_boxes  # moved (scaled and offset), not the unletterboxed places
