"""Read stage: one DICOM object opened, parsed, checked and iterated frame by frame.

==========================  ==============================================================
module                      what it holds
==========================  ==============================================================
:mod:`.dataset`             safe open, hashing, the pydicom read (warnings silenced)
:mod:`.geometry`            the Image Pixel module checked before decoding; frame count
:mod:`.frames`              decoded frames (YBR JPEG via Pillow) and undecoded JPEG frames
:mod:`.jpeg`                JPEG marker parsing of one frame (no pydicom)
:mod:`.pydicom_adapter`     every use of pydicom's private API, each with its reason
==========================  ==============================================================

Where objects come from (files, folders, zip, DICOMDIR) is :mod:`dcmexport.sources`.
Nothing here modifies an input.
"""

from __future__ import annotations

from dcmexport.read.dataset import (
    PIXEL_TAGS,
    native_encoding,
    open_regular,
    quiet_pydicom,
    raw_signature,
    read_dataset,
    read_encoding,
    read_small_file,
    sha256_file,
)
from dcmexport.read.frames import (
    JPEG_BITSTREAM_SYNTAXES,
    apply_ybr_full_to_rgb,
    iter_frames,
    iter_jpeg_frames,
    jpeg_header_from_dataset,
)
from dcmexport.read.geometry import (
    MAX_FRAME_BYTES,
    MAX_OBJECT_BYTES,
    check_pixel_geometry,
    has_pixels,
    number_of_frames,
)
from dcmexport.read.jpeg import JpegHeader

__all__ = [
    "JPEG_BITSTREAM_SYNTAXES",
    "MAX_FRAME_BYTES",
    "MAX_OBJECT_BYTES",
    "PIXEL_TAGS",
    "JpegHeader",
    "apply_ybr_full_to_rgb",
    "check_pixel_geometry",
    "has_pixels",
    "iter_frames",
    "iter_jpeg_frames",
    "jpeg_header_from_dataset",
    "native_encoding",
    "number_of_frames",
    "open_regular",
    "quiet_pydicom",
    "raw_signature",
    "read_dataset",
    "read_encoding",
    "read_small_file",
    "sha256_file",
]
