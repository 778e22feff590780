"""Drawing on display images: lines, filled shapes, points and text, in output pixel coordinates.

Everything is drawn with Pillow's ``ImageDraw`` into an 8-bit coverage mask
(anti-aliased text, solid shapes) and blended into the image, so the same code
serves 8-bit and 16-bit grey and RGB. Text gets a dark halo so it stays
readable on any background. The font is Pillow's built-in scalable font
(``ImageFont.load_default(size)``), the same on every machine.

Colours are :data:`Ink`: red, green, blue fractions 0..1; a grey ink keeps a
grey image grey, a coloured one turns it into 8-bit RGB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "Ink",
    "Label",
    "Shape",
    "apply_annotations",
    "apply_ink",
    "circle_points",
    "ellipse_points",
    "ink_from_cielab",
    "spline_points",
    "text_width",
]

Ink = tuple[float, float, float]
WHITE: Ink = (1.0, 1.0, 1.0)
BLACK: Ink = (0.0, 0.0, 0.0)
Point = tuple[float, float]


@dataclass(frozen=True)
class Shape:
    """A polyline or polygon in output pixels; ``marker`` draws a point (a small disc at each point)."""

    points: tuple[Point, ...]
    ink: Ink = WHITE
    closed: bool = False
    filled: bool = False
    marker: bool = False


@dataclass(frozen=True)
class Label:
    """Text in output pixels: inside ``box`` (left, top, right, bottom), or beside ``anchor``.

    ``text`` may be PHI (a presentation state's text object): never printed.
    """

    text: str = field(repr=False)
    ink: Ink = WHITE
    box: tuple[float, float, float, float] | None = None
    anchor: Point | None = None
    justification: str = "LEFT"
    anchor_line: bool = False


def ink_from_cielab(lab: Sequence[int]) -> Ink:
    """A DICOM CIELab triple (PS3.3 C.10.7.1.1: L 0..65535 -> 0..100, a/b 0..65535 -> -128..127) as sRGB ink."""
    L = lab[0] * 100.0 / 65535.0
    a = lab[1] * 255.0 / 65535.0 - 128.0
    b = lab[2] * 255.0 / 65535.0 - 128.0
    fy = (L + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0

    def inverse(t: float) -> float:
        return t**3 if t > 6 / 29 else 3 * (6 / 29) ** 2 * (t - 4 / 29)

    x, y, z = 0.95047 * inverse(fx), inverse(fy), 1.08883 * inverse(fz)  # D65 white
    linear = (3.2406 * x - 1.5372 * y - 0.4986 * z, -0.9689 * x + 1.8758 * y + 0.0415 * z,
              0.0557 * x - 0.2040 * y + 1.0570 * z)

    def gamma(c: float) -> float:
        c = min(1.0, max(0.0, c))
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    r, g, bl = (gamma(c) for c in linear)
    return (r, g, bl)


def circle_points(center: Point, edge: Point, segments: int = 96) -> tuple[Point, ...]:
    """A closed polygon through a circle given by its centre and a point on it (PS3.3 CIRCLE)."""
    radius = math.hypot(edge[0] - center[0], edge[1] - center[1])
    return tuple((center[0] + radius * math.cos(t), center[1] + radius * math.sin(t))
                 for t in np.linspace(0, 2 * math.pi, segments + 1))


def ellipse_points(major: tuple[Point, Point], minor: tuple[Point, Point], segments: int = 96) -> tuple[Point, ...]:
    """A closed polygon through an ellipse given by the end points of its major and minor axes (PS3.3 ELLIPSE)."""
    (ax, ay), (bx, by) = major
    cx, cy = (ax + bx) / 2, (ay + by) / 2
    semi_major = math.hypot(bx - ax, by - ay) / 2
    semi_minor = math.hypot(minor[1][0] - minor[0][0], minor[1][1] - minor[0][1]) / 2
    angle = math.atan2(by - ay, bx - ax)
    ca, sa = math.cos(angle), math.sin(angle)
    out = []
    for t in np.linspace(0, 2 * math.pi, segments + 1):
        u, v = semi_major * math.cos(t), semi_minor * math.sin(t)
        out.append((cx + u * ca - v * sa, cy + u * sa + v * ca))
    return tuple(out)


def spline_points(points: Sequence[Point], steps: int = 12) -> tuple[Point, ...]:
    """A Catmull-Rom curve through ``points`` (PS3.3 INTERPOLATED); closed when the first equals the last."""
    pts = [tuple(p) for p in points]
    if len(pts) < 3:
        return tuple(pts)  # type: ignore[arg-type]
    closed = pts[0] == pts[-1]
    if closed:
        ring = pts[:-1]
        ext = [ring[-1], *ring, ring[0], ring[1]]
    else:
        ext = [pts[0], *pts, pts[-1]]
    out: list[Point] = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = (np.asarray(ext[j], dtype=np.float64) for j in (i - 1, i, i + 1, i + 2))
        for t in np.linspace(0, 1, steps, endpoint=False):
            t2, t3 = t * t, t * t * t
            q = 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
            out.append((float(q[0]), float(q[1])))
    out.append(ext[-2] if not closed else out[0])  # type: ignore[arg-type]
    return tuple(out)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def text_width(text: str, size: int) -> int:
    """Width in pixels of ``text`` in the built-in font at ``size`` pixels."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, _, right, _ = probe.multiline_textbbox((0, 0), text, font=_font(size))
    return int(right - left)


def apply_ink(image: np.ndarray, coverage: np.ndarray, ink: Ink) -> np.ndarray:
    """Blend ``ink`` into ``image`` where ``coverage`` (uint8 0..255) says, in place when the types allow.

    :param image: grey ``(H, W)`` uint8/uint16, or ``(H, W, 3)`` uint8.
    :param coverage: ``(H, W)`` uint8: 0 keeps the pixel, 255 replaces it.
    :param ink: the colour; a coloured ink turns a grey image into 8-bit RGB (a new array).
    :returns: the image drawn on.
    """
    if not coverage.any():
        return image
    grey_ink = ink[0] == ink[1] == ink[2]
    if image.ndim == 2 and not grey_ink:
        base = image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)
        image = np.repeat(base[..., None], 3, axis=2)
    top = 255.0 if image.dtype == np.uint8 else 65535.0
    alpha = coverage.astype(np.float32) / 255.0
    where = coverage > 0
    if image.ndim == 2:
        value = ink[0] if grey_ink else 0.299 * ink[0] + 0.587 * ink[1] + 0.114 * ink[2]
        blended = image[where] * (1 - alpha[where]) + value * top * alpha[where]
        image[where] = np.clip(np.rint(blended), 0, top).astype(image.dtype)
        return image
    for c in range(3):
        chan = image[..., c]
        blended = chan[where] * (1 - alpha[where]) + ink[c] * top * alpha[where]
        chan[where] = np.clip(np.rint(blended), 0, top).astype(image.dtype)
    return image


def _canvas(size: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (size[1], size[0]), 0)
    return mask, ImageDraw.Draw(mask)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: Shape, width: int) -> None:
    pts = [(float(x), float(y)) for x, y in shape.points]
    if shape.marker:
        r = max(2.0, width * 1.5)
        for x, y in pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        return
    if shape.filled and len(pts) >= 3:
        draw.polygon(pts, fill=255)
        return
    if shape.closed and pts and pts[0] != pts[-1]:
        pts = [*pts, pts[0]]
    if len(pts) >= 2:
        draw.line(pts, fill=255, width=width, joint="curve")


def _fit_font(text: str, box_w: float, box_h: float, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest font up to ``size`` whose rendering of ``text`` fits ``box_w`` x ``box_h`` (at least 6 px)."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    for candidate in range(size, 5, -1):
        font = _font(candidate)
        left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font)
        if right - left <= max(box_w, 1) and bottom - top <= max(box_h, 1):
            return font
    return _font(6)


def _text_position(label: Label, bbox: tuple[float, float, float, float], gap: float,
                   size: tuple[int, int]) -> tuple[float, float]:
    width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
    if label.box is not None:
        left, top, right, _ = label.box
        if label.justification == "RIGHT":
            x = right - width
        elif label.justification == "CENTER":
            x = (left + right - width) / 2
        else:
            x = left
        return x - bbox[0], top - bbox[1]
    assert label.anchor is not None
    x, y = label.anchor[0] + gap, label.anchor[1] + gap
    x = min(max(0.0, x), size[1] - width)  # keep the text on the image
    y = min(max(0.0, y), size[0] - height)
    return x - bbox[0], y - bbox[1]


def apply_annotations(
    image: np.ndarray,
    shapes: Sequence[Shape] = (),
    labels: Sequence[Label] = (),
    *,
    line_width: int | None = None,
    font_size: int | None = None,
) -> np.ndarray:
    """Draw ``shapes`` then ``labels`` (each on top of the previous) on an output image.

    :param image: grey ``(H, W)`` uint8/uint16 or ``(H, W, 3)`` uint8 RGB; not changed.
    :param shapes: polylines, polygons and points in output pixels.
    :param labels: texts in output pixels.
    :param line_width: pixels; default: 1 per 256 pixels of the long side, at least 1.
    :param font_size: pixels; default: 1/32 of the long side, at least 10. Text in a box takes the
        largest size that fits the box (up to four times this).
    :returns: a new image (RGB when a coloured ink met a grey image).
    """
    size = image.shape[:2]
    long_side = max(size)
    width = line_width or max(1, round(long_side / 256))
    font_px = font_size or max(10, round(long_side / 32))
    if not shapes and not labels:
        return image
    image = image.copy()  # never draw on the caller's array (it may be a decoded frame or a shared table)
    for shape in shapes:
        mask, draw = _canvas(size)
        _draw_shape(draw, shape, width)
        image = apply_ink(image, np.asarray(mask), shape.ink)
    for label in labels:
        if not label.text.strip():
            continue
        text = label.text.replace("\r\n", "\n").replace("\r", "\n")
        if label.box is not None:
            left, top, right, bottom = label.box
            font = _fit_font(text, right - left, bottom - top, max(font_px, min(int(bottom - top), 4 * font_px)))
        else:
            font = _font(font_px)
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        bbox = probe.multiline_textbbox((0, 0), text, font=font)
        position = _text_position(label, bbox, gap=2.0 * width, size=size)
        if label.anchor_line and label.anchor is not None and label.box is not None:
            left, top, right, bottom = label.box
            near = (min(max(label.anchor[0], left), right), min(max(label.anchor[1], top), bottom))
            mask, draw = _canvas(size)
            draw.line([label.anchor, near], fill=255, width=width)
            image = apply_ink(image, np.asarray(mask), label.ink)
        halo, draw = _canvas(size)
        stroke = max(1, round(getattr(font, "size", font_px) / 10))
        draw.multiline_text(position, text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        image = apply_ink(image, np.asarray(halo), BLACK)
        mask, draw = _canvas(size)
        draw.multiline_text(position, text, font=font, fill=255)
        image = apply_ink(image, np.asarray(mask), label.ink)
    return image
