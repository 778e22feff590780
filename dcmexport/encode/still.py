"""Still-image backend: PNG and JPEG through Pillow, TIFF through tifffile.

Every writer takes an already rendered display array and writes exactly the
pixels, nothing else: no text chunks, no EXIF, no ICC profile, no TIFF
ImageDescription / Software / DateTime. Only a resolution (dpi), when given,
is recorded, because it carries the physical pixel size and no identity.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dcmexport.encode.formats import OutputFormat
from dcmexport.errors import EncodeError, UnsupportedError, UsageError


def write_still(
    path: Path,
    image: np.ndarray,
    fmt: OutputFormat,
    *,
    quality: int = 95,
    dpi: tuple[float, float] | None = None,
) -> None:
    """Write one display image to ``path`` in ``fmt``, with no metadata.

    The format comes from ``fmt``, never from the suffix of ``path`` (the caller
    writes to a temporary name and renames it).

    :param path: destination file; created or overwritten.
    :param image: ``(H, W)`` uint8 or uint16 grey, or ``(H, W, 3)`` uint8 RGB.
    :param fmt: PNG (8/16-bit, lossless), JPG (8-bit, lossy, ``quality``) or
        TIFF (8/16-bit, lossless deflate).
    :param quality: JPEG quality 1..100 (ignored for PNG/TIFF).
    :param dpi: ``(x, y)`` pixels per inch, e.g. from Pixel Spacing; written as
        TIFF XResolution/YResolution with ResolutionUnit inch, PNG pHYs, JPEG JFIF density.
    :raises EncodeError: unsupported array shape or dtype (16-bit JPEG), a
        ``dpi`` the format cannot record (:data:`DPI_RANGE`), or the file cannot be written.
    :raises UsageError: ``quality`` out of range for JPEG.
    :raises UnsupportedError: ``fmt`` is not a still format.
    """
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise UnsupportedError(f"{fmt.value} is not a still-image format; use the video writer")
    _check_image(image, fmt)
    if dpi is not None:
        _check_dpi(dpi, fmt)
    try:
        writer(Path(path), np.ascontiguousarray(image), quality, dpi)
    except OSError as exc:
        raise EncodeError(f"cannot write {path}: {exc.strerror or exc}") from exc


#: The resolutions (dpi) each format can record. Outside them the writers either
#: fail deep inside (tifffile: ValueError from Fraction.limit_denominator; Pillow
#: PNG: OverflowError) or, worse, store a different value without a word (Pillow
#: wraps JPEG densities modulo 65536 and rounds small ones to 0 = "no unit").
#: JFIF 1.02: Xdensity/Ydensity are 16-bit integers; PNG 1.2 pHYs: unsigned
#: 32-bit pixels per metre (dpi / 0.0254, rounded); TIFF 6.0: XResolution is a
#: RATIONAL of two unsigned 32-bit integers.
DPI_RANGE: dict[OutputFormat, tuple[float, float]] = {
    OutputFormat.JPG: (0.5, 65535.0),
    OutputFormat.PNG: (0.0127, 0.0254 * 4294967295),
    OutputFormat.TIFF: (1 / 4294967295, 4294967295.0),
}


def _check_dpi(dpi: tuple[float, float], fmt: OutputFormat) -> None:
    """Refuse a resolution the format cannot record (rather than crash or store a wrong one)."""
    if not (len(dpi) == 2 and all(isinstance(d, int | float) and np.isfinite(d) and d > 0 for d in dpi)):
        raise EncodeError(f"dpi must be two positive numbers, got {dpi!r}")
    low, high = DPI_RANGE[fmt]
    if not all(low <= d <= high for d in dpi):
        raise EncodeError(
            f"a resolution of {dpi[0]:.3g} x {dpi[1]:.3g} dpi is outside what {fmt.value.upper()} can record "
            f"({low:.3g}..{high:.3g}); the (0028,0030) Pixel Spacing it comes from looks wrong: "
            "export with --no-aspect to omit it"
        )


def _check_image(image: np.ndarray, fmt: OutputFormat) -> None:
    if not isinstance(image, np.ndarray):
        raise EncodeError(f"expected a numpy array, got {type(image).__name__}")
    grey = image.ndim == 2
    rgb = image.ndim == 3 and image.shape[2] == 3
    if not (grey or rgb) or image.shape[0] == 0 or image.shape[1] == 0:
        raise EncodeError(f"expected an (H, W) grey or (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype == np.uint16:
        if rgb:
            raise EncodeError("16-bit RGB is not supported; render RGB at 8 bits (--bit-depth 8)")
        if fmt is OutputFormat.JPG:
            raise EncodeError("JPEG holds 8 bits per sample only; use --bit-depth 8, or PNG/TIFF for 16-bit")
    elif image.dtype != np.uint8:
        raise EncodeError(f"expected a uint8 or uint16 image, got {image.dtype}")


def _write_png(path: Path, image: np.ndarray, quality: int, dpi: tuple[float, float] | None) -> None:
    # Pillow writes no tEXt/iTXt/eXIf chunk unless asked (pnginfo/exif), so the
    # file holds IHDR, (pHYs), IDAT, IEND. uint16 grey becomes a 16-bit PNG.
    #
    # Grey images use zlib's Z_RLE strategy: windowed medical images are runs of
    # equal or slowly changing levels, which RLE matching finds 2-4x faster than
    # the default search and the files come out 1-16 % *smaller* (measured: pydicom
    # data CT/MR/CR, 512x512 CT slices 9.0 -> 5.7 ms). RGB (ultrasound, photos)
    # keeps the default strategy: there Z_RLE files were 34-41 % larger.
    im = Image.fromarray(image)
    strategy = zlib.Z_RLE if image.ndim == 2 else zlib.Z_DEFAULT_STRATEGY
    kwargs: dict[str, Any] = {"format": "PNG", "optimize": False, "compress_level": 6, "compress_type": strategy}
    if dpi is not None:
        kwargs["dpi"] = dpi
    im.save(path, **kwargs)


def _write_jpg(path: Path, image: np.ndarray, quality: int, dpi: tuple[float, float] | None) -> None:
    if not 1 <= quality <= 100:
        raise UsageError(f"JPEG quality must be 1..100, got {quality}")
    im = Image.fromarray(image)
    # 4:4:4 chroma: colour overlays (Doppler, annotations) stay sharp; Pillow
    # adds no EXIF/ICC/comment unless passed explicitly.
    kwargs: dict[str, Any] = {"format": "JPEG", "quality": quality, "subsampling": 0}
    if dpi is not None:
        kwargs["dpi"] = dpi
    im.save(path, **kwargs)


def _write_tiff(path: Path, image: np.ndarray, quality: int, dpi: tuple[float, float] | None) -> None:
    import tifffile  # here, not at the top: only TIFF needs it (~20 ms of start-up otherwise, issue #7)

    # tifffile writes a JSON "shaped" ImageDescription by default: metadata=None
    # and description=None suppress it, software=False drops the Software tag,
    # and datetime stays unset (no DateTime tag).
    kwargs: dict[str, Any] = {}
    if dpi is not None:
        kwargs["resolution"] = (float(dpi[0]), float(dpi[1]))
        kwargs["resolutionunit"] = "INCH"
    tifffile.imwrite(
        path,
        image,
        photometric="rgb" if image.ndim == 3 else "minisblack",
        compression="zlib",
        predictor=True,  # horizontal differencing: smaller, still lossless
        metadata=None,
        description=None,
        software=False,
        **kwargs,
    )


_WRITERS: dict[OutputFormat, Callable[[Path, np.ndarray, int, tuple[float, float] | None], None]] = {
    OutputFormat.PNG: _write_png,
    OutputFormat.JPG: _write_jpg,
    OutputFormat.TIFF: _write_tiff,
}


def read_still(path: Path) -> tuple[np.ndarray, int]:
    """Read back the first image of a still file and its page count (TIFFs may hold several).

    The format is taken from the suffix (``verify`` checks signatures separately).

    :param path: a PNG, JPEG or TIFF file.
    :returns: the image (grey ``(H, W)`` uint8/uint16, RGB or RGBA uint8) and the number of pages.
    """
    if path.suffix.lower() in (".tif", ".tiff"):
        # tifffile, not Pillow: it reads every sample format we write (16-bit
        # grey deflate) and those other tools write (float, multi-page).
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return tif.pages[0].asarray(), len(tif.pages)
    with Image.open(path) as img:
        img.load()
        pages = getattr(img, "n_frames", 1)
        if img.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(img, dtype=np.uint16), pages
        if img.mode == "I":
            # Older Pillow opens 16-bit grey PNGs as 32-bit "I" holding 0..65535.
            arr = np.asarray(img)
            in_range = arr.size and arr.min() >= 0 and arr.max() <= 65535
            return (arr.astype(np.uint16) if in_range else arr), pages
        if img.mode in ("L", "RGB", "RGBA"):
            return np.asarray(img), pages
        has_alpha = "A" in img.getbands() or "transparency" in img.info
        return np.asarray(img.convert("RGBA" if has_alpha else "RGB")), pages


def read_still_frames(path: Path) -> Iterator[np.ndarray]:
    """The registry's read-back for stills: the first image of ``path`` (see :func:`read_still`)."""
    yield read_still(path)[0]
