"""Real DICOM written by others: every file exports or fails with a clean one-line reason.

Sources: pydicom's own test files, pydicom-data and deid-data (its two cine
archives unzipped). For every clip written, the frame count equals Number of
Frames and the rate matches the tags (read back with imageio-ffmpeg's ffmpeg);
stills have the aspect the pixel spacing implies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dcmexport import api
from dcmexport.deid import Key
from tests.conftest import deid_data_files, pydicom_data_files, pydicom_test_files


def _all_real_files() -> list[Path]:
    files = list(pydicom_test_files())
    try:
        files += pydicom_data_files()
        files += deid_data_files()
    except pytest.skip.Exception:  # test extra not installed: the sweep covers what is there
        pass
    return files


def _expected_fps(ds: pydicom.Dataset) -> float | None:
    """The frame-rate rule written independently of dcmexport.render.timing (PS3.3 C.7.6.5)."""
    for keyword in ("FrameTime",):
        v = ds.get(keyword)
        if v not in (None, "") and float(v) > 0:
            return 1000.0 / float(v)
    ftv = ds.get("FrameTimeVector")
    if ftv:
        vals = [float(x) for x in list(ftv)[1:] if float(x) > 0]
        if vals:
            return 1000.0 / (sum(vals) / len(vals))
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        v = ds.get(keyword)
        if v not in (None, "") and float(v) > 0:
            return float(v)
    return None


def _check_batch(path: Path, out: Path, **kwargs: object) -> api.ExportResult:
    batch = api.export([path], out, key=Key.random(), **kwargs)
    assert len(batch.results) == 1
    result = batch.results[0]
    assert result.error_kind != "internal", f"{path.name}: {result.reason}"
    if result.status != "written":
        assert result.reason and "\n" not in result.reason
        assert list(out.glob("*.png")) + list(out.glob("*.mp4")) == []
    return result


@pytest.mark.slow
@pytest.mark.parametrize("path", _all_real_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_file_exports_or_fails_cleanly(path: Path, tmp_path: Path) -> None:
    from dcmexport.encode import probe_video

    result = _check_batch(path, tmp_path / "out", accept_burned_in=True)
    if result.status != "written":
        return
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    (output,) = result.outputs
    if output.suffix == ".mp4":
        info = probe_video(output)
        assert info.frames == frames
        expected = _expected_fps(ds)
        expected = 10.0 if expected is None else min(max(expected, 0.1), 240.0)
        assert info.fps == pytest.approx(expected, rel=0.01)
    else:
        from PIL import Image

        with Image.open(output) as im:
            w, h = im.size
        assert (h, w)[0] >= int(ds.Rows) and w >= int(ds.Columns)  # enlarged, never reduced
        spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
        if spacing and len(spacing) == 2 and float(spacing[0]) > 0 and float(spacing[1]) > 0:
            physical_h = int(ds.Rows) * float(spacing[0])
            physical_w = int(ds.Columns) * float(spacing[1])
            assert h / w == pytest.approx(physical_h / physical_w, rel=0.02)


@pytest.mark.parametrize("name", ["GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm", "ultrasound-multiframe.dcm"])
def test_ultrasound_with_regions_is_exported_with_the_sector_intact(name: str, tmp_path: Path) -> None:
    """Burned-in ultrasound is not refused when its regions mask it; outside them, black."""
    from tests.conftest import deid_data_root

    path = deid_data_root() / "ultrasounds" / name
    result = _check_batch(path, tmp_path / "out", format="png")
    assert result.status == "written", result.reason
    assert any("us-regions" in n for n in result.notes)
    assert result.keep_boxes


def test_ultrasound_without_regions_or_preset_is_refused(tmp_path: Path) -> None:
    from tests.conftest import data_store_file

    result = _check_batch(data_store_file("US1_UNCR.dcm"), tmp_path / "out")
    assert result.status == "refused" and "--accept-burned-in" in result.reason


def test_color3d_jpeg_baseline_is_grey_not_green(tmp_path: Path) -> None:
    """pydicom already returns RGB for YBR JPEG data; a second conversion turns it green."""
    from dcmexport.encode import probe_video, read_video_frames
    from tests.conftest import data_store_file

    path = data_store_file("color3d_jpeg_baseline.dcm")
    result = _check_batch(path, tmp_path / "clip", accept_burned_in=True)
    assert result.status == "written", result.reason
    (clip,) = result.outputs
    assert probe_video(clip).frames == 120
    for i, frame in enumerate(read_video_frames(clip)):
        if i % 30:
            continue
        rgb = frame.astype(np.int32)
        assert np.abs(rgb[..., 0] - rgb[..., 1]).mean() < 4
        assert np.abs(rgb[..., 1] - rgb[..., 2]).mean() < 4
    still = _check_batch(path, tmp_path / "still", accept_burned_in=True, format="png")
    from PIL import Image

    with Image.open(still.outputs[0]) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int32)
    assert rgb.max() > 100  # echo content, not a black frame
    assert np.abs(rgb[..., 0] - rgb[..., 1]).mean() < 2 and np.abs(rgb[..., 1] - rgb[..., 2]).mean() < 2


def test_deid_cine_archives_export_with_right_frame_count(deid_cine_dir: Path, tmp_path: Path) -> None:
    from dcmexport.encode import probe_video

    files = sorted(p for p in deid_cine_dir.rglob("*") if p.is_file())
    assert files, "deid-data cine archives are empty"
    written = 0
    for path in files:
        result = _check_batch(path, tmp_path / path.stem, accept_burned_in=True)
        if result.status == "written" and result.outputs[0].suffix == ".mp4":
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert probe_video(result.outputs[0]).frames == int(ds.NumberOfFrames)
            written += 1
    assert written >= 1


#: Files pydicom decodes that dcmexport once could not (issue #18 item 1).
ONCE_UNDECODED = [
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "SC_rgb_jpeg.dcm",  # JPEG Baseline (explicit VR) whose dataset is written in implicit VR
    "SC_ybr_full_422_uncompressed.dcm",  # native YBR_FULL_422: 2 bytes per pixel
]


@pytest.mark.parametrize("name", ONCE_UNDECODED)
def test_files_pydicom_decodes_export_and_deidentify(name: str, tmp_path: Path) -> None:
    import warnings

    from PIL import Image
    from pydicom.data import get_testdata_file

    path = Path(get_testdata_file(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = pydicom.dcmread(path)
        expected = original.pixel_array
    still = _check_batch(path, tmp_path / "png", format="png", accept_burned_in=True)
    assert still.status == "written", still.reason
    with Image.open(still.outputs[0]) as im:
        assert im.size == (int(original.Columns), int(original.Rows))
        assert np.asarray(im).std() > 0  # an image, not a blank frame
    batch = api.deidentify([path], tmp_path / "dcm", key=Key.random(), accept_burned_in=True)
    (deid,) = batch.results
    assert deid.status == "written", deid.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the output is encoded as its file meta says
        back = pydicom.dcmread(deid.outputs[0])
        assert back.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        np.testing.assert_array_equal(back.pixel_array, expected)


@pytest.mark.parametrize("command", ["export", "deidentify"])
def test_truncated_file_fails_saying_where(command: str, tmp_path: Path) -> None:
    """Issue #18 item 2: damaged input is failed (exit 1), not skipped as having no pixel data."""
    from tests.conftest import data_store_file

    path = data_store_file("emri_small_jpeg_2k_lossless_too_short.dcm")
    run = api.export if command == "export" else api.deidentify
    batch = run([path], tmp_path / "out", key=Key.random(), accept_burned_in=True)
    (result,) = batch.results
    assert result.status == "failed" and batch.exit_code == 1
    assert result.reason is not None and "\n" not in result.reason
    assert result.reason.startswith("truncated: the file ends at byte 40316")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "manifest.jsonl"]


@pytest.mark.slow
def test_every_file_pydicom_decodes_is_exported(deid_cine_dir: Path, tmp_path: Path) -> None:
    """Wherever pydicom's ``pixel_array`` succeeds, dcmexport writes a still of the first frame.

    Every file of pydicom's test files, pydicom-data and deid-data (its cine archives
    unpacked), burned-in text accepted (that policy is tested elsewhere).
    """
    import warnings

    files = _all_real_files() + sorted(p for p in deid_cine_dir.rglob("*") if p.is_file())
    key = Key.random()
    decoded, missing, skipped_pixels = 0, [], []
    for number, path in enumerate(files):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pydicom.dcmread(path).pixel_array  # noqa: B018 - decoding is the point
            decodes = True
        except Exception:  # noqa: BLE001 - pydicom cannot decode it: then only "not skipped" is required
            decodes = False
        decoded += decodes
        batch = api.export([path], tmp_path / str(number), key=key, format="png", frames="first",
                           accept_burned_in=True)
        result = batch.results[0]
        if decodes and result.status != "written":
            missing.append(f"{path.parent.name}/{path.name}: {result.status}: {result.reason}")
        # Skipped (exit 0) is for inputs that are not images; a file holding a Pixel Data tag is one.
        if result.status == "skipped" and any(tag in path.read_bytes() for tag in _PIXEL_DATA_TAG_BYTES):
            skipped_pixels.append(f"{path.parent.name}/{path.name}: {result.reason}")
    assert decoded >= 130, "the sweep found too few decodable files: are pydicom-data and deid-data installed?"
    assert missing == []
    assert skipped_pixels == []


#: (7FE0,0010) Pixel Data as its tag is written, little endian then big endian.
_PIXEL_DATA_TAG_BYTES = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")
