"""Pure mask functions: blank boxes, keep boxes, MaskPlan (hand-computed values + hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcmexport.mask import MaskPlan, apply_blank_boxes, apply_keep_boxes, clip_box, keep_mask
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
