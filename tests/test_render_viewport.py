"""dcmexport.render.viewport: crop, rotation, flip and scaling, for pixels and for coordinates alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcmexport.render.aspect import PixelSpacing
from dcmexport.render.viewport import Viewport, apply_viewport, plan_viewport


class TestPlanViewport:
    def test_identity(self) -> None:
        vp = plan_viewport(40, 60)
        assert vp.is_identity and vp.out_size == (40, 60) and vp.box == (0, 0, 60, 40)

    def test_crop_aspect_zoom_rotation_and_cap(self) -> None:
        # 30 rows x 50 cols cropped, rows 0.2 mm apart, columns 0.1 mm: rows doubled -> 60 x 50; zoom 2 -> 120 x 100
        vp = plan_viewport(100, 100, box=(10, 20, 60, 50), spacing=PixelSpacing(0.2, 0.1, "PixelSpacing"), zoom=2)
        assert vp.out_size == (120, 100)
        assert plan_viewport(100, 100, box=(10, 20, 60, 50), rotation=90).out_size == (50, 30)
        assert plan_viewport(100, 200, zoom=4, max_side=400).out_size == (200, 400)


class TestMapping:
    def test_corners_under_each_rotation(self) -> None:
        # 10 rows x 20 cols; the stored top-left corner goes to the output's...
        expected = {0: (0, 0), 90: (10, 0), 180: (20, 10), 270: (0, 20)}
        for rotation, corner in expected.items():
            vp = plan_viewport(10, 20, rotation=rotation)
            assert vp.map_point(0, 0) == pytest.approx(corner)
        flipped = plan_viewport(10, 20, flip=True)
        assert flipped.map_point(0, 0) == pytest.approx((20, 0))

    def test_box_follows_crop_and_zoom(self) -> None:
        vp = plan_viewport(100, 100, box=(20, 10, 70, 60), zoom=2)
        assert vp.map_box((20, 10, 30, 20)) == (0, 0, 20, 20)
        assert vp.map_box((0, 0, 10, 5)) is None  # outside the crop
        assert vp.map_box((60, 50, 90, 90)) == (80, 80, 100, 100)  # clipped

    def test_output_spacing(self) -> None:
        vp = plan_viewport(100, 100, box=(0, 0, 50, 40), zoom=2, rotation=90)
        assert vp.output_spacing(PixelSpacing(0.5, 0.25, "PixelSpacing")) == pytest.approx((0.125, 0.25))


class TestApplyViewport:
    def test_crop_is_a_slice_and_beyond_is_filled(self) -> None:
        image = np.arange(100, dtype=np.uint8).reshape(10, 10)
        vp = plan_viewport(10, 10, box=(2, 3, 6, 8))
        assert np.array_equal(apply_viewport(image, vp), image[3:8, 2:6])
        wide = Viewport((10, 10), (-2, -1, 12, 10), (11, 14))
        out = apply_viewport(image, wide, fill=7)
        assert out.shape == (11, 14) and out[0, 0] == 7 and out[1, 2] == image[0, 0] and out[10, 13] == 7

    def test_rotation_and_flip_are_numpy_exact(self) -> None:
        image = np.random.default_rng(1).integers(0, 255, (6, 9, 3), dtype=np.uint8)
        vp = plan_viewport(6, 9, rotation=90, flip=True)
        assert np.array_equal(apply_viewport(image, vp), np.fliplr(np.rot90(image, -1)))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(4, 30), cols=st.integers(4, 30), rotation=st.sampled_from([0, 90, 180, 270]),
    flip=st.booleans(), data=st.data(),
)
def test_a_pixel_lands_where_its_coordinates_map(rows: int, cols: int, rotation: int, flip: bool,
                                                 data: st.DataObject) -> None:
    """Pixels and coordinates share one geometry: a marked stored pixel ends up under its mapped centre."""
    x0 = data.draw(st.integers(0, cols - 1))
    y0 = data.draw(st.integers(0, rows - 1))
    x1 = data.draw(st.integers(x0 + 1, cols))
    y1 = data.draw(st.integers(y0 + 1, rows))
    x = data.draw(st.integers(x0, x1 - 1))
    y = data.draw(st.integers(y0, y1 - 1))
    image = np.zeros((rows, cols), np.uint8)
    image[y, x] = 255
    vp = plan_viewport(rows, cols, box=(x0, y0, x1, y1), rotation=rotation, flip=flip)
    out = apply_viewport(image, vp)
    u, v = vp.map_point(x + 0.5, y + 0.5)
    assert out[int(v), int(u)] == 255 and out.sum() == 255
    assert vp.map_box((x, y, x + 1, y + 1)) == (int(u), int(v), int(u) + 1, int(v) + 1)
