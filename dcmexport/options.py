"""Frozen value types passed between the pipeline stages.

Strings from the command line or a preset become these types once, at the
boundary (`parse_*` helpers here); inside the pipeline the types are trusted.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmexport.encode.formats import FORMATS, OutputFormat, coerce_format
from dcmexport.errors import UsageError
from dcmexport.figure_options import FigureOptions, PresentationMode, build_figure_options

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
class FrameRange:
    """``--frame-range A:B[:STEP]``: the frames of a clip to keep, as a Python slice of 0-based frame numbers.

    ``stop`` is exclusive; negative ``start``/``stop`` count from the end; None
    is the start or the end; ``step`` >= 1 keeps every STEP-th frame, each
    then shown for the time its skipped neighbours took (real time is kept).
    """

    start: int | None = None
    stop: int | None = None
    step: int = 1

    def select(self, frames: int) -> range:
        """The 0-based frame numbers kept of an object with ``frames`` frames."""
        return range(frames)[slice(self.start, self.stop, self.step)]

    def describe(self) -> str:
        """The range as typed: ``A:B`` or ``A:B:STEP`` (empty for an open end)."""
        text = f"{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}"
        return text + (f":{self.step}" if self.step != 1 else "")


@dataclass(frozen=True)
class RenderOptions:
    """How stored values become display values."""

    window: Window | None = None  # explicit --window; overrides the file's windows
    window_index: int = 0  # which of the file's windows / VOI LUTs to use
    bit_depth: int = 8  # 8 or 16 (16 only for grayscale PNG/TIFF)
    aspect: bool = True  # resample to square pixels
    max_side: int | None = None  # cap the output's long side (slides); None keeps the full size
    max_size: tuple[int, int] | None = None  # (width, height) the output must fit in; None: no box
    window_preset: WindowPreset | None = None  # --window NAME (presets/windows.toml): a window for some modalities
    window_name: str | None = None  # --window-name: the file's window whose (0028,1055) explanation matches
    #: --window A,B,C: three windows (or presets) stacked as the R, G and B channels of an 8-bit RGB image
    window_stack: tuple[Window | WindowPreset, ...] = ()
    size: tuple[int, int] | None = None  # --size WxH: fit (aspect kept) and letterbox with black to exactly W x H


@dataclass(frozen=True)
class EncodeOptions:
    """Encoder settings; ``fps`` None means: the rate the file records."""

    format: OutputFormat = OutputFormat.AUTO
    quality: int = 95  # JPEG quality
    crf: int | None = None  # constant-rate factor; None: the format's own default (H.264 18, VP9 32)
    fps: float | None = None
    frames: Frames = field(default_factory=Frames)
    montage: bool = False  # with --series and a still format: one contact sheet per series
    frame_range: FrameRange | None = None  # clips: the frames kept (None: all)
    speed: float = 1.0  # clips: playback speed, frame times divided by it
    loop: int = 0  # animated images (GIF, WebP, APNG): number of plays, 0 forever
    lossless: bool = False  # WebP: lossless instead of --quality
    max_fps: float | None = None  # clips: fastest rate written (slower plays, every frame kept); None: the format's


class DatasetFormat(enum.StrEnum):
    """``--dataset``: the table of outputs written in ``--out`` (one row per output)."""

    CSV = "csv"
    PARQUET = "parquet"

    @property
    def file_name(self) -> str:
        """``dataset.csv`` or ``dataset.parquet``."""
        return f"dataset.{self.value}"
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
    #: the rectangles of ``mask_file``, read once at start-up (None: not read yet; see pipeline.startup)
    file_rects: tuple[MaskRect, ...] | None = None
    use_presets: bool = True
    us_regions: bool | None = None  # None: on for US objects with regions
    accept_burned_in: bool = False
    ocr_check: OcrCheck = OcrCheck.OFF
    ocr_all_frames: bool = False  # False: first, middle and last frame only (and every ocr_step-th for redaction)
    redact_text: RedactText = RedactText.OFF  # --redact-text: find text with OCR and mask it (mask/redact.py)
    ocr_step: int = DEFAULT_OCR_STEP  # --ocr-frames N: redaction also reads every Nth frame of a clip


#: The largest |center| or width ``--window`` accepts: the window is applied in float32 for
#: float pixel data, whose range ends near 3.4e38 (beyond it the edges become inf and the
#: image all black or all grey).
_WINDOW_LIMIT = 1e38


def parse_window(text: str) -> Window:
    """Parse ``CENTER,WIDTH`` (as given to ``--window``).

    Both numbers must be finite, and so must the window's edges (``center ± width/2``):
    ``nan``, ``inf`` or ``1e308`` would render an all-black or all-grey image.

    Raises:
        UsageError: malformed, non-finite, or a width below 1 (PS3.3 C.11.2.1.2).
    """
    try:
        center_s, width_s = text.split(",")
        center, width = float(center_s), float(width_s)
    except ValueError:
        raise UsageError(f"--window expects CENTER,WIDTH such as 40,400, got {text!r}") from None
    if not all(math.isfinite(v) for v in (center, width, center - width / 2, center + width / 2)) or max(
        abs(center), width
    ) > _WINDOW_LIMIT:
        raise UsageError(
            f"--window expects finite numbers of at most {_WINDOW_LIMIT:g} such as 40,400, got {text!r}"
        )
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


def parse_frame_range(text: str) -> FrameRange:
    """Parse ``A:B`` or ``A:B:STEP`` (as given to ``--frame-range``): a Python slice of 0-based frames."""
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        start, stop = (int(p) if p.strip() else None for p in parts[:2])
        step = int(parts[2]) if len(parts) == 3 and parts[2].strip() else 1
    except ValueError:
        raise UsageError(f"--frame-range expects A:B or A:B:STEP (0-based, B exclusive, negative from the end) "
                         f"such as 10:40 or 0:-1:2, got {text!r}") from None
    if step < 1:
        raise UsageError(f"--frame-range STEP must be >= 1, got {step}")
    return FrameRange(start, stop, step)


def parse_max_size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (as given to ``--max-size``), each at least 16."""
    try:
        width, height = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--max-size expects WIDTHxHEIGHT such as 1920x1080, got {text!r}") from None
    if min(width, height) < 16:
        raise UsageError(f"--max-size sides must be at least 16 pixels, got {text!r}")
    return width, height


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
    figure: FigureOptions = field(default_factory=FigureOptions)  # overlays, presentation states, crop, scale bar
    layout: Layout | None = None  # --layout: output paths from the de-identified dataset (None: digest names)
    dataset: DatasetFormat | None = None  # --dataset: dataset.csv / dataset.parquet in --out (None: not written)


if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import DeidOptions
    from dcmexport.layout import Layout
    from dcmexport.windows import WindowPreset


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
    frame_range: str | FrameRange | None = None,
    speed: float = 1.0,
    loop: int = 0,
    lossless: bool = False,
    max_size: str | tuple[int, int] | None = None,
    max_fps: float | None = None,
    window_name: str | None = None,
    layout: str | Layout | None = None,
    dataset: str | DatasetFormat | None = None,
    size: str | tuple[int, int] | None = None,
    **figure: object,
) -> ExportOptions:
    """Coerce plain Python values (as a notebook user writes them) into :class:`ExportOptions`.

    ``window`` is ``CENTER,WIDTH``, a preset name from ``presets/windows.toml``
    (``"lung"``), or three ``C/W`` pairs or names (``"40/80,80/200,600/2800"``) stacked as
    R, G and B; ``layout`` a ``--layout`` template (:mod:`dcmexport.layout`), checked
    against ``deid``; ``dataset`` ``"csv"`` or ``"parquet"``; ``size`` ``"WxH"`` (letterbox); ``figure`` takes the keywords of
    :func:`dcmexport.figure_options.build_figure_options` (``overlays``,
    ``presentation_state``, ``crop``, ``zoom``, ``scale_bar``, ``dpi``...).

    Raises:
        UsageError: a value is out of range or malformed; the message names the option.
    """
    from dcmexport.options import MaskRect

    fmt = format if isinstance(format, OutputFormat) else _coerce_format(format)
    win = None
    preset = None
    stack: tuple[Window | WindowPreset, ...] = ()
    if isinstance(window, str) and _is_stack(window):
        stack = parse_window_stack(window)
    elif isinstance(window, str) and not _looks_numeric(window):
        preset = _window_preset(window)
    elif isinstance(window, str):
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
    clip = _check_clip_options(fmt, series, frame_range, speed, loop, lossless, max_fps)
    box = None if max_size is None else parse_max_size(max_size if isinstance(max_size, str)
                                                       else "x".join(map(str, max_size)))
    figure_options = build_figure_options(**figure)  # type: ignore[arg-type]
    _check_figure(figure_options, fmt, series, bit_depth, window_name, win or preset or stack or None, window_index)
    letterbox = None if size is None else parse_size(size if isinstance(size, str) else "x".join(map(str, size)))
    _check_dataset_options(stack, bit_depth, letterbox, fmt, box, max_side, montage, figure_options)
    deid_options = deid if deid is not None else _default_deid()
    parsed_layout = _layout(layout, deid_options)
    check_out_dir(Path(out_dir))
    rects = tuple(m if isinstance(m, MaskRect) else parse_mask(m if isinstance(m, str) else ",".join(map(str, m))) for m in masks)
    return ExportOptions(
        out_dir=Path(out_dir),
        render=RenderOptions(window=win, window_index=window_index,
                             bit_depth=bit_depth, aspect=aspect, max_side=max_side, max_size=box,
                             window_preset=preset, window_name=window_name.strip() if window_name else None,
                             window_stack=stack, size=letterbox),
        encode=EncodeOptions(format=fmt, quality=quality, crf=crf, fps=fps,
                             frames=parse_frames(str(frames)), montage=montage, **clip),
        mask=MaskOptions(rects=rects, mask_file=Path(mask_file) if mask_file else None, use_presets=mask_presets,
                         us_regions=mask_us_regions, accept_burned_in=accept_burned_in,
                         ocr_check=OcrCheck(ocr_check), ocr_all_frames=ocr_all_frames,
                         redact_text=redact, ocr_step=ocr_step),
        deid=deid_options,
        also_dicom=also_dicom,
        overwrite=overwrite,
        keep_existing=keep_existing,
        series=series,
        timeout=timeout,
        figure=figure_options,
        layout=parsed_layout,
        dataset=_dataset_format(dataset),
    )


def _is_stack(text: str) -> bool:
    """``--window`` holding three windows (``40/80,80/200,600/2800``) rather than one ``CENTER,WIDTH``."""
    return "/" in text or len(text.split(",")) == 3


def parse_window_stack(text: str) -> tuple[Window | WindowPreset, ...]:
    """Parse ``--window A,B,C``: three ``CENTER/WIDTH`` pairs or window preset names, for R, G and B.

    Raises:
        UsageError: not three parts, a malformed pair (checked as :func:`parse_window`), an unknown preset.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise UsageError(f"--window with '/' expects three CENTER/WIDTH windows for R, G and B such as "
                         f"40/80,80/200,600/2800, got {text!r}")
    stack: list[Window | WindowPreset] = []
    for part in parts:
        if "/" in part or _looks_numeric(part):
            pair = part.split("/")
            if len(pair) != 2:
                raise UsageError(f"--window A,B,C expects CENTER/WIDTH pairs such as 40/80, got {part!r}")
            try:
                stack.append(parse_window(",".join(pair)))
            except UsageError as exc:
                raise UsageError(f"{exc} (in --window A,B,C, each window is CENTER/WIDTH)") from None
        else:
            stack.append(_window_preset(part))
    return tuple(stack)


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (as given to ``--size``), each 16..16384."""
    try:
        width, height = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size expects WIDTHxHEIGHT such as 512x512, got {text!r}") from None
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise UsageError(f"--size sides must be 16..16384 pixels, got {text!r}")
    return width, height


def _check_dataset_options(stack: tuple[object, ...], bit_depth: int, size: tuple[int, int] | None,
                           fmt: OutputFormat, max_size: object, max_side: int | None, montage: bool,
                           figure: FigureOptions) -> None:
    """Contradictions of ``--window A,B,C`` and ``--size`` with the other options (usage errors)."""
    if stack and bit_depth != 8:
        raise UsageError("--window A,B,C makes an 8-bit RGB image: drop --bit-depth 16")
    if stack and figure.presentation.mode is not PresentationMode.OFF:
        raise UsageError("--window A,B,C sets the windows itself: drop --presentation-state")
    if size is None:
        return
    for given, flag in ((max_size is not None, "--max-size"), (max_side is not None, "--max-side"),
                        (figure.zoom != 1.0, "--zoom"), (figure.width_mm is not None, "--width-mm"),
                        (montage, "--montage")):
        if given:
            raise UsageError(f"--size fixes the output size (fit and letterbox, applied last): drop {flag}")
    if fmt in (OutputFormat.AUTO, OutputFormat.MP4, OutputFormat.WEBM) and any(v % 2 for v in size):
        raise UsageError("--size for clips (mp4, webm; --format auto makes mp4 clips) needs even sides, "
                         "got {}x{}".format(*size))


def _layout(layout: str | Layout | None, deid: DeidOptions) -> Layout | None:
    if layout is None:
        return None
    from dcmexport.layout import Layout, check_layout, parse_layout

    parsed = layout if isinstance(layout, Layout) else parse_layout(layout)
    check_layout(parsed, deid)
    return parsed


def _dataset_format(value: str | DatasetFormat | None) -> DatasetFormat | None:
    if value is None or isinstance(value, DatasetFormat):
        return value
    try:
        return DatasetFormat(value.strip().lower())
    except ValueError:
        raise UsageError(f"--dataset must be csv or parquet, got {value!r}") from None


def _looks_numeric(text: str) -> bool:
    """``--window`` given as numbers (``40,400``, even malformed) rather than a preset name."""
    return bool(text.strip()) and (text.strip()[0].isdigit() or text.strip()[0] in "+-.," or "," in text)


def _window_preset(name: str) -> WindowPreset:
    from dcmexport.windows import find_window_preset, load_window_presets

    preset = find_window_preset(name)
    if preset is None:
        known = ", ".join(load_window_presets())
        raise UsageError(f"--window expects CENTER,WIDTH such as 40,400 or a preset name ({known}); got {name!r}")
    return preset


def _check_figure(figure: FigureOptions, fmt: OutputFormat, series: bool, bit_depth: int,
                  window_name: str | None, window: object, window_index: int) -> None:
    """Contradictions between the figure options and the others (each a usage error, exit 2)."""
    if window_name is not None and (window is not None or window_index):
        raise UsageError("--window-name picks one of the file's windows: drop --window / --window-index")
    if window_name is not None and not window_name.strip():
        raise UsageError("--window-name must not be empty")
    if (figure.dpi is not None or figure.width_mm is not None) and fmt.is_video:
        raise UsageError("--dpi and --width-mm apply to stills (png, jpg, tiff), not clips")
    if figure.presentation.mode is not PresentationMode.OFF and series:
        raise UsageError("--presentation-state applies to single images: drop --series")
    if figure.overlays and not figure.overlay_color.is_grey and bit_depth == 16:
        raise UsageError("a coloured --overlay-color makes an 8-bit RGB image: drop --bit-depth 16 or pick a grey")
def check_out_dir(out_dir: Path) -> None:
    """Check that ``out_dir`` is, or can be created as, a directory; create nothing.

    The nearest existing ancestor must be a directory: ``--out afile/sub`` under a
    file is refused here, at start-up, rather than failing when the first output is written.

    Raises:
        UsageError: ``out_dir`` or one of its ancestors is an existing non-directory.
    """
    for path in (out_dir, *out_dir.parents):
        try:
            if not path.exists():
                continue
        except OSError:
            continue
        if not path.is_dir():
            where = "is" if path == out_dir else f"lies under {path}, which is"
            raise UsageError(f"--out {out_dir} {where} a file, not a directory; choose another --out")
        return


def _coerce_format(text: str) -> OutputFormat:
    try:
        return coerce_format(text)
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise UsageError(f"--format must be one of {choices}; got {text!r}") from None


def _check_clip_options(fmt: OutputFormat, series: bool, frame_range: str | FrameRange | None, speed: float,
                        loop: int, lossless: bool, max_fps: float | None) -> dict[str, Any]:
    """The clip options checked against the chosen format (AUTO makes MP4 clips), as EncodeOptions fields."""
    still = fmt is not OutputFormat.AUTO and not fmt.is_video
    cut = parse_frame_range(frame_range) if isinstance(frame_range, str) else frame_range
    if still and (cut is not None or speed != 1):
        raise UsageError(f"--frame-range and --speed apply to clips (mp4, webm, gif, webp, apng), not {fmt.value}")
    if cut is not None and series:
        raise UsageError("--frame-range applies to multi-frame objects, not to --series clips")
    if not (math.isfinite(speed) and 0.25 <= speed <= 4):
        raise UsageError(f"--speed must be between 0.25 and 4 (playback speed), got {speed:g}")
    looping = ", ".join(f.value for f, s in FORMATS.items() if s.loops)
    if loop and (fmt is OutputFormat.AUTO or not fmt.spec.loops):
        raise UsageError(f"--loop applies to {looping} only, not {fmt.value}")
    if not 0 <= loop <= 65535:
        raise UsageError(f"--loop must be 0..65535 plays (0: forever), got {loop}")
    if lossless and fmt is not OutputFormat.WEBP:
        raise UsageError(f"--lossless applies to webp only (png, tiff and apng are always lossless), not {fmt.value}")
    if max_fps is not None and not 1 <= max_fps <= 240:
        raise UsageError(f"--max-fps must be between 1 and 240, got {max_fps:g}")
    return {"frame_range": cut, "speed": float(speed), "loop": loop, "lossless": lossless,
            "max_fps": None if max_fps is None else float(max_fps)}


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
