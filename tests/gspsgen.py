"""Build Grayscale Softcopy Presentation State objects (PS3.3 A.33.1) with pydicom, for tests and figures.

One builder, :func:`make_gsps`, that references one image and takes each
feature as a keyword, so a test states exactly what it exercises. Also
:func:`add_overlay`, which puts a 60xx overlay plane into any dataset (an image
or a presentation state). The objects are minimal but complete enough for
dcmtk's ``dcmp2pgm`` to load them (the oracle in tests/test_render_gsps_oracle.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

# The sample makers, re-exported for the figure tests.
from tests.samplegen import make_cr_mono1, make_ct, make_mr, make_us_gray_cine, write_dataset  # noqa: F401

GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


@dataclass(frozen=True)
class Graphic:
    """One Graphic Object Sequence item (PS3.3 C.10.5.1.2)."""

    kind: str  # POINT, POLYLINE, INTERPOLATED, CIRCLE, ELLIPSE
    points: Sequence[tuple[float, float]]  # (column, row) pairs
    units: str = "PIXEL"
    filled: bool | None = None


@dataclass(frozen=True)
class Text:
    """One Text Object Sequence item: a bounding box and/or an anchor point."""

    text: str
    box: tuple[float, float, float, float] | None = None  # (left, top, right, bottom)
    anchor: tuple[float, float] | None = None
    units: str = "PIXEL"
    justification: str = "LEFT"
    anchor_visible: bool = False


@dataclass(frozen=True)
class Layer:
    """A graphic layer with its annotations; ``images`` limits them to some referenced images."""

    name: str = "LAYER1"
    order: int = 1
    grey: int | None = None  # Graphic Layer Recommended Display Grayscale Value (P-value)
    cielab: tuple[int, int, int] | None = None
    graphics: Sequence[Graphic] = ()
    texts: Sequence[Text] = ()
    frames: Sequence[int] | None = None  # Referenced Frame Number(s) of the annotation item
    overlays: Sequence[int] = ()  # overlay groups (0x6000...) activated in this layer


@dataclass(frozen=True)
class Area:
    """One Displayed Area Selection Sequence item (PS3.3 C.10.4)."""

    tlhc: tuple[int, int]  # column, row (1-based)
    brhc: tuple[int, int]
    mode: str = "SCALE TO FIT"
    spacing: tuple[float, float] | None = None  # Presentation Pixel Spacing, row\column mm
    aspect: tuple[int, int] | None = (1, 1)  # Presentation Pixel Aspect Ratio (used when no spacing)
    magnification: float | None = None


@dataclass
class Shutters:
    """Display Shutter and Bitmap Display Shutter (PS3.3 C.7.6.11, C.7.6.15)."""

    rect: tuple[int, int, int, int] | None = None  # left, right, upper, lower (1-based, inclusive)
    circle: tuple[int, int, int] | None = None  # centre row, centre column, radius
    polygon: Sequence[tuple[int, int]] = field(default_factory=tuple)  # (row, column) vertices
    bitmap_group: int | None = None  # Shutter Overlay Group
    value: int = 0  # Shutter Presentation Value (P-value 0..65535)


def _ref_image(image: Dataset, frames: Sequence[int] | None = None) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = image.SOPClassUID
    item.ReferencedSOPInstanceUID = image.SOPInstanceUID
    if frames:
        item.ReferencedFrameNumber = [int(f) for f in frames] if len(frames) > 1 else int(frames[0])
    return item


def add_overlay(
    ds: Dataset,
    bits: np.ndarray,
    *,
    group: int = 0x6000,
    origin: tuple[int, int] = (1, 1),
    kind: str = "G",
    frame_origin: int | None = None,
    description: str | None = None,
) -> None:
    """Put an overlay plane (PS3.3 C.9.2) into ``ds``: ``bits`` is (rows, cols) or (frames, rows, cols) bool."""
    arr = np.asarray(bits, dtype=bool)
    frames = 1 if arr.ndim == 2 else arr.shape[0]
    rows, cols = arr.shape[-2:]
    flat = arr.reshape(-1)
    packed = np.packbits(flat, bitorder="little").tobytes()
    if len(packed) % 2:
        packed += b"\0"
    ds.add_new((group, 0x0010), "US", rows)
    ds.add_new((group, 0x0011), "US", cols)
    if frames > 1 or frame_origin is not None:
        ds.add_new((group, 0x0015), "IS", frames)
        ds.add_new((group, 0x0051), "US", frame_origin or 1)
    ds.add_new((group, 0x0040), "CS", kind)
    ds.add_new((group, 0x0050), "SS", [origin[0], origin[1]])
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    if description is not None:
        ds.add_new((group, 0x0022), "LO", description)
    ds.add_new((group, 0x3000), "OW", packed)


def make_gsps(
    image: Dataset,
    *,
    window: tuple[float, float] | None = None,
    voi_lut: tuple[Sequence[int], Sequence[int]] | None = None,  # (descriptor, data)
    voi_frames: Sequence[int] | None = None,
    rescale: tuple[float, float] | None = None,  # (slope, intercept)
    modality_lut: tuple[Sequence[int], Sequence[int]] | None = None,  # (descriptor, data)
    plut_shape: str | None = "IDENTITY",
    plut: tuple[Sequence[int], Sequence[int]] | None = None,  # (descriptor, data)
    rotation: int = 0,
    flip: bool = False,
    areas: Sequence[Area] | None = None,
    shutters: Shutters | None = None,
    layers: Sequence[Layer] = (),
    overlays: Sequence[tuple[int, np.ndarray]] = (),  # overlay planes carried in the state itself
    extra_images: Sequence[Dataset] = (),
    frames: Sequence[int] | None = None,
    label: str = "FIGURE",
    created: tuple[str, str] = ("20240101", "120000"),
) -> Dataset:
    """A GSPS referencing ``image`` (and ``extra_images``), with the features given.

    ``frames`` restricts the whole state to some frames of a multi-frame image.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = GSPS_SOP_CLASS
    ds.SOPClassUID = GSPS_SOP_CLASS
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[image.SOPInstanceUID, label, created[1], str(rotation)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PatientName = image.get("PatientName", "")
    ds.PatientID = image.get("PatientID", "")
    ds.StudyInstanceUID = image.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[ds.SOPInstanceUID, "series"])
    ds.Modality = "PR"
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.Manufacturer = "dcmexport tests"
    ds.ContentLabel = label
    ds.ContentDescription = "test state"
    ds.PresentationCreationDate, ds.PresentationCreationTime = created
    ds.ContentCreatorName = "TEST^CREATOR"
    ds.StudyDate, ds.StudyTime = "20240101", "100000"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""

    images = [image, *extra_images]
    by_series: dict[str, list[Dataset]] = {}
    for img in images:
        by_series.setdefault(str(img.SeriesInstanceUID), []).append(img)
    series_items = []
    for series_uid, members in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedImageSequence = DicomSequence([_ref_image(m, frames) for m in members])
        series_items.append(item)
    ds.ReferencedSeriesSequence = DicomSequence(series_items)

    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale[0], rescale[1]
        ds.RescaleType = "HU"
    if modality_lut is not None:
        item = Dataset()
        item.add_new(0x00283002, "US", list(modality_lut[0]))
        item.add_new(0x00283006, "US", list(modality_lut[1]))
        item.ModalityLUTType = "HU"
        ds.ModalityLUTSequence = DicomSequence([item])
    if window is not None or voi_lut is not None:
        voi = Dataset()
        if voi_frames is not None:
            voi.ReferencedImageSequence = DicomSequence([_ref_image(image, voi_frames)])
        if window is not None:
            voi.WindowCenter, voi.WindowWidth = window
            voi.WindowCenterWidthExplanation = "STATE WINDOW"
        else:
            assert voi_lut is not None
            lut = Dataset()
            lut.add_new(0x00283002, "US", list(voi_lut[0]))
            lut.add_new(0x00283006, "US", list(voi_lut[1]))
            voi.VOILUTSequence = DicomSequence([lut])
        ds.SoftcopyVOILUTSequence = DicomSequence([voi])
    if plut is not None:
        item = Dataset()
        item.add_new(0x00283002, "US", list(plut[0]))
        item.add_new(0x00283006, "US", list(plut[1]))
        ds.PresentationLUTSequence = DicomSequence([item])
    elif plut_shape is not None:
        ds.PresentationLUTShape = plut_shape
    ds.ImageRotation = rotation
    ds.ImageHorizontalFlip = "Y" if flip else "N"

    rows, cols = int(image.Rows), int(image.Columns)
    area_items = []
    for area in areas or [Area((1, 1), (cols, rows))]:
        item = Dataset()
        item.DisplayedAreaTopLeftHandCorner = list(area.tlhc)
        item.DisplayedAreaBottomRightHandCorner = list(area.brhc)
        item.PresentationSizeMode = area.mode
        if area.spacing is not None:
            item.PresentationPixelSpacing = list(area.spacing)
        elif area.aspect is not None:
            item.PresentationPixelAspectRatio = list(area.aspect)
        if area.magnification is not None:
            item.PresentationPixelMagnificationRatio = area.magnification
        area_items.append(item)
    ds.DisplayedAreaSelectionSequence = DicomSequence(area_items)

    if shutters is not None:
        shapes = []
        if shutters.rect is not None:
            shapes.append("RECTANGULAR")
            (ds.ShutterLeftVerticalEdge, ds.ShutterRightVerticalEdge,
             ds.ShutterUpperHorizontalEdge, ds.ShutterLowerHorizontalEdge) = shutters.rect
        if shutters.circle is not None:
            shapes.append("CIRCULAR")
            ds.CenterOfCircularShutter = [shutters.circle[0], shutters.circle[1]]
            ds.RadiusOfCircularShutter = shutters.circle[2]
        if shutters.polygon:
            shapes.append("POLYGONAL")
            ds.VerticesOfThePolygonalShutter = [v for pair in shutters.polygon for v in pair]
        if shutters.bitmap_group is not None:
            shapes = ["BITMAP"]
            ds.ShutterOverlayGroup = shutters.bitmap_group
        ds.ShutterShape = shapes if len(shapes) > 1 else shapes[0]
        ds.ShutterPresentationValue = shutters.value

    for group, bits in overlays:
        add_overlay(ds, bits, group=group)

    layer_items, annotation_items = [], []
    for layer in layers:
        item = Dataset()
        item.GraphicLayer = layer.name
        item.GraphicLayerOrder = layer.order
        if layer.grey is not None:
            item.GraphicLayerRecommendedDisplayGrayscaleValue = layer.grey
        if layer.cielab is not None:
            item.GraphicLayerRecommendedDisplayCIELabValue = list(layer.cielab)
        layer_items.append(item)
        for group in layer.overlays:
            ds.add_new((group, 0x1001), "CS", layer.name)
        if not layer.graphics and not layer.texts:
            continue
        ann = Dataset()
        ann.ReferencedImageSequence = DicomSequence([_ref_image(image, layer.frames)])
        ann.GraphicLayer = layer.name
        if layer.graphics:
            ann.GraphicObjectSequence = DicomSequence([_graphic_item(g) for g in layer.graphics])
        if layer.texts:
            ann.TextObjectSequence = DicomSequence([_text_item(t) for t in layer.texts])
        annotation_items.append(ann)
    if layer_items:
        ds.GraphicLayerSequence = DicomSequence(layer_items)
    if annotation_items:
        ds.GraphicAnnotationSequence = DicomSequence(annotation_items)
    return ds


def _graphic_item(g: Graphic) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = g.units
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(g.points)
    item.GraphicData = [float(v) for p in g.points for v in p]
    item.GraphicType = g.kind
    if g.filled is not None:
        item.GraphicFilled = "Y" if g.filled else "N"
    return item


def _text_item(t: Text) -> Dataset:
    item = Dataset()
    item.UnformattedTextValue = t.text
    if t.box is not None:
        item.BoundingBoxAnnotationUnits = t.units
        item.BoundingBoxTopLeftHandCorner = [float(t.box[0]), float(t.box[1])]
        item.BoundingBoxBottomRightHandCorner = [float(t.box[2]), float(t.box[3])]
        item.BoundingBoxTextHorizontalJustification = t.justification
    if t.anchor is not None:
        item.AnchorPointAnnotationUnits = t.units
        item.AnchorPoint = [float(t.anchor[0]), float(t.anchor[1])]
        item.AnchorPointVisibility = "Y" if t.anchor_visible else "N"
    return item


def write(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a Part 10 file (explicit VR little endian)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
