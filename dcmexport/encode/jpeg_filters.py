"""The ffmpeg filter chain of the JPEG clip passthrough: decode, mask, scale and convert in C.

Used by :class:`dcmexport.encode.video.JpegStreamWriter`; the pipeline asks
:data:`JPEG_CHROMA_SUBSAMPLINGS` which JPEG layouts it can take.
"""

from __future__ import annotations

from collections.abc import Sequence

from dcmexport.errors import UnsupportedError

#: YCbCr stays BT.601 as JPEG decodes it; the range becomes limited (see encode/video.py's docstring).
_TAG_BT601 = "setparams=range=tv:colorspace=smpte170m:color_primaries=bt709:color_trc=bt709"
_SWS_FLAGS = "accurate_rnd"
#: ffmpeg's planar format for YCbCr frames, by chroma subsampling (luma samples per chroma sample).
_PLANAR_BY_SUBSAMPLING: dict[tuple[int, int], str] = {
    (1, 1): "yuv444p", (2, 1): "yuv422p", (2, 2): "yuv420p", (4, 1): "yuv411p", (1, 2): "yuv440p",
}  # fmt: skip
#: Chroma subsamplings (luma samples per chroma sample) :class:`JpegStreamWriter` can take.
JPEG_CHROMA_SUBSAMPLINGS = frozenset(_PLANAR_BY_SUBSAMPLING)


def jpeg_filter_chain(
    width: int,
    height: int,
    chroma_subsampling: tuple[int, int] | None,
    boxes: Sequence[tuple[int, int, int, int]],
    out_size: tuple[int, int] | None,
) -> str:
    """The ffmpeg filter chain of the JPEG passthrough: range -> masks -> resample -> pad -> 4:2:0 -> tags.

    Masks come first, on the decoded planes at the stored size and chroma
    layout, so no resampling (aspect, 4:2:0) can carry masked content past a
    box edge. ``drawbox`` paints limited-range black (Y 16, CbCr 128), so
    YCbCr frames are first converted from JPEG's full range to limited range
    at the same size and layout (a per-sample mapping, no spatial filter);
    one-component frames are full-range ``gray``, where ``drawbox`` paints 0.
    The YCbCr matrix stays BT.601, as decoded; the output is tagged so.

    :param width: stored columns.
    :param height: stored rows.
    :param chroma_subsampling: (horizontal, vertical) for YCbCr frames, None for grey.
    :param boxes: rectangles to paint black, stored pixels, x1/y1 exclusive.
    :param out_size: ``(rows, cols)`` after Lanczos resampling, or None for the stored size.
    :returns: the ``-vf`` argument.
    :raises UnsupportedError: a chroma layout without an ffmpeg planar format.
    """
    draw = [f"drawbox=x={x0}:y={y0}:w={x1 - x0}:h={y1 - y0}:color=black:t=fill" for x0, y0, x1, y1 in boxes]
    parts: list[str] = []
    to_tv = "in_range=pc:out_range=tv:"
    if chroma_subsampling is None:
        parts += draw
    else:
        planar = _PLANAR_BY_SUBSAMPLING.get(chroma_subsampling)
        if planar is None:
            raise UnsupportedError(f"no planar pixel format for chroma subsampling {chroma_subsampling}")
        if draw:
            parts += [f"scale={to_tv}flags={_SWS_FLAGS}", f"format={planar}", *draw]
            to_tv = ""
    out_h, out_w = out_size if out_size is not None else (height, width)
    even_w, even_h = out_w + out_w % 2, out_h + out_h % 2
    if (out_w, out_h) != (width, height):
        parts.append(f"scale=w={out_w}:h={out_h}:{to_tv}flags=lanczos+{_SWS_FLAGS}")
    else:
        parts.append(f"scale={to_tv}flags={_SWS_FLAGS}")
    if (even_w, even_h) != (out_w, out_h):
        # 4:2:0 needs even sizes: pad black (limited range by now) at full chroma resolution.
        parts += ["format=yuv444p", f"pad={even_w}:{even_h}:0:0:color=black"]
    parts += ["format=yuv420p", _TAG_BT601]
    return ",".join(parts)
