"""Frozen options for figures: overlays, presentation states, crop and zoom, scale bar, print resolution.

Coerced once at the boundary (:func:`build_figure_options`, called by
:func:`dcmexport.options.build_options`); the pipeline trusts these types. Window
presets and ``--window-name`` are VOI choices and live in
:class:`dcmexport.options.RenderOptions`.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from dcmexport.errors import UsageError

#: SOP Class UID of Grayscale Softcopy Presentation State Storage (PS3.4 B.5).
GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


class PresentationMode(enum.StrEnum):
    """``--presentation-state``: none, one file, or the states found among the inputs."""

    OFF = "off"
    FILE = "file"
    AUTO = "auto"


@dataclass(frozen=True)
class PresentationChoice:
    """Which presentation state applies.

    ``sha256`` (of an explicit file) is what the manifest and the resume
    fingerprint record; ``path`` is never recorded (an input path may name the
    patient), hence its ``record`` metadata.
    """

    mode: PresentationMode = PresentationMode.OFF
    sha256: str | None = None
    path: Path | None = field(default=None, metadata={"record": False})


class Annotations(enum.StrEnum):
    """``--annotations``: what of a presentation state's graphic annotations is burned in."""

    NONE = "none"
    GRAPHICS = "graphics"  # graphic objects only (no text: text objects can carry PHI)
    TEXT = "text"  # graphic objects and text objects; the burned-in text check runs on the result


@dataclass(frozen=True)
class Color:
    """A display colour, 8 bits per channel."""

    red: int
    green: int
    blue: int

    @property
    def is_grey(self) -> bool:
        return self.red == self.green == self.blue


WHITE = Color(255, 255, 255)

_NAMED_COLORS = {
    "white": WHITE,
    "black": Color(0, 0, 0),
    "grey": Color(128, 128, 128),
    "gray": Color(128, 128, 128),
    "red": Color(255, 0, 0),
    "green": Color(0, 255, 0),
    "blue": Color(0, 0, 255),
    "yellow": Color(255, 255, 0),
    "cyan": Color(0, 255, 255),
    "magenta": Color(255, 0, 255),
    "orange": Color(255, 165, 0),
}


def parse_color(text: str, flag: str = "--overlay-color") -> Color:
    """Parse a colour: a name (white, yellow...), ``#RRGGBB``, or a grey level ``0..255``."""
    low = text.strip().lower()
    if low in _NAMED_COLORS:
        return _NAMED_COLORS[low]
    if re.fullmatch(r"#[0-9a-f]{6}", low):
        return Color(int(low[1:3], 16), int(low[3:5], 16), int(low[5:7], 16))
    if low.isdigit() and int(low) <= 255:
        level = int(low)
        return Color(level, level, level)
    names = ", ".join(sorted(set(_NAMED_COLORS) - {"gray"}))
    raise UsageError(f"{flag} expects a colour name ({names}), #RRGGBB or a grey level 0..255, got {text!r}")


class CropUnit(enum.StrEnum):
    PIXELS = "px"  # stored pixels (--crop)
    MM = "mm"  # millimetres from the pixel spacing (--crop-mm)


@dataclass(frozen=True)
class Crop:
    """A crop rectangle from the image's top-left corner: ``x, y`` its corner, ``width, height`` its size."""

    x: float
    y: float
    width: float
    height: float
    unit: CropUnit = CropUnit.PIXELS


def parse_crop(text: str, unit: CropUnit) -> Crop:
    """Parse ``X,Y,W,H`` (``--crop``: integers, stored pixels; ``--crop-mm``: numbers, millimetres)."""
    flag = "--crop" if unit is CropUnit.PIXELS else "--crop-mm"
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise UsageError(f"{flag} expects X,Y,W,H such as 40,60,200,150, got {text!r}")
    if unit is CropUnit.PIXELS and not all(v == int(v) for v in values):
        raise UsageError(f"--crop takes whole stored pixels, got {text!r}; use --crop-mm for millimetres")
    x, y, w, h = values
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise UsageError(f"{flag}: X and Y must be >= 0 and W, H > 0 (from the top-left corner), got {text!r}")
    return Crop(x, y, w, h, unit)


class Corner(enum.StrEnum):
    """Where the scale bar goes."""

    BOTTOM_RIGHT = "bottom-right"
    BOTTOM_LEFT = "bottom-left"
    TOP_RIGHT = "top-right"
    TOP_LEFT = "top-left"


@dataclass(frozen=True)
class ScaleBar:
    """``--scale-bar``: a length in millimetres, or None to choose a round length (auto)."""

    length_mm: float | None = None
    corner: Corner = Corner.BOTTOM_RIGHT


_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(mm|cm)\s*$", re.IGNORECASE)


def parse_scale_bar(text: str, corner: str | Corner = Corner.BOTTOM_RIGHT) -> ScaleBar:
    """Parse ``auto`` or a length such as ``10mm``, ``1cm``, ``2.5 cm``."""
    try:
        where = Corner(str(corner).strip().lower())
    except ValueError:
        choices = ", ".join(c.value for c in Corner)
        raise UsageError(f"--scale-bar-corner must be one of {choices}, got {corner!r}") from None
    if text.strip().lower() == "auto":
        return ScaleBar(None, where)
    match = _LENGTH.match(text)
    if not match:
        raise UsageError(f"--scale-bar expects auto or a length such as 10mm or 1cm, got {text!r}")
    length = float(match.group(1)) * (10.0 if match.group(2).lower() == "cm" else 1.0)
    if not 0 < length <= 10_000:
        raise UsageError(f"--scale-bar length must be more than 0 and at most 10 m, got {text!r}")
    return ScaleBar(length, where)


@dataclass(frozen=True)
class FigureOptions:
    """What turns an export into a figure; the defaults change nothing."""

    overlays: bool = False  # burn the 60xx overlay planes (off: they can carry identifying text)
    overlay_color: Color = WHITE
    presentation: PresentationChoice = field(default_factory=PresentationChoice)
    annotations: Annotations = Annotations.GRAPHICS
    crop: Crop | None = None
    zoom: float = 1.0
    scale_bar: ScaleBar | None = None
    dpi: float | None = None  # written into PNG/TIFF/JPEG (both axes)
    width_mm: float | None = None  # printed width: the dpi follows from the output width (or, with dpi, the size)

    @property
    def target_width(self) -> int | None:
        """Output columns for ``--width-mm`` with ``--dpi`` (the image is resampled to print that wide)."""
        if self.dpi is None or self.width_mm is None:
            return None
        return max(1, round(self.width_mm / 25.4 * self.dpi))

    @property
    def shapes_pixels(self) -> bool:
        """True when any option changes the pixels (dpi and width only change the file's resolution)."""
        return (
            self.overlays
            or self.presentation.mode is not PresentationMode.OFF
            or self.crop is not None
            or self.zoom != 1.0
            or self.scale_bar is not None
            or self.target_width is not None
        )


def read_presentation_file(path: Path) -> PresentationChoice:
    """Check that ``path`` is a Grayscale Softcopy Presentation State and fingerprint it.

    Raises:
        UsageError: missing, not DICOM, or another SOP class.
    """
    import pydicom

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--presentation-state {path}: cannot be read ({exc.strerror})") from None
    try:
        from io import BytesIO

        ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID"])
        sop_class = str(ds.get("SOPClassUID", "") or "")
    except Exception:  # not DICOM: pydicom raises several types
        raise UsageError(f"--presentation-state {path}: not a readable DICOM file") from None
    if sop_class != GSPS_SOP_CLASS:
        raise UsageError(
            f"--presentation-state {path}: (0008,0016) SOPClassUID is not Grayscale Softcopy Presentation "
            f"State Storage ({GSPS_SOP_CLASS}); colour, pseudo-colour and blending states are not supported"
        )
    return PresentationChoice(PresentationMode.FILE, hashlib.sha256(data).hexdigest(), path)


def build_figure_options(
    *,
    overlays: bool = False,
    overlay_color: str | Color | None = None,
    presentation_state: str | Path | None = None,
    annotations: str | Annotations = Annotations.GRAPHICS,
    crop: str | None = None,
    crop_mm: str | None = None,
    zoom: float = 1.0,
    scale_bar: str | None = None,
    scale_bar_corner: str | Corner = Corner.BOTTOM_RIGHT,
    dpi: float | None = None,
    width_mm: float | None = None,
) -> FigureOptions:
    """Coerce the figure options (as the CLI or a notebook gives them) into :class:`FigureOptions`.

    Raises:
        UsageError: a malformed value or a contradiction; the message names the flag.
    """
    if crop is not None and crop_mm is not None:
        raise UsageError("--crop and --crop-mm contradict each other; choose one")
    if not (isinstance(zoom, int | float) and math.isfinite(zoom) and 0.05 <= zoom <= 16):
        raise UsageError(f"--zoom must be between 0.05 and 16, got {zoom!r}")
    if dpi is not None and width_mm is not None and zoom != 1.0:
        raise UsageError("--dpi with --width-mm resamples the image to that width: drop --zoom")
    if dpi is not None and not 1 <= dpi <= 100_000:
        raise UsageError(f"--dpi must be between 1 and 100000, got {dpi:g}")
    if width_mm is not None and not 1 <= width_mm <= 10_000:
        raise UsageError(f"--width-mm must be between 1 and 10000 mm, got {width_mm:g}")
    if overlay_color is not None and not overlays:
        raise UsageError("--overlay-color needs --overlays (overlay planes are not burned in by default)")
    color = overlay_color if isinstance(overlay_color, Color) else parse_color(overlay_color or "white")
    try:
        annotation_mode = Annotations(str(annotations).strip().lower())
    except ValueError:
        raise UsageError(f"--annotations must be none, graphics or text, got {annotations!r}") from None
    presentation = PresentationChoice()
    if presentation_state is not None:
        if str(presentation_state).strip().lower() == "auto":
            presentation = PresentationChoice(PresentationMode.AUTO)
        else:
            presentation = read_presentation_file(Path(presentation_state))
    chosen_crop = None
    if crop is not None:
        chosen_crop = parse_crop(crop, CropUnit.PIXELS)
    elif crop_mm is not None:
        chosen_crop = parse_crop(crop_mm, CropUnit.MM)
    if chosen_crop is not None and presentation.mode is not PresentationMode.OFF:
        raise UsageError(
            "--crop/--crop-mm and --presentation-state contradict each other: the state's Displayed Area "
            "(0070,005A) decides what is shown; drop one"
        )
    return FigureOptions(
        overlays=overlays,
        overlay_color=color,
        presentation=presentation,
        annotations=annotation_mode,
        crop=chosen_crop,
        zoom=float(zoom),
        scale_bar=parse_scale_bar(scale_bar, scale_bar_corner) if scale_bar is not None else None,
        dpi=float(dpi) if dpi is not None else None,
        width_mm=float(width_mm) if width_mm is not None else None,
    )
