"""The figure stages after the grayscale rendering, in the order of PS3.4 N.2.

Per frame: overlays and shutters in stored geometry (before the masks, so a
mask also blanks an overlay), then, after the masks, the viewport (spatial
transformation, displayed area or crop, aspect, zoom), the graphic
annotations and text in output pixels, and last the scale bar. A
:class:`FigureRenderer` holds what was planned once per object
(:func:`dcmexport.pipeline.figure.plan_figure`); :func:`annotations_from_state`
turns a presentation state's graphic annotations into drawable shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dcmexport.render.annotate import (
    WHITE,
    Ink,
    Label,
    Shape,
    apply_annotations,
    apply_ink,
    circle_points,
    ellipse_points,
    ink_from_cielab,
    spline_points,
)
from dcmexport.render.aspect import PixelSpacing
from dcmexport.render.gsps import GraphicObject, PresentationState, TextObject
from dcmexport.render.overlays import OverlayPlane, overlay_mask
from dcmexport.render.scalebar import apply_scale_bar
from dcmexport.render.shutters import shutter_mask
from dcmexport.render.viewport import Viewport, apply_viewport

__all__ = ["FigureRenderer", "Drawing", "annotations_from_state"]


@dataclass(frozen=True)
class Drawing:
    """Shapes and labels of one frame, in output pixels."""

    shapes: tuple[Shape, ...] = ()
    labels: tuple[Label, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.shapes and not self.labels


def _grey(ink: Ink) -> Ink:
    level = 0.299 * ink[0] + 0.587 * ink[1] + 0.114 * ink[2]
    return (level, level, level)


@dataclass(eq=False)
class FigureRenderer:
    """Overlays, shutters, viewport, annotations and scale bar of one object, applied per frame.

    Attributes:
        viewport: stored -> output geometry.
        grey_only: True for 16-bit output: coloured inks become their luminance.
        overlays: planes to burn (already chosen: the image's, or those a state activates).
        overlay_inks: one ink per plane.
        shutters: the geometric shutters' mask (stored geometry), if any.
        bitmap_shutters: overlay planes used as bitmap shutters (their set bits are shuttered).
        shutter_level: the Shutter Presentation Value as a fraction of white (also fills beyond the image).
        drawings: frame number (0-based) -> what to draw; ``default_drawing`` for the others.
        scale_bar: ``(mm per output column, length mm, corner)``.
        physical_spacing: a presentation state's Presentation Pixel Spacing, which sets the print size.
    """

    viewport: Viewport
    grey_only: bool = False
    overlays: tuple[OverlayPlane, ...] = ()
    overlay_inks: tuple[Ink, ...] = ()
    shutters: np.ndarray | None = None
    bitmap_shutters: tuple[OverlayPlane, ...] = ()
    shutter_level: float = 0.0
    drawings: dict[int, Drawing] = field(default_factory=dict)
    default_drawing: Drawing = field(default_factory=Drawing)
    scale_bar: tuple[float, float, str] | None = None
    physical_spacing: PixelSpacing | None = None  # a presentation state's Presentation Pixel Spacing (print size)
    bar_box: tuple[int, int, int, int] | None = None  # where the last scale bar went (output pixels)

    def _ink(self, ink: Ink) -> Ink:
        return _grey(ink) if self.grey_only else ink

    def apply_stored(self, image: np.ndarray, frame: int) -> np.ndarray:
        """Overlays, then shutters, on a rendered frame in stored geometry (``frame`` 0-based); a new array."""
        shape = image.shape[:2]
        marks = [(overlay_mask([plane], frame, shape), ink) for plane, ink in zip(self.overlays, self.overlay_inks,
                                                                                   strict=True)]
        shut = self.shutters
        bitmap = overlay_mask(self.bitmap_shutters, frame, shape) if self.bitmap_shutters else None
        if bitmap is not None:
            shut = bitmap if shut is None else shut | bitmap
        if all(mask is None for mask, _ in marks) and (shut is None or not shut.any()):
            return image
        out = image.copy()  # never write into a decoded frame or a shared table
        for mask, ink in marks:
            if mask is not None:
                out = apply_ink(out, mask.astype(np.uint8) * 255, self._ink(ink))
        if shut is not None and shut.any():
            level = self.shutter_level
            out = apply_ink(out, shut.astype(np.uint8) * 255, (level, level, level))
        return out

    def fill_value(self, image: np.ndarray) -> int:
        top = 255 if image.dtype == np.uint8 else 65535
        return round(self.shutter_level * top)

    def apply_view(self, image: np.ndarray, frame: int) -> np.ndarray:
        """Viewport, then the frame's annotations (output geometry)."""
        out = apply_viewport(image, self.viewport, self.fill_value(image))
        drawing = self.drawings.get(frame, self.default_drawing)
        if drawing.is_empty:
            return out
        shapes = tuple(Shape(s.points, self._ink(s.ink), s.closed, s.filled, s.marker) for s in drawing.shapes)
        labels = tuple(Label(t.text, self._ink(t.ink), t.box, t.anchor, t.justification, t.anchor_line)
                       for t in drawing.labels)
        return apply_annotations(out, shapes, labels)

    def apply_scale_bar(self, image: np.ndarray) -> np.ndarray:
        """The scale bar, last (it is ours, not the patient's: the text checks run before it)."""
        if self.scale_bar is None:
            return image
        mm_per_px, length, corner = self.scale_bar
        out, self.bar_box = apply_scale_bar(image, mm_per_px, length, corner, WHITE)
        return out


# --------------------------------------------------------------------------- presentation state graphics


def layer_ink(state: PresentationState, layer_name: str, default: Ink = WHITE) -> Ink:
    """A graphic layer's recommended colour: its CIELab value, else its grey P-value, else ``default``."""
    layer = state.layer(layer_name)
    if layer is None:
        return default
    if layer.cielab is not None:
        return ink_from_cielab(layer.cielab)
    if layer.grey is not None:
        level = max(0, min(65535, layer.grey)) / 65535.0
        return (level, level, level)
    return default


def _mapper(viewport: Viewport, units: str) -> object:
    rows, cols = viewport.out_size
    if units == "DISPLAY":
        return lambda x, y: (x * cols, y * rows)
    return viewport.map_point


def _shape(graphic: GraphicObject, viewport: Viewport, ink: Ink) -> Shape:
    to_out = _mapper(viewport, graphic.units)
    pts = graphic.points
    closed = False
    if graphic.kind == "POINT":
        return Shape(tuple(to_out(*p) for p in pts), ink, marker=True)  # type: ignore[operator]
    if graphic.kind == "CIRCLE":
        pts, closed = circle_points(pts[0], pts[1]), True
    elif graphic.kind == "ELLIPSE":
        pts, closed = ellipse_points((pts[0], pts[1]), (pts[2], pts[3])), True
    elif graphic.kind == "INTERPOLATED":
        closed = pts[0] == pts[-1]
        pts = spline_points(pts)
    else:
        closed = pts[0] == pts[-1]
    mapped = tuple(to_out(*p) for p in pts)  # type: ignore[operator]
    return Shape(mapped, ink, closed=closed, filled=graphic.filled and closed)


def _label(text: TextObject, viewport: Viewport, ink: Ink) -> Label:
    box = None
    if text.box is not None:
        to_out = _mapper(viewport, text.box_units)
        ax, ay = to_out(text.box[0], text.box[1])  # type: ignore[operator]
        bx, by = to_out(text.box[2], text.box[3])  # type: ignore[operator]
        box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
    anchor = None
    if text.anchor is not None:
        anchor = _mapper(viewport, text.anchor_units)(*text.anchor)  # type: ignore[operator]
    return Label(text.text, ink, box, anchor, text.justification, text.anchor_visible)


def annotations_from_state(
    state: PresentationState,
    uid: str,
    frame: int,
    viewport: Viewport,
    *,
    with_text: bool,
    default_ink: Ink = WHITE,
) -> Drawing:
    """The graphic objects (and, ``with_text``, text objects) a state puts on image ``uid``'s ``frame`` (1-based).

    PIXEL-unit coordinates follow the viewport (crop, rotation, flip, zoom);
    DISPLAY-unit ones are fractions of the displayed area, i.e. of the output.
    Layers are drawn bottom (lowest Graphic Layer Order) first.
    """
    shapes: list[Shape] = []
    labels: list[Label] = []
    for item in state.annotations_for(uid, frame):
        ink = layer_ink(state, item.layer, default_ink)
        shapes.extend(_shape(g, viewport, ink) for g in item.graphics)
        if with_text:
            labels.extend(_label(t, viewport, ink) for t in item.texts if t.text.strip())
    return Drawing(tuple(shapes), tuple(labels))


def shutter_planes(state: PresentationState, image_planes: Sequence[OverlayPlane]) -> tuple[OverlayPlane, ...]:
    """The overlay plane the state's bitmap shutter names: the state's own, else the image's."""
    if state.shutters is None or state.shutters.bitmap_group is None:
        return ()
    group = state.shutters.bitmap_group
    for plane in (*state.overlays, *image_planes):
        if plane.group == group:
            return (plane,)
    return ()


def geometric_shutters(state: PresentationState, shape: tuple[int, int]) -> np.ndarray | None:
    """The rectangular/circular/polygonal shutters' mask in stored geometry, or None without them."""
    s = state.shutters
    if s is None or (s.rect is None and s.circle is None and not s.polygon):
        return None
    return shutter_mask(shape, s)
