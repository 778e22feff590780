"""Render stage: stored values -> display values (Modality LUT, VOI, colour, aspect).

Pure array functions live in :mod:`.lut` (grayscale maths), :mod:`.color`
(RGB scaling, palettes) and :mod:`.aspect` (square pixels); :mod:`.renderer`
combines them into a :class:`FrameRenderer` built once per object. :mod:`.timing`
gives a clip's playback rate (PS3.3 C.7.6.5).

Figures: :mod:`.gsps` (presentation states as frozen values), :mod:`.presentation`
(their grayscale half), :mod:`.overlays` (60xx planes), :mod:`.shutters`,
:mod:`.viewport` (crop, rotation, flip, zoom), :mod:`.annotate` (shapes, text),
:mod:`.scalebar`, and :mod:`.figure`, which applies them per frame.
"""

from __future__ import annotations

from dcmexport.render.aspect import PixelSpacing, apply_aspect, aspect_size, pixel_spacing_from_dataset
from dcmexport.render.lut import apply_voi_window, window_from_dataset
from dcmexport.render.renderer import FrameRenderer, FrameRenderers, renderer_from_dataset
from dcmexport.render.timing import FrameRate, frame_rate_from_dataset

__all__ = [
    "FrameRate",
    "FrameRenderer",
    "FrameRenderers",
    "PixelSpacing",
    "apply_aspect",
    "apply_voi_window",
    "aspect_size",
    "frame_rate_from_dataset",
    "pixel_spacing_from_dataset",
    "renderer_from_dataset",
    "window_from_dataset",
]
