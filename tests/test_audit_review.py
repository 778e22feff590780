"""Tests for dcmexport.audit.review and ``dcmexport review``: the self-contained review page.

The output directory is built here by hand (stills written with Pillow, a clip
with imageio-ffmpeg, a manifest in the format dcmexport.audit.manifest writes), so
every expected value is known: sizes, frame greys, rectangles.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcmexport.audit.review import (
    MISSING,
    PRESENT,
    apply_display_range,
    build_review_html,
    encode_thumbnail,
    read_review_entries,
    read_review_items,
    thumbnail_size,
    write_review,
)
from dcmexport.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIP_GREYS = [20 * i + 10 for i in range(12)]  # 10, 30, ..., 230: one grey per frame


def _run_record(**extra: object) -> dict[str, object]:
    return {"record": "run", "tool": "dcmexport", "version": "0", "options": {}, "key": "ephemeral", **extra}


def _object_record(sha: str, outputs: list[str], **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "record": "object",
        "input_sha256": sha,
        "status": "written",
        "error_kind": None,
        "reason": None,
        "outputs": outputs,
        "frames": 1,
        "fps": None,
        "fps_source": None,
        "notes": [],
        "actions": {},
        "seconds": 0.1,
    }
    record.update(extra)
    return record


def _write_manifest(out_dir: Path, records: list[dict[str, object]]) -> None:
    with open(out_dir / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


def _write_clip(path: Path, greys: list[int], size: tuple[int, int] = (64, 48)) -> None:
    import imageio_ffmpeg

    width, height = size
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=10, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=16,
        output_params=["-crf", "10"],
    )  # fmt: skip
    writer.send(None)
    for grey in greys:
        writer.send(np.full((height, width, 3), grey, np.uint8).tobytes())
    writer.close()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output directory like ``dcmexport export`` leaves, with a re-run and a deleted output."""
    root = tmp_path_factory.mktemp("review-out")
    # 8-bit grey still, 200x100, with a bright band top-left (where the mask is).
    grey8 = np.full((100, 200), 60, np.uint8)
    grey8[0:10, 0:80] = 250
    Image.fromarray(grey8, "L").save(root / "ct_0001.png")
    # 16-bit grey still, 640x480 ramp: thumbnails must come out 320x240, 8-bit.
    ramp = np.tile(np.linspace(0, 65535, 640).round().astype(np.uint16), (480, 1))
    Image.fromarray(ramp).save(root / "mr_0001.png")
    # RGB ultrasound still with a kept region.
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[20:100, 30:130] = (90, 140, 200)
    Image.fromarray(rgb, "RGB").save(root / "us_0001.png")
    _write_clip(root / "us_clip.mp4", CLIP_GREYS)
    # A re-run appended records: the second says us_0001 was re-written with a
    # different kept region (last record wins); gone.png was deleted afterwards.
    _write_manifest(
        root,
        [
            _run_record(),
            _object_record("a" * 64, ["ct_0001.png"], masks=[[0, 0, 80, 10]], keep=None),
            _object_record("b" * 64, ["mr_0001.png"]),  # an older writer: no masks/keep keys
            _object_record("c" * 64, ["us_0001.png"], masks=[], keep=[[0, 0, 10, 10]]),
            _object_record(
                "d" * 64,
                ["us_clip.mp4"],
                frames=12,
                fps=10.0,
                fps_source="FrameTime",
                masks=[[0, 0, 64, 8]],
                keep=[[4, 10, 60, 44]],
                notes=["<b>note</b> & more"],
            ),  # fmt: skip
            _object_record("e" * 64, ["gone.png"]),
            _object_record("f" * 64, [], status="refused", reason="burned-in", error_kind="burned-in"),
            _run_record(),
            _object_record("c" * 64, ["us_0001.png"], masks=[], keep=[[30, 20, 130, 100]]),
        ],
    )
    return root


@pytest.fixture(scope="module")
def page(out_dir: Path) -> str:
    return build_review_html(out_dir)


def _cards(html_text: str) -> dict[str, str]:
    """Card HTML by the output name in its data-name attribute."""
    cards = re.findall(
        r'<section class="card [^"]*"[^>]*data-name="([^"]+)"[^>]*>(.*?)</section>', html_text, re.S
    )
    return dict(cards)


def _decode_data_uri(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        return np.asarray(img.convert("L"))


class TestReadReviewEntries:
    def test_last_record_wins_and_geometry(self, out_dir: Path) -> None:
        summary = read_review_entries(out_dir / "manifest.jsonl")
        entries = {e.name: e for e in summary.entries}
        assert list(entries) == sorted(
            ["ct_0001.png", "mr_0001.png", "us_0001.png", "us_clip.mp4", "gone.png"]
        )
        assert entries["us_0001.png"].keep == ((30.0, 20.0, 130.0, 100.0),)
        assert entries["ct_0001.png"].masks == ((0.0, 0.0, 80.0, 10.0),)
        assert entries["ct_0001.png"].keep is None
        assert entries["mr_0001.png"].masks == () and entries["mr_0001.png"].keep is None
        assert summary.runs == 2
        # one object per input SHA-256 (c was recorded twice), and the refused one counted
        assert summary.object_counts == {"written": 5, "refused": 1}

    def test_torn_line_and_bad_rectangles_are_counted(self, tmp_path: Path) -> None:
        _write_manifest(
            tmp_path, [_run_record(), _object_record("a" * 64, ["x.png"], masks=[[5, 5, 1, 1], [0, 0, 2]])]
        )
        with open(tmp_path / "manifest.jsonl", "a", encoding="utf-8") as fh:
            fh.write('{"record": "object", "status": "wri')  # a run killed mid-line
        summary = read_review_entries(tmp_path / "manifest.jsonl")
        assert summary.bad_lines == 1
        (entry,) = summary.entries
        assert entry.masks == () and entry.bad_rects == 2

    def test_skip_record_keeps_earlier_geometry(self, tmp_path: Path) -> None:
        _write_manifest(
            tmp_path,
            [
                _object_record("a" * 64, ["x.png"], masks=[[1, 2, 3, 4]], keep=None),
                _object_record("a" * 64, ["x.png"], status="skipped", reason="already complete"),
            ],
        )
        (entry,) = read_review_entries(tmp_path / "manifest.jsonl").entries
        assert entry.status == "skipped"
        assert entry.masks == ((1.0, 2.0, 3.0, 4.0),)


class TestApplyDisplayRange:
    def test_uint16_maps_linearly(self) -> None:
        arr = np.array([[0, 257, 32896, 65535]], np.uint16)
        assert apply_display_range(arr).tolist() == [[0, 1, 128, 255]]
        assert apply_display_range(arr).dtype == np.uint8

    def test_uint8_unchanged_and_float_stretched(self) -> None:
        arr8 = np.array([[3, 200]], np.uint8)
        assert apply_display_range(arr8) is arr8
        assert apply_display_range(np.array([[-1.0, 0.0, 1.0]])).tolist() == [[0, 128, 255]]


class TestThumbnails:
    def test_size_keeps_aspect_and_never_enlarges(self) -> None:
        assert thumbnail_size(640, 480) == (320, 240)
        assert thumbnail_size(100, 1000) == (32, 320)
        assert thumbnail_size(64, 48) == (64, 48)
        assert thumbnail_size(5000, 1) == (320, 1)

    def test_encode_16bit(self) -> None:
        arr = np.full((10, 20), 65535, np.uint16)
        uri, width, height = encode_thumbnail(arr)
        assert (width, height) == (20, 10)
        assert _decode_data_uri(uri).min() == 255


class TestBuildReviewHtml:
    def test_one_card_per_output(self, page: str) -> None:
        cards = _cards(page)
        assert sorted(cards) == sorted(
            ["ct_0001.png", "mr_0001.png", "us_0001.png", "us_clip.mp4", "gone.png"]
        )
        # four present files get a check box; the missing one does not
        assert page.count('class="reviewed"') == 4
        assert 'id="counter">0 / 4<' in page

    def test_clip_has_three_distinct_thumbnails(self, page: str) -> None:
        card = _cards(page)["us_clip.mp4"]
        uris = re.findall(r'<img[^>]* src="(data:image/png;base64,[^"]+)"', card)
        assert len(uris) == 3
        means = [float(_decode_data_uri(u).mean()) for u in uris]
        # frames 0, 5 (middle of 12) and 11 were greys 10, 110, 230; allow codec error
        for mean, grey in zip(means, (CLIP_GREYS[0], CLIP_GREYS[5], CLIP_GREYS[11]), strict=True):
            assert abs(mean - grey) < 6, (means, grey)
        assert "<dt>frames</dt><dd>12</dd>" in card
        assert "<dt>frame rate</dt><dd>10 fps (from FrameTime)</dd>" in card
        # a 64x48 clip is displayed at twice its size so it can be inspected
        assert card.count('class="enlarged"') == 3 and card.count('width="128" height="96"') == 3
        assert "<dt>pixels</dt><dd>64 × 48</dd>" in card

    def test_16bit_still_scaled_to_8bit_thumbnail(self, page: str) -> None:
        card = _cards(page)["mr_0001.png"]
        (uri,) = re.findall(
            r'<img[^>]* src="(data:image/png;base64,[^"]+)" width="(\d+)" height="(\d+)"', card
        )
        assert uri[1:] == ("320", "240")
        thumb = _decode_data_uri(uri[0])
        assert thumb.shape == (240, 320)
        assert thumb[:, 0].max() <= 3 and thumb[:, -1].min() >= 252  # the ramp spans black to white
        assert "<dt>bit depth</dt><dd>16-bit grey</dd>" in card

    def test_masks_and_kept_regions_outlined(self, page: str) -> None:
        cards = _cards(page)
        assert '<svg viewBox="0 0 200 100"' in cards["ct_0001.png"]
        assert re.search(r'<rect class="mask" x="0" y="0" width="80" height="10"', cards["ct_0001.png"])
        assert 'class="keep"' not in cards["ct_0001.png"]
        # the last record's kept region, not the first one's
        assert re.search(r'<rect class="keep" x="30" y="20" width="100" height="80"', cards["us_0001.png"])
        assert 'class="mask"' not in cards["us_0001.png"]
        # the clip's overlay is repeated on each of its three thumbnails
        assert cards["us_clip.mp4"].count('<rect class="mask" x="0" y="0" width="64" height="8"') == 3
        assert "<svg" not in cards["mr_0001.png"]

    def test_ocr_boxes_kept_words_and_second_pass_findings_drawn(self, tmp_path: Path) -> None:
        Image.fromarray(np.zeros((100, 200), np.uint8)).save(tmp_path / "us.png")
        hits = [{"stage": "detect", "category": "name", "confidence": 90.0, "box": [12, 4, 60, 14]},
                {"stage": "detect", "category": "kept", "confidence": 85.0, "box": [150, 4, 170, 14]},
                {"stage": "check", "category": "date", "confidence": 70.0, "box": [100, 80, 140, 90]}]
        _write_manifest(tmp_path, [_run_record(), _object_record(
            "a" * 64, ["us.png"], masks=[[10, 2, 64, 16]], keep=None, text_boxes=[[10, 2, 64, 16]],
            text={"words": 2, "masked": 1, "frames": 1, "check_words": 1, "check_phi": 1}, text_hits=hits)])
        card = _cards(build_review_html(tmp_path))["us.png"]
        assert re.search(r'<rect class="text" x="10" y="2" width="54" height="14"', card)
        assert re.search(r'<rect class="ocr-kept" x="150" y="4" width="20" height="10"', card)
        assert re.search(r'<rect class="ocr-check" x="100" y="80" width="40" height="10"', card)
        assert "1 kept, 1 name" in card and "1 PHI-like" in card

    def test_missing_output_reported(self, page: str) -> None:
        card = _cards(page)["gone.png"]
        assert "badge missing" in card and "file not found" in card
        assert "<img" not in card
        assert "1 missing" in page

    def test_everything_escaped(self, page: str) -> None:
        assert "&lt;b&gt;note&lt;/b&gt; &amp; more" in page
        assert "<b>note</b>" not in page

    def test_self_contained(self, page: str, out_dir: Path) -> None:
        lowered = page.lower()
        assert "http:" not in lowered and "https:" not in lowered
        assert not re.search(r'(src|href)\s*=\s*["\']?//', lowered)
        assert not re.search(r"<link\b", lowered)
        assert not re.search(r"<script\b[^>]*\bsrc\s*=", lowered)
        assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
        (css,) = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert "url(" not in css and "@import" not in css
        # the output directory's own path (it could name a patient) is not in the page
        assert str(out_dir) not in page and out_dir.name not in page
        (csp,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', page)
        assert html.unescape(csp).startswith("default-src 'none'; img-src data:;")

    def test_no_manifest_is_input_error(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="dcmexport export"):
            build_review_html(tmp_path)


class TestReadReviewItems:
    def test_states(self, out_dir: Path) -> None:
        _summary, items = read_review_items(out_dir)
        states = {i.entry.name: i.state for i in items}
        assert states == {
            "ct_0001.png": PRESENT,
            "gone.png": MISSING,
            "mr_0001.png": PRESENT,
            "us_0001.png": PRESENT,
            "us_clip.mp4": PRESENT,
        }

    def test_escaping_name_and_undecodable_file(self, tmp_path: Path) -> None:
        (tmp_path / "broken.mp4").write_bytes(b"not a video")
        (tmp_path / "x.dcm").write_bytes(b"\0" * 132)
        _write_manifest(tmp_path, [_object_record("a" * 64, ["../secret.png", "broken.mp4", "x.dcm"])])
        items = {i.entry.name: i for i in read_review_items(tmp_path)[1]}
        assert items["../secret.png"].state == "outside"
        assert items["broken.mp4"].state == "unreadable" and items["broken.mp4"].file_size == 11
        assert items["x.dcm"].state == "no-preview"
        page = build_review_html(tmp_path)
        assert 'class="reviewed"' not in page and 'id="counter">0 / 0<' in page


class TestWriteReview:
    def test_writes_atomically_and_replaces(self, out_dir: Path, tmp_path: Path) -> None:
        target = tmp_path / "copy"
        shutil.copytree(out_dir, target)
        (target / "review.html").write_text("old", encoding="utf-8")
        path = write_review(target)
        assert path == target / "review.html"
        assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        assert not list(target.glob(".tmp-dcmexport-*"))


class TestReviewCommand:
    def test_empty_dir_exit_2(self, tmp_path: Path) -> None:
        from typer.testing import CliRunner

        import dcmexport.cli.review  # noqa: F401 - registers the command (the lead also imports it)
        from dcmexport.cli import app

        result = CliRunner().invoke(app, ["review", str(tmp_path)])
        assert result.exit_code == 2
        assert "manifest.jsonl" in result.stderr and "dcmexport export" in result.stderr
        assert not (tmp_path / "review.html").exists()

    def test_writes_page_and_prints_path(self, out_dir: Path, tmp_path: Path) -> None:
        from typer.testing import CliRunner

        import dcmexport.cli.review  # noqa: F401 - registers the command (the lead also imports it)
        from dcmexport.cli import app

        target = tmp_path / "copy"
        shutil.copytree(out_dir, target)
        result = CliRunner().invoke(app, ["review", str(target)])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == str(target / "review.html")
        assert (target / "review.html").is_file()


# --------------------------------------------------------------------------- browser

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
]  # fmt: skip


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _console_errors(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if "CONSOLE" in line]
    return [line for line in lines if re.search(r"Uncaught|Error|Refused|Content Security Policy", line)]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
class TestInBrowser:
    def test_console_capture_sees_errors(self, tmp_path: Path) -> None:
        # Proves the console check below can fail: a page with an error is caught.
        bad = tmp_path / "bad.html"
        bad.write_text("<!DOCTYPE html><script>undefinedFunction();</script>", encoding="utf-8")
        proc = _chromium(["--dump-dom", bad.as_uri()], tmp_path / "profile")
        assert _console_errors(proc.stderr), proc.stderr[-2000:]

    def test_page_runs_without_console_errors(self, out_dir: Path, tmp_path: Path) -> None:
        target = tmp_path / "copy"
        shutil.copytree(out_dir, target)
        html_path = write_review(target)
        proc = _chromium(["--dump-dom", html_path.as_uri() + "#selftest"], tmp_path / "profile")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "dcmexport-review selftest ok" in proc.stderr  # the script ran and its console is captured
        assert _console_errors(proc.stderr) == []
        dom = proc.stdout
        assert 'data-ready="1"' in dom
        assert len(re.findall(r'<section class="card ', dom)) == 5
        assert 'id="counter">4 / 4<' in dom  # selftest ticked every box and the counter followed
        state = json.loads(html.unescape(re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S).group(1)))
        assert state["kind"] == "review-state" and state["reviewed"] == 4 and state["total"] == 4
        by_name = {f["name"]: f for f in state["files"]}
        assert by_name["gone.png"] == {
            "name": "gone.png",
            "sha256": None,
            "state": "missing",
            "reviewed": False,
        }
        assert len(by_name["us_clip.mp4"]["sha256"]) == 64

    def test_screenshot(self, out_dir: Path, tmp_path: Path) -> None:
        target = tmp_path / "copy"
        shutil.copytree(out_dir, target)
        html_path = write_review(target)
        artifacts = REPO_ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = artifacts / "review.png"
        shot.unlink(missing_ok=True)
        proc = _chromium(
            ["--window-size=1280,2000", f"--screenshot={shot}", html_path.as_uri()], tmp_path / "profile"
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert _console_errors(proc.stderr) == []
        with Image.open(shot) as img:
            assert img.size == (1280, 2000)
            pixels = np.asarray(img.convert("RGB"))
        # the mask outline colour (#ff1f8f) is on screen, so the overlay rendered
        magenta = (np.abs(pixels.astype(int) - (255, 31, 143)).sum(axis=2) < 40).sum()
        assert magenta > 50
