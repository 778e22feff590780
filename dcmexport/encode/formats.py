"""The output-format registry: one entry per format, the one place that says what a format is.

Each :class:`FormatSpec` names its writer backend, its suffixes, what it can hold
(bit depths, frame rate), its own defaults and valid ranges (WebM's CRF is not
H.264's), how its metadata is kept empty, and how its files are read back (by
``verify`` and the review page). Options are validated against the chosen
format once, at the boundary (:func:`dcmexport.options.build_options`), from
these entries; the encoders trust them.

Adding a format: one backend module in this package, and one entry in
:data:`FORMATS` (imageio v3's plugin table is the model). A test walks the
registry and writes, verifies and reviews a file of every format.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np  # only for annotations: the CLI imports this module and must not pay numpy's import


class OutputFormat(enum.StrEnum):
    """Output media format; AUTO picks PNG for single-frame and MP4 for multi-frame objects."""

    AUTO = "auto"
    PNG = "png"
    JPG = "jpg"
    TIFF = "tiff"
    MP4 = "mp4"
    WEBM = "webm"
    GIF = "gif"
    WEBP = "webp"
    APNG = "apng"

    @property
    def spec(self) -> FormatSpec:
        """This format's registry entry (AUTO has none: resolve it first)."""
        return FORMATS[self]

    @property
    def is_video(self) -> bool:
        return self is not OutputFormat.AUTO and FORMATS[self].clip

    @property
    def extension(self) -> str:
        return FORMATS[self].extension


@dataclass(frozen=True)
class FormatSpec:
    """What one output format is and how dcmexport writes and reads it back."""

    format: OutputFormat
    extension: str  # the suffix dcmexport writes
    suffixes: tuple[str, ...]  # every suffix ``verify`` and the review page take for this format
    clip: bool  # a moving image (written by the video backend) or a still
    backend: str  # module of this package that writes it
    bit_depths: tuple[int, ...]  # grey sample depths it stores (RGB is always 8 bits per channel)
    lossless: bool
    metadata: str  # how its metadata is kept empty (plain English, for the README and verify)
    container: str  # the file structure ``verify`` parses for metadata and checks the signature of
    crf_range: tuple[int, int] | None = None  # constant-rate factor: valid range
    default_crf: int | None = None
    quality_range: tuple[int, int] | None = None  # lossy still quality
    default_quality: int | None = None
    max_fps: float | None = None  # fastest rate the format plays honestly (None: no limit of its own)
    loops: bool = False  # an animated image with a loop count (--loop)

    def read_frames(self, path: Path) -> Iterator[np.ndarray]:
        """Decode a file of this format back to display arrays (``verify``, the review page, tests).

        Stills yield one array (the first page of a TIFF); clips stream every frame.
        """
        module, name = _READERS[self.clip]
        reader: Callable[[Path], Iterator[np.ndarray]] = getattr(importlib.import_module(module), name)
        return reader(path)


#: Backends import lazily: a PNG export never loads imageio-ffmpeg (start-up time, issue #7).
_READERS = {False: ("dcmexport.encode.still", "read_still_frames"), True: ("dcmexport.encode.probe",
                                                                            "read_video_frames")}

_PIXELS_ONLY = "pixels only: no text chunks, no EXIF, no ICC profile"
_VIDEO_META = ("-map_metadata -1 and bit-exact muxing: no title, comment, encoder or creation-time tags")

FORMATS: dict[OutputFormat, FormatSpec] = {
    spec.format: spec
    for spec in (
        FormatSpec(OutputFormat.PNG, ".png", (".png",), clip=False, backend="still", bit_depths=(8, 16),
                   lossless=True, container="png", metadata=_PIXELS_ONLY + "; pHYs only when the pixel size is known"),
        FormatSpec(OutputFormat.JPG, ".jpg", (".jpg", ".jpeg"), clip=False, backend="still", bit_depths=(8,),
                   lossless=False, container="jpeg", metadata=_PIXELS_ONLY + "; JFIF density only when the pixel size is known",
                   quality_range=(1, 100), default_quality=95),
        FormatSpec(OutputFormat.TIFF, ".tiff", (".tif", ".tiff"), clip=False, backend="still", bit_depths=(8, 16),
                   lossless=True, container="tiff", metadata="no ImageDescription, Software or DateTime; resolution only"),
        FormatSpec(OutputFormat.MP4, ".mp4", (".mp4", ".m4v", ".mov"), clip=True, backend="video",
                   bit_depths=(8,), lossless=False, container="mp4", metadata=_VIDEO_META + "; x264's SEI banner removed",
                   crf_range=(0, 51), default_crf=18),
        FormatSpec(OutputFormat.WEBM, ".webm", (".webm", ".mkv"), clip=True, backend="video", bit_depths=(8,),
                   lossless=False, container="webm", metadata=_VIDEO_META, crf_range=(0, 63), default_crf=32),
        # GIF delays are whole hundredths of a second and browsers play delays under 2/100 s
        # as 10/100 s: 50 fps is the fastest honest rate (faster clips keep every frame at 50).
        FormatSpec(OutputFormat.GIF, ".gif", (".gif",), clip=True, backend="video", bit_depths=(8,),
                   lossless=False, container="gif", metadata="no comment or application extensions but the loop count",
                   max_fps=50.0, loops=True),
        # Animated WebP and APNG (teaching clips for web pages), streamed through ffmpeg's libwebp_anim
        # and apng encoders: frames are never all held in memory (Pillow's animated save needs them all).
        # Browsers play frame durations of 10 ms or less as 100 ms: 90 fps (>= 11 ms) is the fastest honest rate.
        # WebP is lossy at --quality (default 95) or lossless with --lossless; APNG is always lossless.
        FormatSpec(OutputFormat.WEBP, ".webp", (".webp",), clip=True, backend="video", bit_depths=(8,),
                   lossless=False, container="webp", metadata="RIFF chunks VP8X, ANIM, ANMF only: no EXIF, XMP or ICC chunk",
                   quality_range=(1, 100), default_quality=95, max_fps=90.0, loops=True),
        FormatSpec(OutputFormat.APNG, ".apng", (".apng",), clip=True, backend="video", bit_depths=(8,),
                   lossless=True, container="png", metadata=_PIXELS_ONLY + "; animation chunks (acTL, fcTL, fdAT) only",
                   max_fps=90.0, loops=True),
    )
}


def format_for_suffix(suffix: str) -> FormatSpec | None:
    """The registry entry whose suffixes include ``suffix`` (case-insensitive), or None."""
    low = suffix.lower()
    return next((s for s in FORMATS.values() if low in s.suffixes), None)


def coerce_format(text: str | OutputFormat) -> OutputFormat:
    """A format name as a user types it (``jpeg``, ``.tif``, ``MP4``) as an :class:`OutputFormat`.

    Raises:
        ValueError: not a known format (the boundary turns it into a usage error naming the choices).
    """
    if isinstance(text, OutputFormat):
        return text
    low = text.lower().lstrip(".")
    low = {"jpeg": "jpg", "tif": "tiff"}.get(low, low)
    return OutputFormat(low)


def describe_formats() -> list[dict[str, Any]]:
    """The registry as plain rows (for ``dcmexport presets`` and the README)."""
    return [
        {"format": s.format.value, "extension": s.extension, "clip": s.clip, "lossless": s.lossless,
         "bit_depths": list(s.bit_depths), "default_crf": s.default_crf, "crf_range": s.crf_range,
         "default_quality": s.default_quality, "max_fps": s.max_fps, "metadata": s.metadata}
        for s in FORMATS.values()
    ]
