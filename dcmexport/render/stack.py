"""``--window A,B,C``: three windowed renderings of one grayscale frame as the R, G and B channels.

The multi-window recipe of intracranial haemorrhage models (e.g. brain 40/80,
subdural 80/200, bone 600/2800): each channel is the 8-bit rendering of the frame
under one window (Modality LUT, VOI window, MONOCHROME1 inversion: exactly what
``--window C,W`` renders), stacked into an ``(rows, cols, 3)`` ``uint8`` RGB image.
Colour input has no single value to window, so it is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset

from dcmexport.errors import RenderError
from dcmexport.options import RenderOptions, Window
from dcmexport.render.renderer import FrameRenderer, FrameRenderers


def apply_channel_stack(channels: Sequence[np.ndarray]) -> np.ndarray:
    """Stack same-shape ``uint8`` grayscale renderings as the channels of one RGB image (R first)."""
    return np.stack([np.asarray(c, dtype=np.uint8) for c in channels], axis=-1)


class StackedRenderer:
    """One frame's three channel renderers; the same interface as :class:`FrameRenderer` where the pipeline uses it."""

    is_color = True
    bit_depth = 8

    def __init__(self, channels: Sequence[FrameRenderer]) -> None:
        self.channels = tuple(channels)

    def render(self, frame: np.ndarray) -> np.ndarray:
        """Render ``frame`` once per window and stack the results as R, G and B (``uint8``)."""
        return apply_channel_stack([c.render(frame) for c in self.channels])

    def passes_uint8_through(self) -> bool:
        """Never: the output has three channels made from one."""
        return False

    @property
    def window(self) -> tuple[Window | None, ...]:
        """The window of each channel."""
        return tuple(c.window for c in self.channels)

    def describe(self) -> str:
        """One PHI-free line: the three windows as R, G and B."""
        return "windows " + ", ".join(c.describe() for c in self.channels) + " as R, G, B"


class StackedRenderers:
    """:class:`FrameRenderers` for ``--window A,B,C``: one set per window, combined per frame.

    Raises:
        RenderError: the object is colour ((0028,0004) PhotometricInterpretation not MONOCHROME1/2).
    """

    def __init__(self, ds: Dataset, options: RenderOptions, windows: Sequence[Window]) -> None:
        plain = replace(options, window_stack=(), window_preset=None, window_name=None, bit_depth=8)
        self._channels = [FrameRenderers(ds, replace(plain, window=w)) for w in windows]
        if self._channels[0].first.is_color:
            raise RenderError("--window A,B,C stacks three windows of a grayscale image; (0028,0004) "
                              "PhotometricInterpretation is a colour one: export it without the three windows")
        self.first = StackedRenderer([c.first for c in self._channels])
        self.varies = self._channels[0].varies
        self._by_frame: dict[int, StackedRenderer] = {}

    def for_frame(self, index: int) -> StackedRenderer:
        """The stacked renderer for frame ``index`` (0-based)."""
        if not self.varies:
            return self.first
        found = self._by_frame.get(index)
        if found is None:
            found = self._by_frame[index] = StackedRenderer([c.for_frame(index) for c in self._channels])
        return found

    @property
    def distinct(self) -> int:
        """How many different renderers each channel uses."""
        return self._channels[0].distinct
