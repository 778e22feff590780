"""FrameRenderer on synthetic datasets (hand-computed values) and on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, convert_color_space, iter_pixels, pixel_array

from dcmexport.errors import RenderError, UsageError
from dcmexport.options import RenderOptions, Window
from dcmexport.render import FrameRenderer, FrameRenderers, renderer_from_dataset
from dcmexport.render.lut import apply_modality, apply_voi_window, to_output_dtype


def _file(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom / pydicom-data)")
    return Path(path)


def _gray(
    bits_stored: int = 12, signed: bool = False, photometric: str = "MONOCHROME2", **attrs: object
) -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 8 if bits_stored <= 8 else (16 if bits_stored <= 16 else 32)
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def _linear(x: np.ndarray, center: float, width: float, top: int = 255) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 written out independently of dcmexport."""
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * top
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0, np.where(x > center - 0.5 + (width - 1) / 2, top, y))
    return np.rint(y)


def _render(ds: Dataset, frame: np.ndarray, **opts: object) -> np.ndarray:
    return renderer_from_dataset(ds, RenderOptions(**opts)).render(frame)  # type: ignore[arg-type]


class TestGrayscaleSynthetic:
    def test_rescale_then_window(self) -> None:
        # stored 520 * 2 - 1000 = 40 HU, the window centre: ((40 - 39.5)/399 + 0.5) * 255 = 127.8 -> 128
        ds = _gray(12, True, RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=40, WindowWidth=400)
        out = _render(ds, np.array([[520, 0, 2047]], dtype=np.int16))
        assert out.dtype == np.uint8 and out.tolist() == [[128, 0, 255]]

    def test_sixteen_bit_output(self) -> None:
        ds = _gray(12, True, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
        r = renderer_from_dataset(ds, RenderOptions(bit_depth=16))
        out = r.render(np.array([[1064, -2048, 2047]], dtype=np.int16))
        assert r.bit_depth == 16 and out.dtype == np.uint16
        assert out.tolist() == [[round((0.5 / 399 + 0.5) * 65535), 0, 65535]]

    def test_monochrome1_inverted(self) -> None:
        ds = _gray(8, photometric="MONOCHROME1")
        out = _render(ds, np.array([[0, 100, 255]], dtype=np.uint8))
        assert out.tolist() == [[255, 155, 0]]

    def test_monochrome1_with_window(self) -> None:
        ds = _gray(12, photometric="MONOCHROME1", WindowCenter=2048, WindowWidth=4096)
        x = np.array([[0, 1000, 4095]], dtype=np.uint16)
        assert _render(ds, x).tolist() == (255 - _linear(x, 2048, 4096)).tolist()

    def test_eight_bit_identity_is_unchanged(self) -> None:
        frame = np.arange(256, dtype=np.uint8).reshape(16, 16)
        r = renderer_from_dataset(_gray(8), RenderOptions())
        assert np.array_equal(r.render(frame), frame)
        assert "full stored range 0..255" in r.describe()

    def test_minmax_fixed_on_first_frame(self) -> None:
        ds = _gray(12, RescaleSlope=1, RescaleIntercept=-1000)
        r = renderer_from_dataset(ds, RenderOptions())
        first = r.render(np.array([[1000, 1500, 2000]], dtype=np.uint16))  # modality 0..1000
        second = r.render(np.array([[1500, 3000, 0]], dtype=np.uint16))
        assert first.tolist() == [[0, 128, 255]]  # 127.5 rounds half to even -> 128
        assert second.tolist() == [[128, 255, 0]]  # same range, not re-stretched
        assert "min-max 0..1000" in r.describe()

    def test_window_index_and_override(self) -> None:
        ds = _gray(12, WindowCenter=[1000, 2000], WindowWidth=[500, 1000])
        x = np.array([[1000, 2000, 2400]], dtype=np.uint16)
        assert _render(ds, x).tolist() == _linear(x, 1000, 500).tolist()
        assert _render(ds, x, window_index=1).tolist() == _linear(x, 2000, 1000).tolist()
        assert _render(ds, x, window=Window(2400, 100)).tolist() == _linear(x, 2400, 100).tolist()

    def test_override_uses_file_function(self) -> None:
        ds = _gray(12, WindowCenter=1000, WindowWidth=500, VOILUTFunction="SIGMOID")
        r = renderer_from_dataset(ds, RenderOptions(window=Window(2000, 400)))
        # sigmoid at the centre is exactly half way; LINEAR would give 128
        assert r.render(np.array([[2000]], dtype=np.uint16)).tolist() == [[128]]
        assert r.render(np.array([[2200]], dtype=np.uint16)).tolist() == [[round(255 / (1 + np.exp(-2)))]]
        assert "(--window, SIGMOID)" in r.describe()

    def test_window_index_out_of_range(self) -> None:
        ds = _gray(12, WindowCenter=[40, 400], WindowWidth=[400, 2000])
        with pytest.raises(RenderError, match=r"\(0028,1050\) WindowCenter holds 2 window"):
            renderer_from_dataset(ds, RenderOptions(window_index=2))

    def test_unknown_voi_function(self) -> None:
        ds = _gray(12, WindowCenter=40, WindowWidth=400, VOILUTFunction="LOG")
        with pytest.raises(RenderError, match=r"Unsupported \(0028,1056\) VOI LUT Function value") as info:
            renderer_from_dataset(ds, RenderOptions())
        assert "LOG" not in str(info.value)

    def test_garbage_above_bits_stored_is_clipped(self) -> None:
        ds = _gray(12, WindowCenter=2048, WindowWidth=4096)
        out = _render(ds, np.array([[4095, 65535, 4096]], dtype=np.uint16))
        assert out.tolist() == [[255, 255, 255]]

    def test_signed_out_of_range_is_clipped(self) -> None:
        ds = _gray(12, True, WindowCenter=0, WindowWidth=4096)
        out = _render(ds, np.array([[-2048, -5000, 2047, 30000]], dtype=np.int16))
        assert out[0, 0] == out[0, 1] == 0 and out[0, 2] == out[0, 3] == 255

    def test_big_endian_frame(self) -> None:
        ds = _gray(12, WindowCenter=2048, WindowWidth=4096)
        frame = np.array([[0, 1000, 4095]], dtype=">u2")
        assert _render(ds, frame).tolist() == _linear(frame.astype(int), 2048, 4096).tolist()

    def test_table_path_equals_direct_float_path(self) -> None:
        ds = _gray(16, True, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
        frame = np.random.default_rng(1).integers(-2000, 4000, (128, 128)).astype(np.int16)
        r = renderer_from_dataset(ds, RenderOptions())
        via_table = r.render(frame)
        via_float = r.render(frame.astype(np.float32))  # float input takes the direct path
        direct = to_output_dtype(apply_voi_window(apply_modality(frame, ds), 40, 400), 8)
        assert np.array_equal(via_table, direct)
        assert np.abs(via_float.astype(int) - via_table).max() <= 1
        assert np.mean(via_float == via_table) > 0.999

    def test_32_bit_direct_path(self) -> None:
        ds = _gray(32, RescaleSlope=0.5, RescaleIntercept=0)
        r = renderer_from_dataset(ds, RenderOptions(window=Window(1_000_000, 1_000_001)))
        frame = np.array([[0, 2_000_000, 4_000_000]], dtype=np.uint32)
        assert r.render(frame).tolist() == _linear(frame * 0.5, 1_000_000, 1_000_001).tolist()

    def test_shape_mismatch(self) -> None:
        with pytest.raises(RenderError, match=r"\(0028,0004\) PhotometricInterpretation"):
            _render(_gray(8), np.zeros((4, 4, 3), dtype=np.uint8))

    def test_bad_options(self) -> None:
        with pytest.raises(UsageError, match="bit-depth"):
            renderer_from_dataset(_gray(8), RenderOptions(bit_depth=12))

    def test_unsupported_photometric(self) -> None:
        with pytest.raises(RenderError, match=r"Unsupported \(0028,0004\) PhotometricInterpretation value") as info:
            renderer_from_dataset(_gray(8, photometric="CMYK"), RenderOptions())
        assert "CMYK" not in str(info.value)

    def test_describe_has_no_phi(self) -> None:
        ds = _gray(12, WindowCenter=40, WindowWidth=400, PatientName="SECRET^NAME", PatientID="ID12345")
        text = renderer_from_dataset(ds, RenderOptions()).describe()
        assert text.startswith("window 40/400 (WindowCenter/WindowWidth #0, LINEAR)")
        assert "SECRET" not in text and "12345" not in text


class TestColourSynthetic:
    def test_rgb_16_bit_scaled(self) -> None:
        ds = _gray(16, photometric="RGB")
        ds.SamplesPerPixel = 3
        r = renderer_from_dataset(ds, RenderOptions(bit_depth=16))
        out = r.render(np.array([[[0, 257, 65535]]], dtype=np.uint16))
        assert r.is_color and r.bit_depth == 8 and out.dtype == np.uint8
        assert out.tolist() == [[[0, 1, 255]]]

    def test_rgb_8_bit_passthrough(self) -> None:
        ds = _gray(8, photometric="YBR_FULL_422")
        frame = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.uint8)
        # YBR arrives as RGB from pydicom: never converted again
        assert np.array_equal(_render(ds, frame), frame)


class TestPassesUint8Through:
    """FrameRenderer.passes_uint8_through: True exactly when render() returns uint8 frames unchanged."""

    FRAME = np.arange(256, dtype=np.uint8).reshape(16, 16)

    @pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL", "YBR_FULL_422"])
    def test_8_bit_colour(self, photometric: str) -> None:
        ds = _gray(8, photometric=photometric)
        ds.SamplesPerPixel = 3
        r = renderer_from_dataset(ds, RenderOptions())
        frame = np.stack([self.FRAME] * 3, -1)
        assert r.passes_uint8_through() and np.array_equal(r.render(frame), frame)

    def test_8_bit_grey_without_voi(self) -> None:
        r = renderer_from_dataset(_gray(8), RenderOptions())
        assert r.passes_uint8_through() and np.array_equal(r.render(self.FRAME), self.FRAME)

    @pytest.mark.parametrize(
        ("attrs", "options"),
        [
            ({"WindowCenter": 100, "WindowWidth": 80}, RenderOptions()),
            ({}, RenderOptions(window=Window(128, 200))),
            ({"RescaleSlope": 1, "RescaleIntercept": 10}, RenderOptions()),
            ({"PhotometricInterpretation": "MONOCHROME1"}, RenderOptions()),
            ({"PixelRepresentation": 1}, RenderOptions()),
        ],
    )
    def test_grey_that_needs_rendering(self, attrs: dict[str, object], options: RenderOptions) -> None:
        ds = _gray(8)
        for keyword, value in attrs.items():
            setattr(ds, keyword, value)
        r = renderer_from_dataset(ds, options)
        assert not r.passes_uint8_through()
        stored = self.FRAME % 200  # not the full range: min-max VOI (the rescale case) would stretch it
        frame = stored.view(np.int8) if attrs.get("PixelRepresentation") else stored
        assert not np.array_equal(r.render(frame), stored)  # it really changes values

    def test_window_that_is_the_identity_passes(self) -> None:
        # PS3.3 C.11.2.1.2.1 LINEAR with c 128, w 256: ((x - 127.5) / 255 + 0.5) * 255 = x.
        r = renderer_from_dataset(_gray(8), RenderOptions(window=Window(128, 256)))
        assert r.passes_uint8_through() and np.array_equal(r.render(self.FRAME), self.FRAME)

    def test_12_bit_and_palette(self) -> None:
        assert not renderer_from_dataset(_gray(12), RenderOptions()).passes_uint8_through()
        palette = pydicom.dcmread(get_testdata_file("OBXXXX1A.dcm"))
        assert not renderer_from_dataset(palette, RenderOptions()).passes_uint8_through()


# --------------------------------------------------------------------------- real files


class TestRealFiles:
    def test_ct_small_window_override(self) -> None:
        path = _file("CT_small.dcm")
        ds = pydicom.dcmread(path)
        stored = ds.pixel_array
        out = _render(ds, stored, window=Window(40, 400))
        hu = stored.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(out, _linear(hu, 40, 400))

    def test_ct_small_default_is_monotonic_minmax(self) -> None:
        ds = pydicom.dcmread(_file("CT_small.dcm"))
        stored = ds.pixel_array
        out = _render(ds, stored)
        order = np.argsort(stored, axis=None, kind="stable")
        assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)
        assert out.ravel()[order[0]] == 0 and out.ravel()[order[-1]] == 255

    def test_mr_small_file_window(self) -> None:
        ds = pydicom.dcmread(_file("MR_small.dcm"))
        stored = ds.pixel_array
        r = renderer_from_dataset(ds, RenderOptions())
        assert np.array_equal(r.render(stored), _linear(stored.astype(float), 600, 1600))
        assert r.describe().startswith("window 600/1600 (WindowCenter/WindowWidth #0, LINEAR)")

    def test_modality_lut_sequence(self) -> None:
        ds = pydicom.dcmread(_file("mlut_18.dcm"))
        stored = ds.pixel_array
        r = renderer_from_dataset(ds, RenderOptions())
        mod = apply_modality_lut(stored, ds).astype(np.float64)
        expected = np.rint((mod - mod.min()) / (mod.max() - mod.min()) * 255)
        assert np.array_equal(r.render(stored), expected)
        assert "ModalityLUTSequence" in r.describe()

    def test_voi_lut_sequence(self) -> None:
        # vlut_04: 8-bit stored values, VOI LUT entries i * 257 with 16-bit descriptor -> identity
        ds = pydicom.dcmread(_file("vlut_04.dcm"))
        stored = ds.pixel_array
        r = renderer_from_dataset(ds, RenderOptions())
        assert np.array_equal(r.render(stored), stored)
        assert r.describe().startswith("VOI LUT (VOILUTSequence #0, 16-bit entries)")

    def test_monochrome1_file(self) -> None:
        ds = pydicom.dcmread(_file("RG3_UNCI.dcm"))
        assert ds.PhotometricInterpretation == "MONOCHROME1"
        stored = ds.pixel_array
        out = _render(ds, stored)
        assert np.array_equal(out, 255 - _linear(stored.astype(float), 550, 1024))
        # the lowest stored value (most attenuating for MONOCHROME1) is the brightest output
        assert out.ravel()[np.argmin(stored)] == out.max()

    def test_enhanced_functional_groups(self) -> None:
        ds = pydicom.dcmread(_file("eCT_Supplemental.dcm"))
        frame = pixel_array(ds, index=0)
        r = renderer_from_dataset(ds, RenderOptions())
        assert r.describe().startswith("window 49/102 (WindowCenter/WindowWidth #0, LINEAR); rescale")
        assert np.array_equal(r.render(frame), _linear(frame.astype(float) - 1024, 49, 102))

    def test_enhanced_without_per_frame_values_has_one_renderer(self) -> None:
        ds = pydicom.dcmread(_file("eCT_Supplemental.dcm"))  # rescale and window in the Shared groups
        renderers = FrameRenderers(ds, RenderOptions())
        assert not renderers.varies and renderers.distinct == 1
        assert renderers.for_frame(0) is renderers.for_frame(1) is renderers.first

    def test_palette(self) -> None:
        ds = pydicom.dcmread(_file("examples_palette.dcm"))
        idx = ds.pixel_array
        r = renderer_from_dataset(ds, RenderOptions())
        out = r.render(idx)
        expected = np.rint(apply_color_lut(idx, ds)[..., :3] / 257.0)
        assert r.is_color and out.shape == idx.shape + (3,) and out.dtype == np.uint8
        assert np.array_equal(out, expected)

    def test_palette_big_endian_equals_little(self) -> None:
        le = pydicom.dcmread(_file("OBXXXX1A.dcm"))
        be = pydicom.dcmread(_file("OBXXXX1A_expb.dcm"))
        out_le = renderer_from_dataset(le, RenderOptions()).render(le.pixel_array)
        out_be = renderer_from_dataset(be, RenderOptions()).render(be.pixel_array)
        assert out_le.max() > 200 and np.array_equal(out_le, out_be)

    def test_palette_16_bit_segmented(self) -> None:
        le = pydicom.dcmread(_file("gdcm-US-ALOKA-16.dcm"))
        be = pydicom.dcmread(_file("gdcm-US-ALOKA-16_big.dcm"))
        out_le = renderer_from_dataset(le, RenderOptions()).render(le.pixel_array)
        out_be = renderer_from_dataset(be, RenderOptions()).render(be.pixel_array)
        assert out_le.shape == (480, 640, 3) and np.array_equal(out_le, out_be)

    def test_ybr_multiframe_passthrough(self) -> None:
        path = _file("examples_ybr_color.dcm")
        r = renderer_from_dataset(pydicom.dcmread(path, stop_before_pixels=True), RenderOptions())
        frame = pixel_array(path, index=3, as_rgb=True)
        assert r.is_color and np.array_equal(r.render(frame), frame)

    @pytest.mark.parametrize("name", ["SC_rgb.dcm", "SC_rgb_16bit.dcm", "SC_rgb_32bit.dcm"])
    def test_rgb_depths_agree(self, name: str) -> None:
        ref = pydicom.dcmread(_file("SC_rgb.dcm")).pixel_array
        ds = pydicom.dcmread(_file(name))
        out = renderer_from_dataset(ds, RenderOptions()).render(ds.pixel_array)
        assert out.dtype == np.uint8 and out.shape == ref.shape
        assert np.abs(out.astype(int) - ref).max() <= 1

    def test_planar_equals_pixel_interleaved(self) -> None:
        pl = pydicom.dcmread(_file("color-pl.dcm"))
        px = pydicom.dcmread(_file("color-px.dcm"))
        assert pl.PlanarConfiguration == 1 and px.PlanarConfiguration == 0
        out_pl = renderer_from_dataset(pl, RenderOptions()).render(pixel_array(pl, as_rgb=True))
        out_px = renderer_from_dataset(px, RenderOptions()).render(pixel_array(px, as_rgb=True))
        assert out_pl.std() > 10 and np.array_equal(out_pl, out_px)

    def test_jpeg_baseline_ultrasound_is_grey_not_green(self) -> None:
        path = _file("color3d_jpeg_baseline.dcm")
        r: FrameRenderer = renderer_from_dataset(
            pydicom.dcmread(path, stop_before_pixels=True), RenderOptions()
        )
        for index in (0, 40, 119):
            rgb = r.render(pixel_array(path, index=index, as_rgb=True)).astype(int)
            assert rgb.mean() > 5  # not black
            assert np.abs(rgb[..., 0] - rgb[..., 1]).mean() < 3
            assert np.abs(rgb[..., 1] - rgb[..., 2]).mean() < 3

    def test_second_colour_conversion_would_be_caught(self) -> None:
        # Guard for the test above: converting the (already RGB) frame again turns it green.
        path = _file("color3d_jpeg_baseline.dcm")
        frame = next(iter_pixels(path, as_rgb=True))
        twice = convert_color_space(frame, "YBR_FULL", "RGB").astype(int)
        assert np.abs(twice[..., 0] - twice[..., 1]).mean() > 3


def _sweep_files() -> list[Path]:
    # Globbed directly: pydicom.data.get_testdata_files() may try to download external data.
    roots = [Path(pydicom.__file__).parent / "data" / "test_files"]
    for module in ("data_store", "deid_data"):
        try:
            roots.append(Path(__import__(module).__file__).parent / "data")
        except ImportError:
            continue
    return sorted(p for root in roots for p in root.rglob("*.dcm"))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complaining about odd test files
def test_sweep_every_decodable_real_file_renders() -> None:
    """Every real object pydicom can decode renders to the documented shape and dtype."""
    rendered = 0
    for path in _sweep_files():
        try:
            ds = pydicom.dcmread(path)
            frame = pixel_array(ds, index=0, as_rgb=True)
        except Exception:  # not DICOM, no pixels, or a codec pydicom lacks: not ours to judge
            continue
        renderer = renderer_from_dataset(ds, RenderOptions())
        out = renderer.render(frame)
        assert out.shape[:2] == frame.shape[:2], path.name
        assert out.dtype == np.uint8, path.name
        assert (out.ndim == 3) == renderer.is_color, path.name
        assert renderer.describe(), path.name
        rendered += 1
    assert rendered >= 100


def _enhanced(slopes: list[float], windows: list[tuple[float, float]] | None = None, **attrs: object) -> Dataset:
    """A 12-bit grey object whose frames carry their own rescale (and window) in the Per-frame groups."""
    ds = _gray(12, **attrs)
    items = []
    for i, slope in enumerate(slopes):
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, 0, "US"
        item = Dataset()
        item.PixelValueTransformationSequence = [pvt]
        if windows is not None:
            voi = Dataset()
            voi.WindowCenter, voi.WindowWidth = windows[i]
            item.FrameVOILUTSequence = [voi]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    ds.NumberOfFrames = len(slopes)
    return ds


class TestPerFrameFunctionalGroups:
    """PS3.3 C.7.6.16.2.9 / .10: each frame of an enhanced object may have its own rescale and window."""

    BASE = np.array([[0, 200, 400, 600, 800, 1600]], dtype=float)  # rescaled values, the same in every frame

    def test_each_frame_rendered_with_its_own_rescale(self) -> None:
        slopes = [1.0, 2.0, 4.0, 2.0]
        ds = _enhanced(slopes, [(400, 800)] * 4)
        renderers = FrameRenderers(ds, RenderOptions())
        assert renderers.varies and renderers.distinct == 3
        assert renderers.for_frame(3) is renderers.for_frame(1)  # equal values share one renderer
        expected = _linear(self.BASE, 400, 800)
        for i, slope in enumerate(slopes):
            stored = (self.BASE / slope).astype(np.uint16)
            assert np.array_equal(renderers.for_frame(i).render(stored), expected), i
        # frame 0's values alone (the old behaviour) would render frame 2 four times too dark
        assert not np.array_equal(renderers.first.render((self.BASE / 4).astype(np.uint16)), expected)

    def test_each_frame_rendered_with_its_own_window(self) -> None:
        ds = _enhanced([1.0, 1.0], [(400, 800), (1000, 400)])
        renderers = FrameRenderers(ds, RenderOptions())
        assert renderers.varies
        stored = self.BASE.astype(np.uint16)
        assert np.array_equal(renderers.for_frame(1).render(stored), _linear(self.BASE, 1000, 400))
        assert renderers.for_frame(1).describe().startswith("window 1000/400")
        # an explicit --window overrides every frame's window; the rescale stays per frame
        forced = FrameRenderers(_enhanced([1.0, 2.0], [(400, 800), (1000, 400)]), RenderOptions(window=Window(40, 80)))
        assert np.array_equal(forced.for_frame(1).render((self.BASE / 2).astype(np.uint16)), _linear(self.BASE, 40, 80))

    def test_the_module_says_what_these_tests_prove(self) -> None:
        # The module docstring once said per-frame values come from the first item and serve every frame.
        import dcmexport.render.renderer as module

        doc = " ".join((module.__doc__ or "").split())
        assert "used for every frame" not in doc
        assert "else the frame's own Per-frame group item" in doc and ":class:`FrameRenderers`" in doc

    def test_top_level_and_shared_values_win(self) -> None:
        top = _enhanced([1.0, 4.0], [(400, 800)] * 2, RescaleSlope=1, RescaleIntercept=0)
        assert not FrameRenderers(top, RenderOptions()).varies
        shared = _enhanced([1.0, 4.0], [(400, 800)] * 2)
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept = 1, 0
        group = Dataset()
        group.PixelValueTransformationSequence = [pvt]
        shared.SharedFunctionalGroupsSequence = [group]
        assert not FrameRenderers(shared, RenderOptions()).varies

    def test_min_max_range_is_one_for_the_whole_clip(self) -> None:
        # No window in the file: the first frame rendered fixes the range, in rescaled values, for every frame.
        renderers = FrameRenderers(_enhanced([1.0, 2.0, 4.0]), RenderOptions())
        first = renderers.for_frame(0).render(self.BASE.astype(np.uint16))
        assert first.min() == 0 and first.max() == 255
        for i, slope in ((1, 2.0), (2, 4.0)):  # darker frames: 0..600 of the same 0..1600 range
            part = (self.BASE[:, :4] / slope).astype(np.uint16)
            assert np.array_equal(renderers.for_frame(i).render(part), first[:, :4])
        assert renderers.for_frame(2).describe().startswith("min-max 0..1600 of the first frame")

    def test_a_frame_past_the_groups_uses_frame_0(self) -> None:
        renderers = FrameRenderers(_enhanced([1.0, 2.0], [(400, 800)] * 2), RenderOptions())
        assert renderers.for_frame(5) is renderers.first
