"""Frozen value types passed between the pipeline stages.

Strings from the command line or a preset become these types once, at the
boundary (`parse_*` helpers here); inside the pipeline the types are trusted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dcmexport.encode.formats import FORMATS, OutputFormat, coerce_format
from dcmexport.errors import UsageError

__all__ = ["OutputFormat"]  # re-exported: the format registry owns it (dcmexport.encode.formats)


class VoiFunction(enum.StrEnum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True)
class Window:
    """A VOI window: Window Center (0028,1050) and Window Width (0028,1051)."""

    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR


@dataclass(frozen=True)
class MaskRect:
    """A rectangle to blank, in stored-pixel coordinates of the object.

    Negative ``x`` / ``y`` count from the right / bottom edge (``x=-200`` is 200
    columns left of the right edge). ``width`` and ``height`` are positive.
    """

    x: int
    y: int
    width: int
    height: int

    def resolve(self, rows: int, columns: int) -> tuple[int, int, int, int]:
        """Return ``(x0, y0, x1, y1)`` clipped to a ``rows`` x ``columns`` image (x1/y1 exclusive)."""
        x0 = self.x if self.x >= 0 else columns + self.x
        y0 = self.y if self.y >= 0 else rows + self.y
        x1 = min(columns, max(0, x0 + self.width))
        y1 = min(rows, max(0, y0 + self.height))
        return max(0, x0), max(0, y0), x1, y1


class FrameSelection(enum.StrEnum):
    FIRST = "first"
    ALL = "all"
    INDEX = "index"


@dataclass(frozen=True)
class Frames:
    """Which frames of a multi-frame object become stills: first, all, or one 0-based index."""

    selection: FrameSelection = FrameSelection.FIRST
    index: int = 0


@dataclass(frozen=True)
class RenderOptions:
    """How stored values become display values."""

    window: Window | None = None  # explicit --window; overrides the file's windows
    window_index: int = 0  # which of the file's windows / VOI LUTs to use
    bit_depth: int = 8  # 8 or 16 (16 only for grayscale PNG/TIFF)
    aspect: bool = True  # resample to square pixels
    max_side: int | None = None  # cap the output's long side (slides); None keeps the full size


@dataclass(frozen=True)
class EncodeOptions:
    """Encoder settings; ``fps`` None means: the rate the file records."""

    format: OutputFormat = OutputFormat.AUTO
    quality: int = 95  # JPEG quality
    crf: int | None = None  # constant-rate factor; None: the format's own default (H.264 18, VP9 32)
    fps: float | None = None
    frames: Frames = field(default_factory=Frames)
    montage: bool = False  # with --series and a still format: one contact sheet per series


class RedactText(enum.StrEnum):
    """``--redact-text``: off; mask ``all`` text OCR finds (inside ultrasound regions only PHI-like text);
    or mask all but the allow-listed settings words (``phi``). See :mod:`dcmexport.mask.redact`."""

    OFF = "off"
    ALL = "all"
    PHI = "phi"


#: ``--ocr-frames``' default step: clips are read on the first, middle and last frame and every Nth.
DEFAULT_OCR_STEP = 10


class OcrCheck(enum.StrEnum):
    """``--ocr-check``: off, report words Tesseract still reads after masking, or refuse (strict)."""

    OFF = "off"
    REPORT = "report"
    STRICT = "strict"


@dataclass(frozen=True)
class MaskOptions:
    """Burned-in text handling."""

    rects: tuple[MaskRect, ...] = ()
    mask_file: Path | None = None
    use_presets: bool = True
    us_regions: bool | None = None  # None: on for US objects with regions
    accept_burned_in: bool = False
    ocr_check: OcrCheck = OcrCheck.OFF
    ocr_all_frames: bool = False  # False: first, middle and last frame only (and every ocr_step-th for redaction)
    redact_text: RedactText = RedactText.OFF  # --redact-text: find text with OCR and mask it (mask/redact.py)
    ocr_step: int = DEFAULT_OCR_STEP  # --ocr-frames N: redaction also reads every Nth frame of a clip


def parse_window(text: str) -> Window:
    """Parse ``CENTER,WIDTH`` (as given to ``--window``)."""
    try:
        center_s, width_s = text.split(",")
        center, width = float(center_s), float(width_s)
    except ValueError:
        raise UsageError(f"--window expects CENTER,WIDTH such as 40,400, got {text!r}") from None
    if width < 1:
        raise UsageError(f"--window width must be >= 1 (PS3.3 C.11.2.1.2), got {width:g}")
    return Window(center, width)


def parse_mask(text: str) -> MaskRect:
    """Parse ``X,Y,W,H`` (as given to ``--mask``)."""
    try:
        x, y, w, h = (int(p) for p in text.split(","))
    except ValueError:
        raise UsageError(f"--mask expects X,Y,W,H integers such as 0,0,640,60, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise UsageError(f"--mask width and height must be positive, got {text!r}")
    return MaskRect(x, y, w, h)


def parse_frames(text: str) -> Frames:
    """Parse ``first``, ``all`` or a 0-based frame number (as given to ``--frames``)."""
    low = text.strip().lower()
    if low in ("first", "all"):
        return Frames(FrameSelection(low))
    try:
        index = int(low)
    except ValueError:
        raise UsageError(f"--frames expects first, all or a frame number, got {text!r}") from None
    if index < 0:
        raise UsageError(f"--frames number must be >= 0, got {index}")
    return Frames(FrameSelection.INDEX, index)


def _default_deid() -> DeidOptions:
    from dcmexport.deid import DeidOptions

    return DeidOptions()


@dataclass(frozen=True)
class ExportOptions:
    """Everything one export run needs besides the inputs and the key."""

    out_dir: Path
    render: RenderOptions = field(default_factory=RenderOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    mask: MaskOptions = field(default_factory=MaskOptions)
    deid: DeidOptions = field(default_factory=_default_deid)
    also_dicom: bool = False  # write the de-identified (and pixel-masked) DICOM beside the media
    series: bool = False  # group single-frame images by series into one clip (or montage)
    timeout: float | None = None  # per-object wall-clock limit in seconds
    overwrite: bool = False  # redo every existing output
    keep_existing: bool = False  # never replace an existing output made under other options (report it as kept)


if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import DeidOptions


def build_options(
    out_dir: str | Path,
    *,
    format: str | OutputFormat = OutputFormat.AUTO,
    window: str | tuple[float, float] | None = None,
    window_index: int = 0,
    bit_depth: int = 8,
    aspect: bool = True,
    max_side: int | None = None,
    frames: str | int = "first",
    fps: float | None = None,
    quality: int = 95,
    crf: int | None = None,
    masks: Iterable[str | tuple[int, int, int, int]] = (),
    mask_file: str | Path | None = None,
    mask_presets: bool = True,
    mask_us_regions: bool | None = None,
    accept_burned_in: bool = False,
    ocr_check: str | OcrCheck = OcrCheck.OFF,
    ocr_all_frames: bool = False,
    redact_text: str | RedactText = RedactText.OFF,
    ocr_step: int = DEFAULT_OCR_STEP,
    deid: DeidOptions | None = None,
    also_dicom: bool = False,
    overwrite: bool = False,
    keep_existing: bool = False,
    series: bool = False,
    montage: bool = False,
    timeout: float | None = None,
) -> ExportOptions:
    """Coerce plain Python values (as a notebook user writes them) into :class:`ExportOptions`.

    Raises:
        UsageError: a value is out of range or malformed; the message names the option.
    """
    from dcmexport.options import MaskRect

    fmt = format if isinstance(format, OutputFormat) else _coerce_format(format)
    win = None
    if isinstance(window, str):
        win = parse_window(window)
    elif window is not None:
        win = parse_window(f"{window[0]},{window[1]}")
    if bit_depth not in (8, 16):
        raise UsageError(f"--bit-depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and fmt not in (OutputFormat.PNG, OutputFormat.TIFF, OutputFormat.AUTO):
        raise UsageError("--bit-depth 16 applies to PNG and TIFF only")
    if max_side is not None and max_side < 16:
        raise UsageError(f"--max-side must be at least 16 pixels, got {max_side}")
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality must be 1..100, got {quality}")
    _check_crf(crf, fmt)
    if montage and (not series or fmt.is_video):
        raise UsageError("--montage needs --series and a still format (--format png, jpg or tiff)")
    if overwrite and keep_existing:
        raise UsageError("--overwrite and --keep-existing contradict each other; choose one")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    if fps is not None and not 0.1 <= fps <= 240:
        raise UsageError(f"--fps must be between 0.1 and 240, got {fps:g}")
    if ocr_step < 1:
        raise UsageError(f"--ocr-frames N must be a positive number of frames, got {ocr_step}")
    try:
        redact = RedactText(redact_text)
    except ValueError:
        raise UsageError(f"--redact-text must be all or phi, got {redact_text!r}") from None
    rects = tuple(m if isinstance(m, MaskRect) else parse_mask(m if isinstance(m, str) else ",".join(map(str, m))) for m in masks)
    return ExportOptions(
        out_dir=Path(out_dir),
        render=RenderOptions(window=win, window_index=window_index,
                             bit_depth=bit_depth, aspect=aspect, max_side=max_side),
        encode=EncodeOptions(format=fmt, quality=quality, crf=crf, fps=fps,
                             frames=parse_frames(str(frames)), montage=montage),
        mask=MaskOptions(rects=rects, mask_file=Path(mask_file) if mask_file else None, use_presets=mask_presets,
                         us_regions=mask_us_regions, accept_burned_in=accept_burned_in,
                         ocr_check=OcrCheck(ocr_check), ocr_all_frames=ocr_all_frames,
                         redact_text=redact, ocr_step=ocr_step),
        deid=deid if deid is not None else _default_deid(),
        also_dicom=also_dicom,
        overwrite=overwrite,
        keep_existing=keep_existing,
        series=series,
        timeout=timeout,
    )


def _coerce_format(text: str) -> OutputFormat:
    try:
        return coerce_format(text)
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise UsageError(f"--format must be one of {choices}; got {text!r}") from None


def _check_crf(crf: int | None, fmt: OutputFormat) -> None:
    """CRF against the chosen format's own range (the registry); AUTO makes MP4 clips."""
    if crf is None:
        return
    spec = (OutputFormat.MP4 if fmt is OutputFormat.AUTO else fmt).spec
    if spec.crf_range is None:
        with_crf = ", ".join(f.value for f, s in FORMATS.items() if s.crf_range)
        raise UsageError(f"--crf applies to {with_crf} only, not {fmt.value}")
    low, high = spec.crf_range
    if not low <= crf <= high:
        raise UsageError(f"--crf for {spec.format.value} must be {low}..{high}, got {crf}")
