"""Pure mask functions: blank boxes, keep boxes, MaskPlan (hand-computed values + hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcmexport.mask.rects import (
    MaskPlan,
    align_box_outward,
    apply_blank_boxes,
    apply_keep_boxes,
    clip_box,
    complement_boxes,
    keep_mask,
)
from dcmexport.options import MaskRect

ROWS, COLS = 12, 16


def _frame(samples: int = 0, dtype: type = np.uint16) -> np.ndarray:
    # Values start at 1 so that a fill of 0 is always distinguishable from content.
    shape = (ROWS, COLS, samples) if samples else (ROWS, COLS)
    return (np.arange(int(np.prod(shape))).reshape(shape) % 250 + 1).astype(dtype)


class TestClipBox:
    def test_inside_unchanged(self) -> None:
        assert clip_box((1, 2, 5, 6), ROWS, COLS) == (1, 2, 5, 6)

    def test_overhang_clipped(self) -> None:
        assert clip_box((-3, -4, 100, 100), ROWS, COLS) == (0, 0, COLS, ROWS)

    def test_outside_is_none(self) -> None:
        assert clip_box((COLS, 0, COLS + 5, 5), ROWS, COLS) is None
        assert clip_box((3, 3, 3, 8), ROWS, COLS) is None  # zero width


class TestApplyBlankBoxes:
    def test_blanks_exactly_the_box(self) -> None:
        frame = _frame()
        out = apply_blank_boxes(frame, [(2, 1, 5, 3)], fill=0)
        assert (out[1:3, 2:5] == 0).all()
        expected = frame.copy()
        expected[1:3, 2:5] = 0
        np.testing.assert_array_equal(out, expected)
        assert int((out == 0).sum()) == 6  # 3 columns x 2 rows
        assert frame.min() == 1  # input untouched

    def test_rgb_all_samples(self) -> None:
        frame = _frame(3, np.uint8)
        out = apply_blank_boxes(frame, [(0, 0, 2, 2)], fill=7)
        assert (out[:2, :2, :] == 7).all()
        np.testing.assert_array_equal(out[2:], frame[2:])

    def test_clipping_and_negative_dtype(self) -> None:
        frame = _frame(dtype=np.int16)
        out = apply_blank_boxes(frame, [(COLS - 2, ROWS - 1, COLS + 10, ROWS + 10)], fill=-32768)
        assert (out[ROWS - 1, COLS - 2 :] == -32768).all()
        assert int((out == -32768).sum()) == 2

    def test_rejects_1d(self) -> None:
        with pytest.raises(ValueError, match="shape"):
            apply_blank_boxes(np.zeros(5), [(0, 0, 1, 1)])


class TestApplyKeepBoxes:
    def test_keeps_union_only(self) -> None:
        frame = _frame()
        out = apply_keep_boxes(frame, [(0, 0, 4, 4), (2, 2, 6, 5)], fill=0)
        inside = np.zeros((ROWS, COLS), bool)
        inside[0:4, 0:4] = True
        inside[2:5, 2:6] = True
        np.testing.assert_array_equal(out[inside], frame[inside])
        assert (out[~inside] == 0).all()
        assert int(inside.sum()) == 16 + 12 - 4

    def test_empty_keep_blanks_everything(self) -> None:
        assert (apply_keep_boxes(_frame(3, np.uint8), [], fill=0) == 0).all()

    def test_keep_mask_shape(self) -> None:
        m = keep_mask([(1, 1, 3, 2)], ROWS, COLS)
        assert m.shape == (ROWS, COLS) and int(m.sum()) == 2


class TestMaskPlan:
    def test_empty_plan_returns_same_array(self) -> None:
        frame = _frame()
        plan = MaskPlan()
        assert plan.is_empty
        assert plan.apply(frame) is frame
        assert plan.describe() == "no masking"

    def test_keep_empty_tuple_is_not_empty_plan(self) -> None:
        plan = MaskPlan(keep=())
        assert not plan.is_empty
        assert (plan.apply(_frame()) == 0).all()

    def test_keep_and_blank_combined(self) -> None:
        frame = _frame(3, np.uint8)
        plan = MaskPlan(blank=((1, 1, 2, 2),), keep=((0, 0, 4, 4),), sources=("us-regions", "user"))
        out = plan.apply(frame, fill=0)
        assert (out[1, 1] == 0).all()  # blanked inside the kept region
        np.testing.assert_array_equal(out[0, 0], frame[0, 0])
        assert (out[5:, :] == 0).all()  # outside the kept region
        text = plan.describe()
        assert "keep only 1 region" in text and "blank 1 rectangle" in text and "us-regions" in text

    def test_negative_offsets_through_maskrect(self) -> None:
        # MaskRect(-4, -3, 4, 3) is the bottom-right 4 x 3 corner.
        box = MaskRect(-4, -3, 4, 3).resolve(ROWS, COLS)
        assert box == (COLS - 4, ROWS - 3, COLS, ROWS)
        out = MaskPlan(blank=(box,)).apply(_frame())
        assert (out[ROWS - 3 :, COLS - 4 :] == 0).all()
        assert int((out == 0).sum()) == 12


class TestComplementBoxes:
    def test_one_keep_box_gives_four_bands(self) -> None:
        # The ultrasound region of color3d_jpeg_baseline.dcm in its 480 x 640 frame.
        assert complement_boxes([(84, 31, 596, 415)], 480, 640) == (
            (0, 0, 640, 31),
            (0, 31, 84, 415),
            (596, 31, 640, 415),
            (0, 415, 640, 480),
        )

    def test_empty_keep_is_the_whole_frame_and_full_keep_is_nothing(self) -> None:
        assert complement_boxes([], ROWS, COLS) == ((0, 0, COLS, ROWS),)
        assert complement_boxes([(-1, -1, COLS + 1, ROWS + 1)], ROWS, COLS) == ()

    def test_overlapping_keep_boxes(self) -> None:
        # Two overlapping keep boxes in a 5 x 6 frame ('.' kept, '#' blanked), rows 0..4:
        # ######  #..###  #....#  ##...#  ######
        got = complement_boxes([(1, 1, 3, 3), (2, 2, 5, 4)], 5, 6)
        assert got == ((0, 0, 6, 1), (0, 1, 1, 3), (3, 1, 6, 2), (5, 2, 6, 4), (0, 3, 2, 4), (0, 4, 6, 5))


class TestAlignBoxOutward:
    def test_grows_to_the_grid(self) -> None:
        assert align_box_outward((33, 17, 63, 47), (2, 2), 480, 640) == (32, 16, 64, 48)
        assert align_box_outward((33, 17, 63, 47), (4, 1), 480, 640) == (32, 17, 64, 47)

    def test_aligned_box_is_unchanged_and_edges_clip(self) -> None:
        assert align_box_outward((32, 16, 64, 48), (2, 2), 480, 640) == (32, 16, 64, 48)
        assert align_box_outward((1, 1, 639, 479), (4, 2), 479, 639) == (0, 0, 639, 479)
        assert align_box_outward((700, 0, 800, 10), (2, 2), 480, 640) is None


boxes = st.tuples(
    st.integers(-5, COLS + 5), st.integers(-5, ROWS + 5), st.integers(-5, COLS + 5), st.integers(-5, ROWS + 5)
)
plans = st.builds(
    MaskPlan,
    blank=st.lists(boxes, max_size=4).map(tuple),
    keep=st.one_of(st.none(), st.lists(boxes, max_size=3).map(tuple)),
)


def _masked_region(plan: MaskPlan) -> np.ndarray:
    """Pixels the plan must blank, computed independently of the implementation."""
    ys, xs = np.mgrid[0:ROWS, 0:COLS]
    hit = np.zeros((ROWS, COLS), bool)
    for x0, y0, x1, y1 in plan.blank:
        hit |= (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    if plan.keep is not None:
        kept = np.zeros((ROWS, COLS), bool)
        for x0, y0, x1, y1 in plan.keep:
            kept |= (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
        hit |= ~kept
    return hit


@settings(max_examples=150, deadline=None)
@given(first=plans, second=plans, samples=st.sampled_from([0, 3]))
def test_a_mask_never_unmasks(first: MaskPlan, second: MaskPlan, samples: int) -> None:
    frame = _frame(samples)
    once = first.apply(frame, fill=0)
    twice = second.apply(once, fill=0)
    masked1 = _masked_region(first)
    masked2 = _masked_region(second)
    # What the first plan blanked stays blank after more masks...
    assert (twice[masked1] == 0).all()
    # ...everything either plan blanks is blank, and nothing else changed.
    union = masked1 | masked2
    assert (twice[union] == 0).all()
    np.testing.assert_array_equal(twice[~union], frame[~union])


@settings(max_examples=150, deadline=None)
@given(plan=plans, samples=st.sampled_from([0, 3]))
def test_blank_boxes_equal_apply(plan: MaskPlan, samples: int) -> None:
    """Rectangles alone (keep as its complement) blank exactly what MaskPlan.apply blanks."""
    frame = _frame(samples)
    by_boxes = apply_blank_boxes(frame, plan.blank_boxes(ROWS, COLS), fill=0) if not plan.is_empty else frame
    np.testing.assert_array_equal(by_boxes, plan.apply(frame, fill=0))
    np.testing.assert_array_equal(by_boxes == 0 if samples == 0 else (by_boxes == 0).all(-1), _masked_region(plan))


@settings(max_examples=150, deadline=None)
@given(box=boxes, grid=st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_aligned_box_covers_the_box_and_lies_on_the_grid(box: tuple[int, int, int, int], grid: tuple[int, int]) -> None:
    clipped = clip_box(box, ROWS, COLS)
    aligned = align_box_outward(box, grid, ROWS, COLS)
    if clipped is None:
        return  # nothing to cover (an aligned box may still exist: growing is fail-safe)
    assert aligned is not None
    x0, y0, x1, y1 = aligned
    assert x0 <= clipped[0] and y0 <= clipped[1] and x1 >= clipped[2] and y1 >= clipped[3]
    assert x0 % grid[0] == 0 and y0 % grid[1] == 0
    assert x1 % grid[0] == 0 or x1 == COLS
    assert y1 % grid[1] == 0 or y1 == ROWS
    assert x1 - clipped[2] < grid[0] and clipped[0] - x0 < grid[0]  # grown by less than one cell
