"""Encode stage: rendered display arrays -> still images and video clips, with no metadata.

One module per backend, chosen by :class:`~dcmexport.options.OutputFormat`:

=========  ==================  =====================================
format     backend             module
=========  ==================  =====================================
PNG/JPG    Pillow              :mod:`dcmexport.encode.still`
TIFF       tifffile            :mod:`dcmexport.encode.still`
MP4/WebM   ffmpeg (imageio)    :mod:`dcmexport.encode.video`
GIF        ffmpeg (imageio)    :mod:`dcmexport.encode.video`
WebP/APNG  ffmpeg (imageio)    :mod:`dcmexport.encode.video` (animated)
DICOM      pydicom (+ copy)    :mod:`dcmexport.encode.dicom`
=========  ==================  =====================================

The ffmpeg process, codec table, H.264 level and the timestamped input of
variable-rate clips are in :mod:`~dcmexport.encode.ffmpeg`,
:mod:`~dcmexport.encode.h264` and :mod:`~dcmexport.encode.matroska`.

MP4/WebM clips of 8-bit JPEG frames may skip the display arrays:
:class:`~dcmexport.encode.video.JpegStreamWriter` takes the undecoded JPEG
frames and lets ffmpeg decode, mask and scale them (the orchestrator decides).

:mod:`dcmexport.encode.probe` reads videos back (tests, ``verify``).

The names below are resolved on first use: a PNG export never imports the video
backend (imageio-ffmpeg) and a clip never imports tifffile (start-up time, issue #7).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.encode.probe import VideoInfo, probe_video, read_video_frames
    from dcmexport.encode.still import write_still
    from dcmexport.encode.video import VideoWriter

__all__ = ["VideoInfo", "VideoWriter", "probe_video", "read_video_frames", "write_still"]

#: public name -> the backend module that defines it
_BACKEND = {
    "VideoInfo": "probe",
    "probe_video": "probe",
    "read_video_frames": "probe",
    "write_still": "still",
    "VideoWriter": "video",
}


def __getattr__(name: str) -> Any:
    module = _BACKEND.get(name)
    if module is None:
        raise AttributeError(f"module 'dcmexport.encode' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dcmexport.encode.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
