"""The cheap text-like-row detector: synthetic glyphs drawn with Pillow, graphics, real ultrasound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont

from dcmexport.mask.detect import find_text_like_rows
from dcmexport.mask.rects import MaskPlan


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text_frame(
    text: str = "DOE JANE 1970", xy: tuple[int, int] = (20, 10), size: int = 18
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    image = Image.new("L", (320, 200), 0)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    draw.text(xy, text, font=font, fill=255)
    bbox = draw.textbbox(xy, text, font=font)
    return np.asarray(image).copy(), (bbox[0], bbox[1], bbox[2], bbox[3])


class TestFindTextLikeRows:
    def test_finds_drawn_text(self) -> None:
        frame, bbox = _text_frame()
        found = find_text_like_rows(frame)
        assert found, "drawn text not detected"
        assert any(_overlaps(box, bbox) for box in found)
        # the box stays near the text line, not the whole frame
        assert all(box[3] - box[1] <= 40 for box in found)

    def test_rgb_coloured_text(self) -> None:
        gray, bbox = _text_frame()
        rgb = np.zeros(gray.shape + (3,), np.uint8)
        rgb[..., 0] = gray  # red text only
        assert any(_overlaps(box, bbox) for box in find_text_like_rows(rgb))

    def test_text_inside_keep_ignored(self) -> None:
        frame, bbox = _text_frame()
        assert find_text_like_rows(frame, keep=[(0, 0, 320, 60)]) == []
        # but text outside a keep region is still found
        assert find_text_like_rows(frame, keep=[(0, 100, 320, 200)])

    def test_blank_and_graphics_are_not_text(self) -> None:
        assert find_text_like_rows(np.zeros((100, 100), np.uint8)) == []
        frame = np.zeros((300, 200), np.uint16)
        frame[20:280, 100] = 4000  # vertical depth scale
        frame[20:280:25, 95:106] = 4000  # its tick marks
        frame[50:250, 10:30] = np.linspace(0, 4000, 200, dtype=np.uint16)[:, None]  # grey bar
        frame[150:152, 40:90] = 4000  # a calliper line
        assert find_text_like_rows(frame) == []

    def test_rejects_bad_shape(self) -> None:
        with pytest.raises(ValueError, match="shape"):
            find_text_like_rows(np.zeros((2, 3, 4, 5)))


def test_real_ultrasound_border_text_then_masked() -> None:
    deid_data = pytest.importorskip("deid_data")
    path = Path(deid_data.__file__).parent / "data" / "ultrasounds" / "GREYSCALE_IMAGE.dcm"
    ds = pydicom.dcmread(path)
    frame = ds.pixel_array
    keep = ((14, 38, 1011, 759),)  # its Sequence of Ultrasound Regions
    found = find_text_like_rows(frame, keep)
    # the demographics line at the top (rows 0-20) is flagged
    assert any(box[1] < 20 for box in found)
    masked = MaskPlan(keep=keep).apply(frame)
    assert find_text_like_rows(masked, keep) == []
