"""The JPEG clip passthrough: 8-bit JPEG frames that need only masks and resizing go to ffmpeg undecoded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import lcm
from pathlib import Path

from pydicom.dataset import Dataset

from dcmexport.mask import Box, align_box_outward
from dcmexport.options import (
    ExportOptions,
    OutputFormat,
)
from dcmexport.pipeline.clip import ClipPlan
from dcmexport.pipeline.frames import FramePipeline
from dcmexport.pipeline.writing import encode_clip
from dcmexport.read import (
    iter_frames,
    iter_jpeg_frames,
    jpeg_header_from_dataset,
)
from dcmexport.read.jpeg import JpegHeader


@dataclass(frozen=True)
class Passthrough:
    """A clip whose JPEG frames go to ffmpeg undecoded: frame 0's header and the boxes ffmpeg paints black."""

    header: JpegHeader
    boxes: tuple[Box, ...]


#: Photometric Interpretations whose JPEG frames ffmpeg decodes to what the Python path renders.
_PASSTHROUGH_YBR = frozenset({"YBR_FULL", "YBR_FULL_422"})


def passthrough_plan(path: Path, ds: Dataset, fmt: OutputFormat, pipeline: FramePipeline) -> Passthrough | None:
    """Decide whether a clip's JPEG frames can skip decoding in Python (the JPEG passthrough).

    Why: for a JPEG cine, Python otherwise decodes every frame (Pillow), converts
    YCbCr to RGB, and pipes raw RGB to ffmpeg, which converts it back to YUV;
    on two cores that CPU competes with x264. Handing ffmpeg the JPEG frames
    lets it decode, mask and scale in C with no RGB round trip. Measured on
    ``color3d_jpeg_baseline.dcm`` (120 frames 480x640 4:2:2, one ultrasound
    region; bench/README.md): 5.11 -> 4.71 CPU-s and 1.69x -> 1.55x the time
    of ffmpeg transcoding the same JPEG stream alone (3.25 -> 3.00 s against
    1.93 s); ffmpeg's own share is within 4 % of that floor, the rest is
    process start-up.

    Eligible, all of: MP4 or WebM; no ``--ocr-check`` (OCR reads rendered
    frames); 8-bit JPEG baseline or extended sequential (.50, .51) whose frame 0
    is 8-bit precision, Rows x Columns, carries its own DQT/DHT tables, and is
    either YBR_FULL / YBR_FULL_422 with three YCbCr components (no Adobe RGB
    transform, no 'R','G','B' ids) in a 4:4:4/4:2:2/4:2:0/4:1:1/4:4:0 layout,
    or MONOCHROME2 with one component; unsigned 8-bit samples; and a renderer
    that returns stored 8-bit frames unchanged (no window, VOI LUT, rescale,
    palette or inversion to apply). Masks (blank boxes, keep regions as their
    complement) become ffmpeg boxes grown to the chroma grid and to 2 x 2 (the
    4:2:0 output), so no chroma sample is shared across a box edge. Aspect
    correction and ``--max-side`` become ffmpeg Lanczos scaling to the same
    size. The frame-0 text check still decodes frame 0 in Python.

    Returns:
        The plan, or None: the frames are decoded in Python as before.
    """
    if fmt not in (OutputFormat.MP4, OutputFormat.WEBM) or pipeline.ocr_frames or pipeline.figure is not None:
        return None
    from dcmexport.encode.jpeg_filters import JPEG_CHROMA_SUBSAMPLINGS

    if pipeline.renderers.varies or not pipeline.renderers.first.passes_uint8_through():
        return None
    try:
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        samples = int(ds.get("SamplesPerPixel", 1))
        eight_bit = (int(ds.BitsAllocated), int(ds.get("BitsStored", 0)), int(ds.get("PixelRepresentation", 0)))
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return None
    if eight_bit != (8, 8, 0):
        return None
    header = jpeg_header_from_dataset(path, ds)
    if header is None or header.precision != 8 or (header.rows, header.columns) != (rows, cols) or not header.tables:
        return None
    if photometric in _PASSTHROUGH_YBR and samples == 3 and len(header.component_ids) == 3:
        chroma = header.chroma_subsampling
        if chroma is None or chroma not in JPEG_CHROMA_SUBSAMPLINGS:
            return None
        if header.signals_rgb or header.adobe_transform not in (None, 1):
            return None
        grid = (lcm(chroma[0], 2), lcm(chroma[1], 2))
    elif photometric == "MONOCHROME2" and samples == 1 and len(header.component_ids) == 1:
        grid = (1, 1)  # no chroma to share across an edge
    else:
        return None
    boxes = (align_box_outward(b, grid, rows, cols) for b in pipeline.plan.blank_boxes(rows, cols))
    return Passthrough(header, tuple(b for b in boxes if b is not None))


def encode_jpeg_clip(
    final: Path,
    clip: ClipPlan,
    fmt: OutputFormat,
    path: Path,
    ds: Dataset,
    plan: Passthrough,
    pipeline: FramePipeline,
    options: ExportOptions,
    on_frame: Callable[[], None] | None,
) -> None:
    """Encode a clip from its undecoded JPEG frames (see :func:`passthrough_plan`), atomically.

    Only the frames ``clip`` keeps are sent, at its rate or per-frame times.

    Raises:
        UnsupportedError: a later frame is unlike frame 0; nothing was written,
            the caller decodes the clip in Python instead.
        InputError: damaged JPEG data (ffmpeg's decoder stops at the first error).
    """
    from dcmexport.encode.video import JpegStreamWriter

    first = clip.indices[0] if clip.indices is not None else 0
    if 0 in pipeline.detect_frames:  # the text check on the first frame needs rendered pixels: one frame is cheap
        for frame in iter_frames(path, ds, indices=[first]):
            pipeline.render_masked(frame, 0, number=first)
    header = plan.header

    def open_writer(tmp: Path) -> JpegStreamWriter:
        return JpegStreamWriter(
            tmp, fmt, fps=clip.fps, crf=options.encode.crf, width=header.columns, height=header.rows,
            chroma_subsampling=header.chroma_subsampling if len(header.component_ids) == 3 else None,
            boxes=plan.boxes, out_size=pipeline.out_size, timestamps=clip.timestamps,
        )  # fmt: skip

    jpegs = iter_jpeg_frames(path, ds, header)
    if clip.indices is not None:
        wanted = frozenset(clip.indices)
        jpegs = (jpeg for number, jpeg in enumerate(jpegs) if number in wanted)
    encode_clip(final, fmt, clip.fps, jpegs, clip.count, options, on_frame, open_writer)
