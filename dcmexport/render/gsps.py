"""Grayscale Softcopy Presentation State (GSPS) objects as frozen values: parsed once, trusted after.

:func:`presentation_state_from_dataset` reads the modules of the GSPS IOD
(PS3.3 A.33.1) that change what is displayed: Presentation State Relationship
(which images), Modality LUT, Softcopy VOI LUT, Softcopy Presentation LUT,
Display Shutter and Bitmap Display Shutter, Overlay Plane and Overlay
Activation, Spatial Transformation, Displayed Area, Graphic Layer and Graphic
Annotation. :mod:`dcmexport.render.presentation` applies them in the order of
PS3.4 N.2.

Text objects and graphic layer names can carry PHI: they are kept only as
values to draw, never printed (``repr=False``), and :meth:`PresentationState.describe`
counts them without quoting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dcmexport.errors import RenderError
from dcmexport.figure_options import GSPS_SOP_CLASS
from dcmexport.render.overlays import OverlayPlane, overlay_planes_from_dataset

__all__ = [
    "DisplayedArea",
    "GraphicAnnotation",
    "GraphicLayer",
    "GraphicObject",
    "ImageRef",
    "Lut",
    "PresentationState",
    "Shutters",
    "SoftcopyVoi",
    "TextObject",
    "is_presentation_state",
    "presentation_state_from_dataset",
]

GRAPHIC_TYPES = frozenset({"POINT", "POLYLINE", "INTERPOLATED", "CIRCLE", "ELLIPSE"})
SIZE_MODES = frozenset({"SCALE TO FIT", "TRUE SIZE", "MAGNIFY"})


@dataclass(frozen=True)
class ImageRef:
    """A referenced image (SOP Instance UID) and, optionally, some of its frames (1-based; empty: all)."""

    sop_instance_uid: str
    frames: tuple[int, ...] = ()

    def covers(self, uid: str, frame: int) -> bool:
        """True for image ``uid``'s frame ``frame`` (1-based)."""
        return self.sop_instance_uid == uid and (not self.frames or frame in self.frames)


Refs = tuple[ImageRef, ...] | None  # None: the item applies to every image the state references


def _covers(refs: Refs, uid: str, frame: int) -> bool:
    return refs is None or any(r.covers(uid, frame) for r in refs)


@dataclass(frozen=True)
class Lut:
    """A LUT from a LUT Descriptor (0028,3002) and LUT Data (0028,3006): first input value mapped, output bits."""

    first: int
    bits: int
    data: tuple[int, ...]

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Look ``values`` up (clamped to the table's ends); returns the table's outputs as float64."""
        table = np.asarray(self.data, dtype=np.float64)
        index = np.clip(np.rint(values).astype(np.int64) - self.first, 0, len(table) - 1)
        return table[index]


@dataclass(frozen=True)
class SoftcopyVoi:
    """One Softcopy VOI LUT Sequence (0028,3110) item: a window or a VOI LUT, for some images or all."""

    refs: Refs
    window: tuple[float, float] | None = None  # (center, width)
    function: str = "LINEAR"
    lut: Lut | None = None


@dataclass(frozen=True)
class Shutters:
    """Display Shutter / Bitmap Display Shutter (PS3.3 C.7.6.11, C.7.6.15); coordinates 1-based.

    ``rect`` is (left, right, upper, lower) edges; ``circle`` (centre row, centre
    column, radius); ``polygon`` (row, column) vertices; ``bitmap_group`` the
    overlay group whose set bits are shuttered. ``value`` is the Shutter
    Presentation Value (a P-value, 0..65535) for shuttered pixels.
    """

    rect: tuple[int, int, int, int] | None = None
    circle: tuple[int, int, int] | None = None
    polygon: tuple[tuple[int, int], ...] = ()
    bitmap_group: int | None = None
    value: int = 0

    @property
    def shapes(self) -> tuple[str, ...]:
        kinds = (("rectangular", self.rect), ("circular", self.circle), ("polygonal", self.polygon or None),
                 ("bitmap", self.bitmap_group))
        return tuple(name for name, value in kinds if value is not None)


@dataclass(frozen=True)
class DisplayedArea:
    """One Displayed Area Selection Sequence (0070,005A) item (PS3.3 C.10.4); corners (column, row), 1-based."""

    refs: Refs
    tlhc: tuple[int, int]
    brhc: tuple[int, int]
    mode: str = "SCALE TO FIT"
    spacing: tuple[float, float] | None = None  # Presentation Pixel Spacing (row, column) mm
    aspect: tuple[float, float] | None = None  # Presentation Pixel Aspect Ratio (row, column)
    magnification: float | None = None


@dataclass(frozen=True)
class GraphicObject:
    """One Graphic Object Sequence (0070,0009) item; ``points`` are (column, row) pairs (PS3.3 C.10.5.1.2)."""

    kind: str
    units: str
    points: tuple[tuple[float, float], ...]
    filled: bool = False


@dataclass(frozen=True)
class TextObject:
    """One Text Object Sequence (0070,0008) item. ``text`` may be PHI: never printed."""

    text: str = field(repr=False)
    box: tuple[float, float, float, float] | None = None  # left, top, right, bottom
    box_units: str = "PIXEL"
    justification: str = "LEFT"
    anchor: tuple[float, float] | None = None
    anchor_units: str = "PIXEL"
    anchor_visible: bool = False


@dataclass(frozen=True)
class GraphicLayer:
    """One Graphic Layer Sequence (0070,0060) item; ``name`` may be PHI: never printed."""

    name: str = field(repr=False)
    order: int = 0
    grey: int | None = None  # recommended grayscale P-value
    cielab: tuple[int, int, int] | None = None  # recommended CIELab (PS3.3 C.10.7.1.1 encoding)


@dataclass(frozen=True)
class GraphicAnnotation:
    """One Graphic Annotation Sequence (0070,0001) item: graphics and texts on one layer, for some images."""

    refs: Refs
    layer: str = field(repr=False)
    graphics: tuple[GraphicObject, ...] = ()
    texts: tuple[TextObject, ...] = ()


@dataclass(frozen=True, eq=False)
class PresentationState:
    """Everything of one GSPS that changes what is displayed, in PS3.4 N.2 order."""

    references: tuple[ImageRef, ...]
    rescale: tuple[float, float] | None = None  # Modality LUT as Rescale Slope, Intercept
    modality_lut: Lut | None = None
    vois: tuple[SoftcopyVoi, ...] = ()
    plut_shape: str = "IDENTITY"
    plut: Lut | None = None
    shutters: Shutters | None = None
    rotation: int = 0
    flip: bool = False
    areas: tuple[DisplayedArea, ...] = ()
    layers: tuple[GraphicLayer, ...] = ()
    annotations: tuple[GraphicAnnotation, ...] = ()
    activated: dict[int, str] = field(default_factory=dict, repr=False)  # overlay group -> layer name
    overlays: tuple[OverlayPlane, ...] = ()  # planes carried in the state itself
    created: str = field(default="", repr=False)  # Presentation Creation Date + Time, for choosing the latest

    def references_image(self, uid: str) -> bool:
        """True when the state's Referenced Series Sequence names image ``uid``."""
        return any(r.sop_instance_uid == uid for r in self.references)

    def voi_for(self, uid: str, frame: int) -> SoftcopyVoi | None:
        """The Softcopy VOI item for image ``uid`` frame ``frame`` (1-based), or None (identity VOI)."""
        return next((v for v in self.vois if _covers(v.refs, uid, frame)), None)

    def area_for(self, uid: str, frame: int) -> DisplayedArea | None:
        """The Displayed Area item for image ``uid`` frame ``frame`` (1-based)."""
        return next((a for a in self.areas if _covers(a.refs, uid, frame)), None)

    def annotations_for(self, uid: str, frame: int) -> tuple[GraphicAnnotation, ...]:
        """The Graphic Annotation items for image ``uid`` frame ``frame``, in layer order (bottom first)."""
        order = {layer.name: layer.order for layer in self.layers}
        found = [a for a in self.annotations if _covers(a.refs, uid, frame)]
        return tuple(sorted(found, key=lambda a: order.get(a.layer, 0)))

    def layer(self, name: str) -> GraphicLayer | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    def describe(self) -> str:
        """What the state does, PHI-free (counts and codes, never text), for the result's notes."""
        parts: list[str] = []
        if self.modality_lut is not None:
            parts.append("modality LUT")
        elif self.rescale is not None and self.rescale != (1.0, 0.0):
            parts.append("rescale")
        if any(v.window for v in self.vois):
            parts.append("VOI window")
        if any(v.lut for v in self.vois):
            parts.append("VOI LUT")
        parts.append("presentation LUT table" if self.plut is not None else f"presentation LUT {self.plut_shape}")
        if self.shutters is not None and self.shutters.shapes:
            parts.append(f"{'/'.join(self.shutters.shapes)} shutter")
        if self.rotation or self.flip:
            parts.append(f"rotation {self.rotation}" + (", flipped" if self.flip else ""))
        modes = sorted({a.mode for a in self.areas})
        if modes:
            parts.append(f"displayed area {'/'.join(modes)}")
        graphics = sum(len(a.graphics) for a in self.annotations)
        texts = sum(len(a.texts) for a in self.annotations)
        if graphics or texts:
            parts.append(f"{graphics} graphic(s), {texts} text object(s)")
        if self.activated:
            parts.append(f"{len(self.activated)} overlay(s) activated")
        return ", ".join(parts)


def is_presentation_state(ds: Dataset) -> bool:
    """True when ``ds`` is a Grayscale Softcopy Presentation State (SOP Class UID 1.2.840.10008.5.1.4.1.1.11.1)."""
    return str(ds.get("SOPClassUID", "") or "") == GSPS_SOP_CLASS


# --------------------------------------------------------------------------- adapters


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | MultiValue):
        return list(value)
    return [value]


def _numbers(item: Dataset, keyword: str, count: int, tag: str) -> tuple[float, ...]:
    values = _values(item.get(keyword))
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        out = ()
    if len(out) != count or not all(np.isfinite(out)):
        raise RenderError(f"presentation state: {tag} {keyword} must hold {count} numbers")
    return out


def _optional_numbers(item: Dataset, keyword: str, count: int, tag: str) -> tuple[float, ...] | None:
    return _numbers(item, keyword, count, tag) if item.get(keyword) not in (None, "") else None


def _text(item: Dataset, keyword: str, default: str = "") -> str:
    value = item.get(keyword)
    return str(value).strip().upper() if value not in (None, "") else default


def _refs(item: Dataset) -> Refs:
    seq = item.get("ReferencedImageSequence")
    if not seq:
        return None
    refs = []
    for ref in seq:
        frames = tuple(int(f) for f in _values(ref.get("ReferencedFrameNumber")) if str(f).strip())
        refs.append(ImageRef(str(ref.get("ReferencedSOPInstanceUID", "") or ""), frames))
    return tuple(refs)


def _lut(item: Dataset, where: str) -> Lut:
    descriptor = _values(item.get("LUTDescriptor"))
    data = item.get("LUTData")
    if len(descriptor) != 3 or data is None:
        raise RenderError(f"presentation state: {where} needs (0028,3002) LUTDescriptor and (0028,3006) LUTData")
    entries, first, bits = (int(v) for v in descriptor)
    entries = entries or 65536
    raw = data.value if hasattr(data, "value") else data
    if isinstance(raw, bytes):
        values = np.frombuffer(raw[: 2 * (len(raw) // 2)], dtype="<u2")
    else:
        values = np.asarray(_values(raw), dtype=np.int64)
    if values.size < entries or not 8 <= bits <= 16:
        raise RenderError(f"presentation state: {where} (0028,3006) LUTData is shorter than its descriptor "
                          "or (0028,3002) bits is not 8..16")
    return Lut(first, bits, tuple(int(v) for v in values[:entries]))


def _voi_items(ds: Dataset) -> tuple[SoftcopyVoi, ...]:
    out = []
    for item in ds.get("SoftcopyVOILUTSequence") or ():
        refs = _refs(item)
        if item.get("VOILUTSequence"):
            out.append(SoftcopyVoi(refs, lut=_lut(item.VOILUTSequence[0], "(0028,3010) VOILUTSequence")))
            continue
        centers, widths = _values(item.get("WindowCenter")), _values(item.get("WindowWidth"))
        if not centers or not widths:
            continue
        try:
            window = (float(centers[0]), float(widths[0]))
        except (TypeError, ValueError):
            raise RenderError("presentation state: (0028,1050)/(0028,1051) window is not numeric") from None
        out.append(SoftcopyVoi(refs, window=window, function=_text(item, "VOILUTFunction", "LINEAR")))
    return tuple(out)


def _shutters(ds: Dataset) -> Shutters | None:
    shapes = {str(s).strip().upper() for s in _values(ds.get("ShutterShape"))}
    if not shapes:
        return None
    rect = circle = None
    polygon: tuple[tuple[int, int], ...] = ()
    bitmap = None
    if "RECTANGULAR" in shapes:
        rect = tuple(int(v) for v in _numbers(ds, "ShutterLeftVerticalEdge", 1, "(0018,1602)")
                     + _numbers(ds, "ShutterRightVerticalEdge", 1, "(0018,1604)")
                     + _numbers(ds, "ShutterUpperHorizontalEdge", 1, "(0018,1606)")
                     + _numbers(ds, "ShutterLowerHorizontalEdge", 1, "(0018,1608)"))
    if "CIRCULAR" in shapes:
        centre = _numbers(ds, "CenterOfCircularShutter", 2, "(0018,1610)")
        radius = _numbers(ds, "RadiusOfCircularShutter", 1, "(0018,1612)")
        circle = (int(centre[0]), int(centre[1]), int(radius[0]))
    if "POLYGONAL" in shapes:
        flat = [int(float(v)) for v in _values(ds.get("VerticesOfThePolygonalShutter"))]
        if len(flat) < 6 or len(flat) % 2:
            raise RenderError("presentation state: (0018,1620) VerticesOfThePolygonalShutter needs 3+ row/column pairs")
        polygon = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    if "BITMAP" in shapes:
        bitmap = int(ds.get("ShutterOverlayGroup", 0) or 0)
        if not 0x6000 <= bitmap <= 0x601E or bitmap % 2:
            raise RenderError("presentation state: (0018,1623) ShutterOverlayGroup is not an overlay group 6000-601E")
    value = int(ds.get("ShutterPresentationValue", 0) or 0)
    return Shutters(rect, circle, polygon, bitmap, max(0, min(65535, value)))  # type: ignore[arg-type]


def _areas(ds: Dataset) -> tuple[DisplayedArea, ...]:
    out = []
    for item in ds.get("DisplayedAreaSelectionSequence") or ():
        tlhc = _numbers(item, "DisplayedAreaTopLeftHandCorner", 2, "(0070,0052)")
        brhc = _numbers(item, "DisplayedAreaBottomRightHandCorner", 2, "(0070,0053)")
        mode = _text(item, "PresentationSizeMode", "SCALE TO FIT")
        if mode not in SIZE_MODES:
            raise RenderError("presentation state: (0070,0100) PresentationSizeMode must be SCALE TO FIT, "
                              "TRUE SIZE or MAGNIFY")
        spacing = _optional_numbers(item, "PresentationPixelSpacing", 2, "(0070,0101)")
        aspect = _optional_numbers(item, "PresentationPixelAspectRatio", 2, "(0070,0102)")
        magnification = _optional_numbers(item, "PresentationPixelMagnificationRatio", 1, "(0070,0103)")
        if spacing is not None and not all(v > 0 for v in spacing):
            spacing = None
        if aspect is not None and not all(v > 0 for v in aspect):
            aspect = None
        if mode == "MAGNIFY" and (magnification is None or magnification[0] <= 0):
            raise RenderError("presentation state: MAGNIFY needs a positive (0070,0103) "
                              "PresentationPixelMagnificationRatio")
        if mode == "TRUE SIZE" and spacing is None:
            raise RenderError("presentation state: TRUE SIZE needs (0070,0101) PresentationPixelSpacing")
        out.append(DisplayedArea(
            _refs(item),
            (int(tlhc[0]), int(tlhc[1])),
            (int(brhc[0]), int(brhc[1])),
            mode,
            spacing,  # type: ignore[arg-type]
            aspect,  # type: ignore[arg-type]
            magnification[0] if magnification else None,
        ))
    return tuple(out)


def _points(item: Dataset) -> tuple[tuple[float, float], ...]:
    flat = [float(v) for v in _values(item.get("GraphicData"))]
    dims = int(item.get("GraphicDimensions", 2) or 2)
    if dims != 2 or len(flat) < 2 or len(flat) % 2 or not np.all(np.isfinite(flat)):
        raise RenderError("presentation state: (0070,0022) GraphicData must hold column/row pairs "
                          "with (0070,0005) GraphicDimensions 2")
    return tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))


_NEEDED_POINTS = {"POINT": 1, "CIRCLE": 2, "ELLIPSE": 4}


def _graphic(item: Dataset) -> GraphicObject:
    kind = _text(item, "GraphicType")
    if kind not in GRAPHIC_TYPES:
        raise RenderError("presentation state: (0070,0023) GraphicType must be POINT, POLYLINE, INTERPOLATED, "
                          "CIRCLE or ELLIPSE")
    points = _points(item)
    needed = _NEEDED_POINTS.get(kind)
    if (needed is not None and len(points) != needed) or (needed is None and len(points) < 2):
        raise RenderError(f"presentation state: a {kind} graphic has the wrong number of points in (0070,0022)")
    units = _text(item, "GraphicAnnotationUnits", "PIXEL")
    return GraphicObject(kind, units, points, _text(item, "GraphicFilled") == "Y")


def _text_object(item: Dataset) -> TextObject:
    text = str(item.get("UnformattedTextValue", "") or "")
    box = None
    if item.get("BoundingBoxTopLeftHandCorner") is not None:
        tl = _numbers(item, "BoundingBoxTopLeftHandCorner", 2, "(0070,0010)")
        br = _numbers(item, "BoundingBoxBottomRightHandCorner", 2, "(0070,0011)")
        box = (tl[0], tl[1], br[0], br[1])
    anchor = _optional_numbers(item, "AnchorPoint", 2, "(0070,0014)")
    if box is None and anchor is None:
        raise RenderError("presentation state: a text object needs (0070,0010) a bounding box or (0070,0014) "
                          "an anchor point")
    return TextObject(
        text=text,
        box=box,
        box_units=_text(item, "BoundingBoxAnnotationUnits", "PIXEL"),
        justification=_text(item, "BoundingBoxTextHorizontalJustification", "LEFT"),
        anchor=anchor,  # type: ignore[arg-type]
        anchor_units=_text(item, "AnchorPointAnnotationUnits", "PIXEL"),
        anchor_visible=_text(item, "AnchorPointVisibility") == "Y",
    )


def _layers(ds: Dataset) -> tuple[GraphicLayer, ...]:
    out = []
    for item in ds.get("GraphicLayerSequence") or ():
        grey = item.get("GraphicLayerRecommendedDisplayGrayscaleValue")
        lab = _values(item.get("GraphicLayerRecommendedDisplayCIELabValue"))
        out.append(GraphicLayer(
            name=str(item.get("GraphicLayer", "") or ""),
            order=int(item.get("GraphicLayerOrder", 0) or 0),
            grey=int(grey) if grey not in (None, "") else None,
            cielab=(int(lab[0]), int(lab[1]), int(lab[2])) if len(lab) == 3 else None,
        ))
    return tuple(out)


def _annotations(ds: Dataset) -> tuple[GraphicAnnotation, ...]:
    out = []
    for item in ds.get("GraphicAnnotationSequence") or ():
        out.append(GraphicAnnotation(
            refs=_refs(item),
            layer=str(item.get("GraphicLayer", "") or ""),
            graphics=tuple(_graphic(g) for g in item.get("GraphicObjectSequence") or ()),
            texts=tuple(_text_object(t) for t in item.get("TextObjectSequence") or ()),
        ))
    return tuple(out)


def _references(ds: Dataset) -> tuple[ImageRef, ...]:
    refs: list[ImageRef] = []
    for series in ds.get("ReferencedSeriesSequence") or ():
        refs.extend(_refs(series) or ())
    return tuple(refs)


def _activations(ds: Dataset) -> dict[int, str]:
    out = {}
    for group in range(0x6000, 0x6020, 2):
        element = ds.get(group << 16 | 0x1001)  # Overlay Activation Layer (60xx,1001)
        if element is not None and element.value:
            out[group] = str(element.value).strip()
    return out


def _plut(ds: Dataset) -> tuple[str, Lut | None]:
    seq = ds.get("PresentationLUTSequence")
    if seq:
        return "LUT", _lut(seq[0], "(2050,0010) PresentationLUTSequence")
    shape = _text(ds, "PresentationLUTShape", "IDENTITY")
    if shape not in ("IDENTITY", "INVERSE"):
        raise RenderError("presentation state: (2050,0020) PresentationLUTShape must be IDENTITY or INVERSE")
    return shape, None


def _rotation(ds: Dataset) -> int:
    rotation = int(ds.get("ImageRotation", 0) or 0)
    if rotation not in (0, 90, 180, 270):
        raise RenderError("presentation state: (0070,0042) ImageRotation must be 0, 90, 180 or 270")
    return rotation


def presentation_state_from_dataset(ds: Dataset) -> PresentationState:
    """Parse a Grayscale Softcopy Presentation State.

    :param ds: the GSPS dataset.
    :returns: the state as frozen values.
    :raises RenderError: not a GSPS, or an attribute the rendering needs is malformed; the message
        names the tag and keyword, never a value.

    PS3.3 A.33.1 (GSPS IOD), C.11.6 (Softcopy Presentation LUT), C.7.6.11 (Display Shutter),
    C.10.4 (Displayed Area), C.10.5 (Graphic Annotation), C.10.6 (Spatial Transformation).
    """
    if not is_presentation_state(ds):
        raise RenderError("not a Grayscale Softcopy Presentation State: (0008,0016) SOPClassUID differs")
    references = _references(ds)
    if not references:
        raise RenderError("presentation state: (0008,1115) ReferencedSeriesSequence names no image")
    modality_lut = None
    rescale = None
    if ds.get("ModalityLUTSequence"):
        modality_lut = _lut(ds.ModalityLUTSequence[0], "(0028,3000) ModalityLUTSequence")
    elif ds.get("RescaleSlope") is not None or ds.get("RescaleIntercept") is not None:
        slope = _numbers(ds, "RescaleSlope", 1, "(0028,1053)")[0] if ds.get("RescaleSlope") is not None else 1.0
        intercept = (_numbers(ds, "RescaleIntercept", 1, "(0028,1052)")[0]
                     if ds.get("RescaleIntercept") is not None else 0.0)
        rescale = (slope, intercept)
    shape, plut = _plut(ds)
    planes, _ = overlay_planes_from_dataset(ds)
    return PresentationState(
        references=references,
        rescale=rescale,
        modality_lut=modality_lut,
        vois=_voi_items(ds),
        plut_shape=shape,
        plut=plut,
        shutters=_shutters(ds),
        rotation=_rotation(ds),
        flip=_text(ds, "ImageHorizontalFlip") == "Y",
        areas=_areas(ds),
        layers=_layers(ds),
        annotations=_annotations(ds),
        activated=_activations(ds),
        overlays=tuple(planes),
        created=f"{ds.get('PresentationCreationDate', '') or ''}{ds.get('PresentationCreationTime', '') or ''}",
    )


def latest(states: Iterable[PresentationState]) -> PresentationState | None:
    """The most recently created state (Presentation Creation Date/Time), the first of equals; None if empty."""
    best: PresentationState | None = None
    for state in states:
        if best is None or state.created > best.created:
            best = state
    return best
