"""Encode stage: rendered display arrays -> still images and video clips, with no metadata.

One module per backend, chosen by :class:`~dcmexport.options.OutputFormat`:

========  ==================  =====================================
format    backend             module
========  ==================  =====================================
PNG/JPG   Pillow              :mod:`dcmexport.encode.still`
TIFF      tifffile            :mod:`dcmexport.encode.still`
MP4/WebM  ffmpeg (imageio)    :mod:`dcmexport.encode.video`
GIF       ffmpeg (imageio)    :mod:`dcmexport.encode.video`
========  ==================  =====================================

MP4/WebM clips of 8-bit JPEG frames may skip the display arrays:
:class:`~dcmexport.encode.video.JpegStreamWriter` takes the undecoded JPEG
frames and lets ffmpeg decode, mask and scale them (the orchestrator decides).

:mod:`dcmexport.encode.probe` reads videos back (tests, ``verify``).
"""

from __future__ import annotations

from dcmexport.encode.probe import VideoInfo, probe_video, read_video_frames
from dcmexport.encode.still import write_still
from dcmexport.encode.video import VideoWriter, open_video

__all__ = ["VideoInfo", "VideoWriter", "open_video", "probe_video", "read_video_frames", "write_still"]
