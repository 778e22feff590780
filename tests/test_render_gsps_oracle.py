"""Presentation states and overlays against dcmtk: ``dcmp2pgm`` (dcmpstat) and ``dcm2pnm`` (dcmimgle).

Each GSPS is built with pydicom (tests/gspsgen.py) to exercise one feature; our
pipeline (plan_pixels + FramePipeline, as an export runs it) and dcmtk render
the same image and state, and the pixels must agree within one grey level
(rounding: dcmtk truncates, dcmexport rounds).

What dcmp2pgm renders into its bitmap, read from dcmpstat's
``DVPresentationState::getPixelData``/``renderPixelData``: the state's Modality
LUT, VOI (window or VOI LUT, per frame), Presentation LUT (IDENTITY, INVERSE,
table), the bitmap shutter, rotation and flip. It does not burn geometric
shutters, the displayed area, graphic annotations or text (DICOMscope drew
those itself), and overlays only as separate bitmaps (``ovl_LLOO.pgm`` of its
``-v`` dump), which we composite as its own "Replace" mode would. Those parts
are tested against hand-computed geometry in tests/test_figures.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from dcmexport.options import build_options
from dcmexport.pipeline.frames import plan_pixels
from dcmexport.pipeline.states import choose_state
from dcmexport.results import FAILED, ExportResult
from tests.conftest import data_store_file
from tests.gspsgen import (
    Layer,
    Shutters,
    add_overlay,
    make_cr_mono1,
    make_ct,
    make_gsps,
    make_us_gray_cine,
    write,
    write_dataset,
)

pytestmark = [pytest.mark.oracle]

needs_dcmp2pgm = pytest.mark.skipif(shutil.which("dcmp2pgm") is None, reason="dcmp2pgm (dcmtk) not installed")
needs_dcm2pnm = pytest.mark.skipif(shutil.which("dcm2pnm") is None, reason="dcm2pnm (dcmtk) not installed")


def _dcmp2pgm(image: Path, state: Path, tmp: Path, frame: int = 1) -> tuple[np.ndarray, Path]:
    out = tmp / f"theirs_{frame}.pgm"
    subprocess.run(["dcmp2pgm", "-v", "-f", str(frame), "-p", str(state), str(image), str(out)],
                   check=True, capture_output=True, timeout=60, cwd=tmp)
    return np.asarray(Image.open(out)).astype(int), tmp


def _ours(image: Path, state: Path, tmp: Path, frame: int = 0, **figure: object) -> np.ndarray:
    ds = pydicom.dcmread(image)
    options = build_options(tmp / "out", presentation_state=str(state), **figure)  # type: ignore[arg-type]
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    result = ExportResult(source=image, status=FAILED)
    chosen = choose_state(ds, [state], options.figure.presentation.mode, result)
    assert chosen is not None
    pipeline = plan_pixels(ds, options, options.encode.format.__class__("png"), frames, result, state=chosen)
    pixels = ds.pixel_array if frames == 1 else ds.pixel_array[frame]
    return pipeline(pixels, 0, number=frame).astype(int)


def _assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1
    assert theirs.std() > 5  # a real image, not a flat field that would trivially agree


@pytest.fixture()
def ct(tmp_path: Path) -> tuple[Path, pydicom.Dataset]:
    ds = make_ct(rows=96, columns=128)  # not square: rotations must swap the axes
    return write_dataset(ds, tmp_path / "ct.dcm"), ds


@needs_dcmp2pgm
@pytest.mark.parametrize(
    "features",
    [
        {"window": (40, 400), "rescale": (1, -1024)},
        {"window": (-600, 1500), "rescale": (1, -1024), "plut_shape": "INVERSE"},
        {"window": (40, 400), "rescale": (1, -1024),
         "plut": ([256, 0, 12], [round(4095 * (i / 255) ** 0.5) for i in range(256)])},
        {"voi_lut": ([4096, 0, 8], [min(255, max(0, (i - 900) // 2)) for i in range(4096)])},  # 8-bit, 4096 entries
        {"modality_lut": ([4096, 0, 16], [min(4095, i // 2 + 100) for i in range(4096)]), "window": (700, 600)},
        {"window": (40, 400), "rescale": (1, -1024), "rotation": 90},
        {"window": (40, 400), "rescale": (1, -1024), "rotation": 180, "flip": True},
        {"window": (40, 400), "rescale": (1, -1024), "rotation": 270},
        {"window": (40, 400), "rescale": (1, -1024), "flip": True},
    ],
    ids=["window", "inverse", "plut-table", "voi-lut-8bit", "modality-lut", "rot90", "rot180-flip",
         "rot270", "flip"],
)
def test_grayscale_and_spatial_match_dcmp2pgm(ct: tuple[Path, pydicom.Dataset], tmp_path: Path,
                                              features: dict[str, object]) -> None:
    path, ds = ct
    state = write(make_gsps(ds, **features), tmp_path / "ps.dcm")  # type: ignore[arg-type]
    theirs, _ = _dcmp2pgm(path, state, tmp_path)
    _assert_close(_ours(path, state, tmp_path), theirs)


@needs_dcmp2pgm
def test_no_voi_maps_the_modality_range(tmp_path: Path) -> None:
    """A state without VOI: the identity, i.e. the whole range the Modality LUT can produce (12-bit here)."""
    ds = make_ct(rows=96, columns=128, bits_stored=12, pixel_representation=0)
    path = write_dataset(ds, tmp_path / "ct12.dcm")
    state = write(make_gsps(ds, rescale=(1, -1024)), tmp_path / "ps.dcm")
    theirs, _ = _dcmp2pgm(path, state, tmp_path)
    _assert_close(_ours(path, state, tmp_path), theirs)


@needs_dcmp2pgm
@pytest.mark.parametrize("shape", ["IDENTITY", "INVERSE"])
def test_monochrome1_follows_the_presentation_lut_shape(tmp_path: Path, shape: str) -> None:
    ds = make_cr_mono1(rows=64, columns=96)
    path = write_dataset(ds, tmp_path / "cr.dcm")
    state = write(make_gsps(ds, window=(2048, 4096), plut_shape=shape), tmp_path / "ps.dcm")
    theirs, _ = _dcmp2pgm(path, state, tmp_path)
    _assert_close(_ours(path, state, tmp_path), theirs)


@needs_dcmp2pgm
def test_bitmap_shutter_matches_dcmp2pgm(ct: tuple[Path, pydicom.Dataset], tmp_path: Path) -> None:
    path, ds = ct
    bits = np.zeros((96, 128), bool)
    bits[:, :30] = True
    bits[70:, :] = True
    # Group 6000: dcmtk 3.6.7 renders an added plane only when its slot index is below the number of planes
    # added (DiOverlay keeps planes at (group - 0x6000) / 2 but loops over 0..Count-1), so a lone bitmap
    # shutter in 6002 is silently not drawn by dcmp2pgm; dcmexport draws it (tests/test_figures.py).
    state = write(make_gsps(ds, window=(40, 400), rescale=(1, -1024), overlays=[(0x6000, bits)],
                            shutters=Shutters(bitmap_group=0x6000, value=30000)), tmp_path / "ps.dcm")
    theirs, _ = _dcmp2pgm(path, state, tmp_path)
    ours = _ours(path, state, tmp_path)
    _assert_close(ours, theirs)
    assert np.all(ours[bits] == round(30000 / 65535 * 255))


@needs_dcmp2pgm
def test_activated_overlay_matches_dcmp2pgm_bitmap(ct: tuple[Path, pydicom.Dataset], tmp_path: Path) -> None:
    """dcmp2pgm writes activated overlays as separate bitmaps; burned in 'Replace' mode they must equal ours."""
    path, ds = ct
    bits = np.zeros((96, 128), bool)
    bits[10:14, 20:110] = True
    bits[20:60, 60:63] = True
    state = write(make_gsps(ds, window=(40, 400), rescale=(1, -1024), overlays=[(0x6000, bits)],
                            layers=[Layer(name="MARKS", overlays=[0x6000])]), tmp_path / "ps.dcm")
    theirs, cwd = _dcmp2pgm(path, state, tmp_path)
    plane = np.asarray(Image.open(cwd / "ovl_0101.pgm"))
    assert plane.shape == theirs.shape and (plane == 255).sum() == bits.sum()
    theirs[plane == 255] = 255
    _assert_close(_ours(path, state, tmp_path, overlays=True), theirs)
    without = _ours(path, state, tmp_path)  # not burned without --overlays
    assert not np.all(without[bits] == 255)


@needs_dcmp2pgm
def test_per_frame_voi_of_a_multiframe_image(tmp_path: Path) -> None:
    ds = make_us_gray_cine(rows=64, columns=80, frames=3)
    ds.BurnedInAnnotation = "NO"
    path = write_dataset(ds, tmp_path / "cine.dcm")
    state = write(make_gsps(ds, window=(100, 80), voi_frames=[2]), tmp_path / "ps.dcm")
    for frame in (1, 2):
        theirs, _ = _dcmp2pgm(path, state, tmp_path, frame=frame)
        _assert_close(_ours(path, state, tmp_path, frame=frame - 1), theirs)


@needs_dcm2pnm
def test_overlays_match_dcm2pnm_on_siemens_mr(tmp_path: Path) -> None:
    """pydicom-data's MR with a graphics overlay: dcm2pnm shows overlays by default (Replace, white)."""
    from dcmexport.options import OutputFormat

    path = data_store_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    subprocess.run(["dcm2pnm", "+Wi", "1", str(path), str(tmp_path / "on.pgm")], check=True, timeout=60)
    subprocess.run(["dcm2pnm", "+Wi", "1", "-O", str(path), str(tmp_path / "off.pgm")], check=True, timeout=60)
    on = np.asarray(Image.open(tmp_path / "on.pgm")).astype(int)
    off = np.asarray(Image.open(tmp_path / "off.pgm")).astype(int)
    ds = pydicom.dcmread(path)
    options = build_options(tmp_path / "o", overlays=True, aspect=False)
    result = ExportResult(source=path, status=FAILED)
    ours = plan_pixels(ds, options, OutputFormat.PNG, 1, result)(ds.pixel_array).astype(int)
    _assert_close(ours, on)
    drawn = on != off
    assert drawn.sum() == 323  # the plane's set bits that are not already white
    assert np.all(ours[drawn] == 255)


@needs_dcm2pnm
def test_multiframe_overlay_covers_its_frames_like_dcm2pnm(tmp_path: Path) -> None:
    """Number of Frames in Overlay 2 from Image Frame Origin 2: frames 2 and 3 only (PS3.3 C.9.2)."""
    from dcmexport.options import OutputFormat

    ds = make_us_gray_cine(rows=48, columns=64, frames=4)
    ds.BurnedInAnnotation = "NO"
    ds.WindowCenter, ds.WindowWidth = 128, 256
    bits = np.zeros((2, 48, 64), bool)
    bits[0, 5:9, 5:40] = True
    bits[1, 30:34, 10:60] = True
    add_overlay(ds, bits, frame_origin=2)
    path = write_dataset(ds, tmp_path / "cine.dcm")
    options = build_options(tmp_path / "o", overlays=True, aspect=False, frames="all")
    pipeline = plan_pixels(ds, options, OutputFormat.PNG, 4, ExportResult(source=path, status=FAILED))
    for frame in range(4):
        args = ["dcm2pnm", "+Wi", "1", "+F", str(frame + 1)]
        subprocess.run([*args, str(path), str(tmp_path / "on.pgm")], check=True, timeout=60)
        on = np.asarray(Image.open(tmp_path / "on.pgm")).astype(int)
        ours = pipeline(ds.pixel_array[frame], frame, number=frame).astype(int)
        _assert_close(ours, on)
        expected = bits[frame - 1] if frame in (1, 2) else np.zeros((48, 64), bool)
        assert np.array_equal(ours == 255, (on == 255)) and np.all(ours[expected] == 255)
