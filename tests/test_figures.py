"""Figures end to end (issue #15): window presets, crop and zoom, scale bar, print resolution, overlays and
presentation states through the API and the CLI, with the parts dcmtk does not render (geometric
shutters, displayed area, annotations) checked against hand-computed geometry."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.cli import app
from dcmexport.deid import Key
from dcmexport.encode.still import read_still
from tests.conftest import data_store_file
from tests.gspsgen import (
    Area,
    Graphic,
    Layer,
    Shutters,
    Text,
    make_cr_mono1,
    make_ct,
    make_gsps,
    make_mr,
    write,
    write_dataset,
)

runner = CliRunner()


@pytest.fixture()
def key(tmp_path: Path) -> Key:
    path = tmp_path / "key.bin"
    path.write_bytes(b"figures-key-0123456789abcdef0123")
    return Key.from_file(path)


@pytest.fixture(autouse=True)
def _env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCMEXPORT_KEY", "figures-test-key-0123456789abcdef")


def _one(batch: api.BatchResult) -> np.ndarray:
    assert batch.exit_code == 0, [r.reason for r in batch.results]
    (result,) = [r for r in batch.results if r.outputs]
    return read_still(result.outputs[0])[0]


@pytest.fixture()
def ct(tmp_path: Path) -> Path:
    return write_dataset(make_ct(rows=96, columns=128), tmp_path / "in" / "ct.dcm")  # 0.7 mm pixels


class TestWindowPresets:
    def test_a_preset_is_its_window(self, ct: Path, tmp_path: Path, key: Key) -> None:
        named = _one(api.export([ct], tmp_path / "a", key=key, window="lung"))
        numbers = _one(api.export([ct], tmp_path / "b", key=key, window="-600,1500"))
        assert np.array_equal(named, numbers)
        assert _one(api.export([ct], tmp_path / "c", key=key, window="Temporal bone")).shape == (96, 128)

    def test_a_ct_preset_refuses_an_mr(self, tmp_path: Path, key: Key) -> None:
        mr = write_dataset(make_mr(), tmp_path / "mr.dcm")
        batch = api.export([mr], tmp_path / "o", key=key, window="lung")
        assert batch.exit_code == 1 and "(0008,0060) Modality is MR" in (batch.results[0].reason or "")

    def test_window_name_picks_the_files_window(self, tmp_path: Path, key: Key) -> None:
        src = Path(__file__).resolve().parent.parent / "samples" / "ct_two_windows.dcm"
        named = _one(api.export([src], tmp_path / "a", key=key, window_name="window 2"))
        indexed = _one(api.export([src], tmp_path / "b", key=key, window_index=1))
        assert np.array_equal(named, indexed)
        batch = api.export([src], tmp_path / "c", key=key, window_name="liver")
        assert batch.exit_code == 1 and "(0028,1055)" in (batch.results[0].reason or "")

    def test_cli_usage_and_listing(self, ct: Path, tmp_path: Path) -> None:
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--window", "lungs-ish"])
        assert res.exit_code == 2 and "preset name" in res.output
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--window", "40,400",
                                  "--window-name", "LUNG"])
        assert res.exit_code == 2
        res = runner.invoke(app, ["presets", "--no-masks"])
        assert res.exit_code == 0 and "lung" in res.output and "radiopaedia.org" in res.output


class TestCropZoomScaleBar:
    def test_crop_and_zoom(self, ct: Path, tmp_path: Path, key: Key) -> None:
        full = _one(api.export([ct], tmp_path / "a", key=key))
        crop = _one(api.export([ct], tmp_path / "b", key=key, crop="10,20,50,40"))
        assert np.array_equal(crop, full[20:60, 10:60])
        assert _one(api.export([ct], tmp_path / "c", key=key, crop="10,20,50,40", zoom=2)).shape == (80, 100)
        mm = _one(api.export([ct], tmp_path / "d", key=key, crop_mm="7,14,35,28"))  # 0.7 mm: 10,20,50,40 px
        assert np.array_equal(mm, crop)

    def test_masks_and_review_outlines_follow_the_crop(self, ct: Path, tmp_path: Path, key: Key) -> None:
        batch = api.export([ct], tmp_path / "o", key=key, crop="10,20,50,40", zoom=2, masks=["20,30,20,15"])
        image = _one(batch)
        assert batch.results[0].mask_boxes == [(20, 20, 60, 50)]  # (20-10)*2, (30-20)*2, ...
        assert np.all(image[27:43, 27:53] == 0)  # (Lanczos mixes the neighbours into a 6 px edge, never back)
        from dcmexport.audit.review import write_review

        page = write_review(tmp_path / "o").read_text()
        assert re.search(r'<rect class="mask" x="20" y="20" width="40" height="30"', page)

    def test_crop_outside_and_crop_mm_without_spacing(self, ct: Path, tmp_path: Path, key: Key) -> None:
        batch = api.export([ct], tmp_path / "a", key=key, crop="500,500,10,10")
        assert batch.exit_code == 1 and "outside the image" in (batch.results[0].reason or "")
        cr = write_dataset(make_cr_mono1(rows=64, columns=96), tmp_path / "cr.dcm")
        batch = api.export([cr], tmp_path / "b", key=key, crop_mm="1,1,5,5")
        assert batch.exit_code == 1 and "(0018,1114)" in (batch.results[0].reason or "")

    def test_scale_bar(self, ct: Path, tmp_path: Path, key: Key) -> None:
        plain = _one(api.export([ct], tmp_path / "a", key=key, zoom=2))
        batch = api.export([ct], tmp_path / "b", key=key, zoom=2, scale_bar="1cm", scale_bar_corner="bottom-left")
        barred = _one(batch)
        changed = np.argwhere(barred != plain)
        assert changed[:, 1].max() < 128 and changed[:, 0].min() > 96  # bottom-left quarter
        bar_row = max(range(barred.shape[0]), key=lambda r: int((barred[r] == 255).sum() - (plain[r] == 255).sum()))
        lit = np.flatnonzero((barred[bar_row] == 255) & (plain[bar_row] != 255))
        assert lit.max() - lit.min() + 1 == pytest.approx(10 / 0.35, abs=1)  # 1 cm at 0.35 mm per output px
        assert "scale bar 1 cm (from PixelSpacing)" in batch.results[0].notes

    def test_scale_bar_refusals(self, ct: Path, tmp_path: Path, key: Key) -> None:
        cr = write_dataset(make_cr_mono1(rows=64, columns=96), tmp_path / "cr.dcm")
        batch = api.export([cr, ct], tmp_path / "a", key=key, scale_bar="auto")
        by_name = {r.source.name: r for r in batch.results}
        assert batch.exit_code == 1 and by_name["ct.dcm"].status == "written"
        assert by_name["cr.dcm"].status == "failed" and "(0018,1114)" in (by_name["cr.dcm"].reason or "")
        batch = api.export([ct], tmp_path / "b", key=key, scale_bar="20cm")
        assert batch.exit_code == 1 and "does not fit" in (batch.results[0].reason or "")
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "c"), "--scale-bar", "3 parsecs"])
        assert res.exit_code == 2 and "10mm" in res.output


class TestPrintResolution:
    def test_dpi_and_width_in_png_and_tiff(self, ct: Path, tmp_path: Path, key: Key) -> None:
        batch = api.export([ct], tmp_path / "a", key=key, dpi=300)
        with Image.open(batch.results[0].outputs[0]) as im:
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        batch = api.export([ct], tmp_path / "b", key=key, format="tiff", width_mm=64)
        with tifffile.TiffFile(batch.results[0].outputs[0]) as tif:
            num, den = tif.pages[0].tags["XResolution"].value
            assert num / den == pytest.approx(128 * 25.4 / 64, rel=1e-3)

    def test_width_with_dpi_resamples(self, ct: Path, tmp_path: Path, key: Key) -> None:
        image = _one(api.export([ct], tmp_path / "a", key=key, dpi=300, width_mm=25.4))
        assert image.shape == (225, 300)

    def test_16bit_tiff_keeps_the_physical_size_through_crop_and_zoom(self, ct: Path, tmp_path: Path,
                                                                       key: Key) -> None:
        batch = api.export([ct], tmp_path / "a", key=key, format="tiff", bit_depth=16, crop="0,0,40,40", zoom=2)
        with tifffile.TiffFile(batch.results[0].outputs[0]) as tif:
            page = tif.pages[0]
            num, den = page.tags["XResolution"].value
            assert page.dtype == np.uint16 and page.shape == (80, 80)
            assert num / den == pytest.approx(2 * 25.4 / 0.7, rel=1e-3)  # 28 mm shown 80 px wide

    def test_case_report_300dpi_preset(self, ct: Path, tmp_path: Path) -> None:
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--preset", "case-report-300dpi",
                                  "-q"])
        assert res.exit_code == 0, res.output
        (tif,) = (tmp_path / "o").glob("*.tiff")
        with tifffile.TiffFile(tif) as t:
            num, den = t.pages[0].tags["XResolution"].value
            assert t.pages[0].dtype == np.uint16 and num / den == pytest.approx(300)

    def test_dpi_on_a_clip_is_a_usage_error(self, ct: Path, tmp_path: Path) -> None:
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--format", "mp4", "--dpi", "300"])
        assert res.exit_code == 2 and "stills" in res.output


class TestOverlays:
    def test_off_by_default_and_coloured(self, tmp_path: Path, key: Key) -> None:
        src = data_store_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
        plain = _one(api.export([src], tmp_path / "a", key=key, aspect=False))
        burned = _one(api.export([src], tmp_path / "b", key=key, aspect=False, overlays=True))
        bits = pydicom.dcmread(src).overlay_array(0x6000).astype(bool)
        assert np.all(burned[bits] == 255) and not np.all(plain[bits] == 255)
        yellow = _one(api.export([src], tmp_path / "c", key=key, aspect=False, overlays=True,
                                 overlay_color="yellow"))
        assert yellow.ndim == 3 and yellow[bits].tolist()[0] == [255, 255, 0]

    def test_usage_errors(self, ct: Path, tmp_path: Path) -> None:
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--overlay-color", "red"])
        assert res.exit_code == 2 and "--overlays" in res.output
        res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), "--overlays",
                                  "--overlay-color", "red", "--bit-depth", "16", "--format", "png"])
        assert res.exit_code == 2


def _gsps(ct: Path, tmp_path: Path, **features: object) -> Path:
    return write(make_gsps(pydicom.dcmread(ct), rescale=(1, -1024), window=(40, 400), **features),  # type: ignore[arg-type]
                 tmp_path / "in" / "ps.dcm")


class TestPresentationStates:
    def test_auto_consumes_the_state_and_reports_it(self, ct: Path, tmp_path: Path, key: Key) -> None:
        _gsps(ct, tmp_path, rotation=90)
        batch = api.export([tmp_path / "in"], tmp_path / "o", key=key, presentation_state="auto")
        by_name = {r.source.name: r for r in batch.results}
        assert batch.exit_code == 0
        assert by_name["ps.dcm"].status == "skipped" and not by_name["ps.dcm"].outputs
        assert "applied to 1 image(s)" in (by_name["ps.dcm"].reason or "")
        assert any(n.startswith("presentation state applied") for n in by_name["ct.dcm"].notes)
        assert read_still(by_name["ct.dcm"].outputs[0])[0].shape == (128, 96)  # rotated
        assert sorted(p.suffix for p in (tmp_path / "o").iterdir()) == [".jsonl", ".png"]
        run = json.loads((tmp_path / "o" / "manifest.jsonl").read_text().splitlines()[0])
        assert run["options"]["figure"]["presentation"] == {"mode": "auto", "sha256": None}

    def test_a_rerun_redoes_an_image_whose_state_changed(self, ct: Path, tmp_path: Path, key: Key) -> None:
        """The state among the inputs shapes the image: it joins the object's fingerprint, so a re-run
        after the state changed redoes the image instead of keeping the old rendering (issue #19 item 1)."""
        _gsps(ct, tmp_path, rotation=90)
        first = {r.source.name: r for r in api.export([tmp_path / "in"], tmp_path / "o", key=key,
                                                      presentation_state="auto").results}
        assert read_still(first["ct.dcm"].outputs[0])[0].shape == (128, 96)
        again = {r.source.name: r for r in api.export([tmp_path / "in"], tmp_path / "o", key=key,
                                                      presentation_state="auto").results}
        assert again["ct.dcm"].status == "skipped" and "same options" in (again["ct.dcm"].reason or "")
        _gsps(ct, tmp_path, rotation=0)  # the same state file, edited: no rotation now
        redone = {r.source.name: r for r in api.export([tmp_path / "in"], tmp_path / "o", key=key,
                                                       presentation_state="auto").results}
        assert redone["ct.dcm"].status == "written", redone["ct.dcm"].reason
        assert read_still(redone["ct.dcm"].outputs[0])[0].shape == (96, 128)
        final = {r.source.name: r for r in api.export([tmp_path / "in"], tmp_path / "o", key=key,
                                                      presentation_state="auto").results}
        assert final["ct.dcm"].status == "skipped"

    def test_an_unusable_state_among_the_inputs_fails_alone(self, ct: Path, tmp_path: Path, key: Key) -> None:
        broken = make_gsps(pydicom.dcmread(ct))
        broken.ImageRotation = 45
        write(broken, tmp_path / "in" / "ps.dcm")
        batch = api.export([tmp_path / "in"], tmp_path / "o", key=key, presentation_state="auto")
        by_name = {r.source.name: r for r in batch.results}
        assert batch.exit_code == 1 and by_name["ct.dcm"].status == "written"
        assert by_name["ps.dcm"].status == "failed" and "(0070,0042)" in (by_name["ps.dcm"].reason or "")

    def test_explicit_file_is_not_recorded_by_path(self, ct: Path, tmp_path: Path, key: Key) -> None:
        state = _gsps(ct, tmp_path)
        other = write_dataset(make_ct(rows=32, columns=32, seed=3), tmp_path / "other.dcm")
        batch = api.export([ct, other], tmp_path / "o", key=key, presentation_state=state)
        assert batch.exit_code == 0
        notes = {r.source.name: r.notes for r in batch.results}
        assert "not referenced by --presentation-state: exported without it" in notes["other.dcm"]
        manifest = (tmp_path / "o" / "manifest.jsonl").read_text()
        assert str(tmp_path) not in manifest and "ps.dcm" not in manifest
        assert json.loads(manifest.splitlines()[0])["options"]["figure"]["presentation"]["mode"] == "file"

    def test_usage_errors(self, ct: Path, tmp_path: Path) -> None:
        state = _gsps(ct, tmp_path)
        broken = make_gsps(pydicom.dcmread(ct))
        broken.ImageRotation = 45
        broken_path = write(broken, tmp_path / "broken.dcm")
        for extra in (["--presentation-state", str(ct)], ["--presentation-state", str(state), "--crop", "1,1,5,5"],
                      ["--presentation-state", "auto", "--series"], ["--presentation-state", str(broken_path)]):
            res = runner.invoke(app, ["export", str(ct), "--out", str(tmp_path / "o"), *extra])
            assert res.exit_code == 2, (extra, res.output)

    def test_shutters_displayed_area_and_magnify(self, ct: Path, tmp_path: Path, key: Key) -> None:
        plain = _one(api.export([ct], tmp_path / "a", key=key, window="40,400"))
        _gsps(ct, tmp_path, areas=[Area((11, 21), (60, 60), "MAGNIFY", magnification=2.0)],
              shutters=Shutters(rect=(21, 128, 1, 96), value=65535))
        image = _one(api.export([tmp_path / "in"], tmp_path / "b", key=key, presentation_state="auto"))
        assert image.shape == (80, 100)  # columns 11..60, rows 21..60, magnified twice
        assert np.all(image[:, :12] == 255) and image[:, :20].mean() > 240  # columns 11..20 shuttered (white)
        expected = np.asarray(Image.fromarray(plain[20:60, 20:60]).resize((80, 80), Image.Resampling.LANCZOS))
        assert np.abs(image[4:-4, 26:-4].astype(int) - expected[4:-4, 6:-4]).max() <= 1

    def test_true_size_sets_the_print_resolution(self, ct: Path, tmp_path: Path, key: Key) -> None:
        _gsps(ct, tmp_path, areas=[Area((1, 1), (128, 96), "TRUE SIZE", spacing=(0.5, 0.5))])
        batch = api.export([tmp_path / "in"], tmp_path / "o", key=key, presentation_state="auto", format="tiff")
        (result,) = [r for r in batch.results if r.outputs]
        with tifffile.TiffFile(result.outputs[0]) as tif:
            num, den = tif.pages[0].tags["XResolution"].value
            assert num / den == pytest.approx(25.4 / 0.5, rel=1e-3)

    def test_displayed_area_beyond_the_image_is_filled(self, ct: Path, tmp_path: Path, key: Key) -> None:
        _gsps(ct, tmp_path, areas=[Area((-9, 1), (128, 96))], shutters=Shutters(value=65535, rect=(1, 128, 1, 96)))
        image = _one(api.export([tmp_path / "in"], tmp_path / "o", key=key, presentation_state="auto"))
        assert image.shape == (96, 138) and np.all(image[:, :10] == 255)

    def test_graphics_burned_text_only_when_asked(self, ct: Path, tmp_path: Path, key: Key) -> None:
        layer = Layer(name="NOTES", grey=65535,
                      graphics=[Graphic("POLYLINE", [(10.5, 80.5), (60.5, 80.5)]),
                                Graphic("POLYLINE", [(0.5, 0.9), (0.9, 0.9)], units="DISPLAY")],
                      texts=[Text("DOE^JANE", box=(70, 5, 125, 25))])
        _gsps(ct, tmp_path, layers=[layer])
        plain = _one(api.export([ct], tmp_path / "a", key=key, window="40,400"))
        graphics = _one(api.export([tmp_path / "in"], tmp_path / "b", key=key, presentation_state="auto"))
        text = _one(api.export([tmp_path / "in"], tmp_path / "c", key=key, presentation_state="auto",
                               annotations="text"))
        none = _one(api.export([tmp_path / "in"], tmp_path / "d", key=key, presentation_state="auto",
                               annotations="none"))
        assert np.array_equal(none, plain)
        assert np.all(graphics[80, 11:60] == 255) and np.all(graphics[86, 65:115] == 255)  # PIXEL and DISPLAY
        assert np.array_equal(graphics[5:25, 70:125], plain[5:25, 70:125])
        assert not np.array_equal(text[5:25, 70:125], plain[5:25, 70:125])

    @pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
    def test_burned_text_is_checked_like_burned_in_text(self, tmp_path: Path, key: Key) -> None:
        pytest.importorskip("pytesseract")
        ct = write_dataset(make_ct(rows=256, columns=256), tmp_path / "in" / "ct.dcm")
        _gsps(ct, tmp_path, layers=[Layer(texts=[Text("DOE JANE", box=(20, 20, 236, 70))])])
        batch = api.export([tmp_path / "in"], tmp_path / "o", key=key, presentation_state="auto",
                           annotations="text", ocr_check="strict")
        (image,) = [r for r in batch.results if r.source.name == "ct.dcm"]
        assert image.status == "refused" and "Tesseract" in (image.reason or "")
        batch = api.export([tmp_path / "in"], tmp_path / "p", key=key, presentation_state="auto",
                           ocr_check="strict")
        assert batch.exit_code == 0  # the same state without its text burned
