"""dcmexport.render.annotate and .scalebar: shapes, text, inks; which spacing a scale bar may trust."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dcmexport.render.annotate import (
    Label,
    Shape,
    apply_annotations,
    circle_points,
    ellipse_points,
    ink_from_cielab,
    spline_points,
)
from dcmexport.render.scalebar import (
    apply_scale_bar,
    choose_length,
    format_length,
    scale_spacing_from_dataset,
)


class TestGeometry:
    def test_circle_and_ellipse(self) -> None:
        pts = circle_points((10, 10), (13, 14))
        assert all(math.hypot(x - 10, y - 10) == pytest.approx(5) for x, y in pts)
        ell = ellipse_points(((0, 0), (10, 0)), ((5, -2), (5, 2)))
        xs, ys = [p[0] for p in ell], [p[1] for p in ell]
        assert min(xs) == pytest.approx(0) and max(xs) == pytest.approx(10)
        assert min(ys) == pytest.approx(-2) and max(ys) == pytest.approx(2)

    def test_spline_passes_through_its_points(self) -> None:
        control = [(0.0, 0.0), (10.0, 5.0), (20.0, 0.0), (30.0, 8.0)]
        curve = spline_points(control)
        for p in control:
            assert min(math.dist(p, q) for q in curve) < 1e-6
        closed = spline_points([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 0.0)])
        assert closed[0] == pytest.approx(closed[-1])


class TestDrawing:
    def test_grey_ink_keeps_dtype_and_colour_ink_makes_rgb(self) -> None:
        image = np.zeros((40, 40), np.uint16)
        out = apply_annotations(image, [Shape(((5, 20), (35, 20)), (0.5, 0.5, 0.5))])
        assert out.dtype == np.uint16 and out.ndim == 2 and out.max() == round(0.5 * 65535)
        assert image.max() == 0  # the input is not changed
        rgb = apply_annotations(np.zeros((40, 40), np.uint8), [Shape(((5, 20), (35, 20)), (1.0, 0.0, 0.0))])
        assert rgb.shape == (40, 40, 3) and rgb[20, 20].tolist() == [255, 0, 0]

    def test_filled_polygon_and_marker(self) -> None:
        square = ((10, 10), (30, 10), (30, 30), (10, 30))
        out = apply_annotations(np.zeros((40, 40), np.uint8), [Shape(square, closed=True, filled=True)])
        assert out[20, 20] == 255 and out[5, 5] == 0
        dot = apply_annotations(np.zeros((40, 40), np.uint8), [Shape(((20, 20),), marker=True)])
        assert dot[20, 20] == 255 and dot[20, 30] == 0

    def test_text_lands_in_its_box_with_a_dark_halo(self) -> None:
        image = np.full((80, 200), 128, np.uint8)
        out = apply_annotations(image, labels=[Label("Lesion", box=(100, 10, 190, 40), justification="RIGHT")])
        changed = np.argwhere(out != 128)
        assert changed.size and changed[:, 1].min() >= 95 and changed[:, 0].max() <= 45
        assert out.max() > 240 and (out == 0).any()  # anti-aliased white glyphs, black halo
        assert changed[:, 0].max() - changed[:, 0].min() > 15  # the font grew to the box's height

    def test_cielab(self) -> None:
        assert ink_from_cielab((65535, 32896, 32896)) == pytest.approx((1, 1, 1), abs=0.01)
        assert ink_from_cielab((0, 32896, 32896)) == pytest.approx((0, 0, 0), abs=0.01)
        red = ink_from_cielab((round(53.24 * 655.35), round((80.09 + 128) * 257), round((67.2 + 128) * 257)))
        assert red == pytest.approx((1, 0, 0), abs=0.02)


class TestScaleBar:
    @pytest.mark.parametrize(("mm_per_px", "width", "expected"), [(0.7, 256, 20), (0.1, 1000, 20), (0.05, 100, 1),
                                                                   (2.0, 512, 200), (0.3, 64, 2)])
    def test_round_length(self, mm_per_px: float, width: int, expected: float) -> None:
        assert choose_length(mm_per_px, width) == expected

    def test_label(self) -> None:
        assert [format_length(v) for v in (10, 5, 0.5, 250, 15)] == ["1 cm", "5 mm", "0.5 mm", "25 cm", "15 mm"]

    def test_bar_is_as_long_as_it_says(self) -> None:
        out, box = apply_scale_bar(np.zeros((200, 300), np.uint8), 0.5, 50.0)
        row = out[box[3] - 4 : box[3]].max(axis=0)
        lit = np.flatnonzero(row == 255)
        assert lit.max() - lit.min() + 1 == pytest.approx(100, abs=1)  # 50 mm at 0.5 mm/px
        assert box[2] <= 300 and box[0] > 150  # bottom-right
        with pytest.raises(ValueError, match="px on an image"):
            apply_scale_bar(np.zeros((200, 300), np.uint8), 0.5, 200.0)


def _ds(**attrs: object) -> Dataset:
    ds = Dataset()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


class TestTrustedSpacing:
    def test_pixel_spacing(self) -> None:
        spacing, why = scale_spacing_from_dataset(_ds(PixelSpacing=[0.5, 0.25]))
        assert spacing is not None and (spacing.row, spacing.column) == (0.5, 0.25) and not why

    def test_imager_spacing_needs_the_magnification(self) -> None:
        spacing, why = scale_spacing_from_dataset(_ds(ImagerPixelSpacing=[0.2, 0.2]))
        assert spacing is None and "(0018,1114)" in why
        spacing, _ = scale_spacing_from_dataset(_ds(ImagerPixelSpacing=[0.2, 0.2],
                                                    EstimatedRadiographicMagnificationFactor=1.25))
        assert spacing is not None and spacing.row == pytest.approx(0.16)

    def test_ultrasound_regions_in_cm_only(self) -> None:
        def region(units: int) -> Dataset:
            return _ds(PhysicalDeltaX=0.03, PhysicalDeltaY=0.03, PhysicalUnitsXDirection=units,
                       PhysicalUnitsYDirection=units)

        spacing, _ = scale_spacing_from_dataset(_ds(SequenceOfUltrasoundRegions=[region(3)]))
        assert spacing is not None and spacing.row == pytest.approx(0.3)
        spacing, why = scale_spacing_from_dataset(_ds(SequenceOfUltrasoundRegions=[region(4)]))
        assert spacing is None and "in cm" in why

    def test_aspect_ratio_and_nothing(self) -> None:
        assert "no physical size" in scale_spacing_from_dataset(_ds(PixelAspectRatio=[1, 2]))[1]
        assert "(0028,0030)" in scale_spacing_from_dataset(_ds())[1]
