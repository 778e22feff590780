"""Synthetic ultrasound cines: RGB with burned-in text and a region, grey timed by Cine Rate, JPEG re-encoding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
)

from dcmexport.errors import UsageError

from .common import (
    DEFAULT_BANNER_TEXT,
    _add_common_modules,
    _apply_phi,
    _default_uids,
    _format_ds,
    _instance_uid,
    _new_dataset,
    _set_pixels,
)

# --- ultrasound --------------------------------------------------------------


@dataclass(frozen=True)
class UltrasoundLayout:
    """Where things are in a synthetic ultrasound frame.

    ``banner`` is ``(x0, y0, x1, y1)`` with exclusive ``x1``/``y1`` (array slicing);
    ``region`` is the inclusive pixel box written to (0018,6018)-(0018,601E)
    Region Location Min/Max (PS3.3 C.8.5.5.1).
    """

    banner: tuple[int, int, int, int]
    region: tuple[int, int, int, int]


def us_layout(rows: int, columns: int) -> UltrasoundLayout:
    """Return the banner and region boxes the ultrasound factories use for a frame size.

    Args:
        rows, columns: Frame size (at least 48 x 48).

    Returns:
        The layout; the banner lies wholly above the region.

    Raises:
        UsageError: If the frame is too small for a banner and a region.
    """
    if rows < 48 or columns < 48:
        raise UsageError("samples: ultrasound frames need at least 48 rows and 48 columns")
    banner_h = max(12, rows // 6)
    region = (columns // 10, banner_h + 4, columns - columns // 10 - 1, rows - 5)
    return UltrasoundLayout(banner=(0, 0, columns, banner_h), region=region)


def _sector_frames(
    frames: int, region: tuple[int, int, int, int], rows: int, columns: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Gray sector cine inside ``region``: moving bands and a pulsating bright arc.

    Values are quantised so RLE compresses them (real speckle would not).
    Returns (frames x rows x columns uint8, sector mask, colour-box mask).
    """
    x0, y0, x1, y1 = region
    apex_y, apex_x = y0 + 1.0, (x0 + x1) / 2.0
    half_angle = np.deg2rad(35.0)
    radius = min(y1 - apex_y - 1.0, ((x1 - x0) / 2.0 - 1.0) / np.sin(half_angle))
    yy, xx = np.meshgrid(
        np.arange(rows, dtype=np.float64), np.arange(columns, dtype=np.float64), indexing="ij"
    )
    r = np.hypot(yy - apex_y, xx - apex_x)
    theta = np.arctan2(xx - apex_x, yy - apex_y)
    sector = (r <= radius) & (np.abs(theta) <= half_angle) & (r >= 2.0)
    colour = sector & (np.abs(r - 0.55 * radius) <= 0.12 * radius) & (np.abs(theta) <= 0.25 * half_angle)
    out = np.zeros((frames, rows, columns), dtype=np.uint8)
    band = max(3.0, radius / 12.0)
    for f in range(frames):
        phase = f * band / 4.0
        level = ((r + phase) // band % 4).astype(np.int32)
        frame = 48 + 36 * level
        arc_depth = radius * (0.75 + 0.08 * np.sin(2 * np.pi * f / max(frames, 1)))
        frame[np.abs(r - arc_depth) <= max(1.5, radius / 40.0)] = 230
        out[f][sector] = frame[sector].astype(np.uint8)
    return out, sector, colour


def _banner_image(text: str, width: int, height: int) -> npt.NDArray[np.uint8]:
    """White-on-black text rendered with Pillow, as large as the banner allows."""
    img = Image.new("L", (width, height), 0)
    if not text:
        return np.asarray(img, dtype=np.uint8)
    draw = ImageDraw.Draw(img)
    size = max(6, int(height * 0.75))
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.load_default(size=size)
        while size > 6 and draw.textlength(text, font=font) > width - 8:
            size -= 1
            font = ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or built without FreeType
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    y = (height - (bottom - top)) // 2 - top
    draw.text((4 - left, y), text, fill=255, font=font)
    return np.asarray(img, dtype=np.uint8)


def _add_region_sequence(ds: Dataset, region: tuple[int, int, int, int], delta: tuple[float, float]) -> None:
    """One Sequence of Ultrasound Regions item (PS3.3 C.8.5.5): a 2-D tissue region in cm."""
    x0, y0, x1, y1 = region
    item = Dataset()
    item.RegionSpatialFormat = 1  # 2D (tissue or flow)
    item.RegionDataType = 1  # Tissue
    item.RegionFlags = 0
    item.RegionLocationMinX0 = x0
    item.RegionLocationMinY0 = y0
    item.RegionLocationMaxX1 = x1
    item.RegionLocationMaxY1 = y1
    item.ReferencePixelX0 = (x1 - x0) // 2
    item.ReferencePixelY0 = 0
    item.ReferencePixelPhysicalValueX = 0.0
    item.ReferencePixelPhysicalValueY = 0.0
    item.PhysicalUnitsXDirection = 3  # cm
    item.PhysicalUnitsYDirection = 3  # cm
    item.PhysicalDeltaX = float(delta[0])
    item.PhysicalDeltaY = float(delta[1])
    ds.SequenceOfUltrasoundRegions = DicomSequence([item])


def _us_dataset(
    *,
    kind: str,
    seed: int,
    instance: int,
    series_uid: str | None,
    study_uid: str | None,
) -> Dataset:
    study, series = _default_uids(kind, study_uid, series_uid)
    ds = _new_dataset(UltrasoundMultiFrameImageStorage, _instance_uid(series, instance, seed))
    _add_common_modules(
        ds,
        modality="US",
        study_uid=study,
        series_uid=series,
        series_number=1,
        instance=instance,
        frame_of_reference_uid=None,
        model="FAKE US 1",
    )
    ds.PatientOrientation = ""  # Type 2C, empty: no patient-relative orientation
    ds.BodyPartExamined = "ABDOMEN"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]  # US Image module, PS3.3 C.8.5.6.1.1
    ds.LossyImageCompression = "00"
    return ds


def _maybe_compress(ds: Dataset, compress: bool) -> None:
    if compress:
        # pydicom's native RLE encoder: always available and gives the same bytes
        # on every install (an optional plugin might segment runs differently).
        ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)


#: Pillow's ``subsampling`` argument for each JPEG chroma layout.
_PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def compress_jpeg_baseline(ds: Dataset, *, subsampling: str = "4:2:2", quality: int = 90) -> None:
    """Re-encode a native 8-bit RGB or MONOCHROME2 object as JPEG Baseline (PS3.5 A.4.1), in place.

    pydicom has no JPEG baseline encoder, so every frame is written by Pillow
    (libjpeg: JFIF, YCbCr components 1, 2, 3, with their own DQT and DHT) and
    encapsulated one fragment per frame with an empty Basic Offset Table.
    RGB becomes YBR_FULL_422 when chroma is subsampled and YBR_FULL for 4:4:4
    (PS3.3 C.7.6.3.1.2, PS3.5 8.2.1). Output bytes depend on the Pillow/libjpeg
    build, so these objects serve tests and benchmarks, never ``samples/``.

    Args:
        ds: a dataset from one of the factories (8-bit, Planar Configuration 0).
        subsampling: ``"4:4:4"``, ``"4:2:2"`` or ``"4:2:0"`` (ignored for grey).
        quality: JPEG quality, 1..95.

    Raises:
        UsageError: not 8-bit RGB or MONOCHROME2, or an unknown subsampling.
    """
    from io import BytesIO

    from pydicom.encaps import encapsulate

    photometric = str(ds.PhotometricInterpretation)
    if int(ds.BitsAllocated) != 8 or photometric not in ("RGB", "MONOCHROME2"):
        raise UsageError("samples: JPEG baseline needs 8-bit RGB or MONOCHROME2 pixels")
    if subsampling not in _PILLOW_SUBSAMPLING:
        raise UsageError(f"samples: subsampling must be one of {', '.join(_PILLOW_SUBSAMPLING)}")
    frames = ds.pixel_array
    if "NumberOfFrames" not in ds or int(ds.NumberOfFrames) == 1:
        frames = frames[np.newaxis]
    fragments = []
    for frame in frames:
        out = BytesIO()
        Image.fromarray(np.ascontiguousarray(frame)).save(
            out, "JPEG", quality=quality, subsampling=_PILLOW_SUBSAMPLING[subsampling]
        )
        fragments.append(out.getvalue())
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    if photometric == "RGB":
        ds.PhotometricInterpretation = "YBR_FULL" if subsampling == "4:4:4" else "YBR_FULL_422"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"


def make_us_rgb_cine(
    *,
    rows: int = 120,
    columns: int = 160,
    frames: int = 12,
    frame_time_ms: float = 40.0,
    banner_text: str = DEFAULT_BANNER_TEXT,
    physical_delta: tuple[float, float] = (0.03, 0.03),
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    instance: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
    compress: bool = False,
) -> Dataset:
    """Build an Ultrasound Multi-frame Image Storage object (PS3.3 A.7): RGB cine with burned-in text.

    Frames carry a moving gray sector with a red "flow" patch, all inside the one
    region of (0018,6011) Sequence of Ultrasound Regions; ``banner_text`` is drawn
    white on black into a top banner outside that region (see :func:`us_layout`),
    so (0028,0301) Burned In Annotation is "YES". Timing is (0018,1063) Frame Time
    with (0028,0009) Frame Increment Pointer -> Frame Time (PS3.3 C.7.6.6, C.7.6.5).

    Args:
        rows, columns, frames: Cine size (frames >= 2).
        frame_time_ms: (0018,1063) Frame Time in ms.
        banner_text: Text burned into the banner ("" for none).
        physical_delta: (0018,602C)/(0018,602E) Physical Delta X/Y in cm per pixel.
        seed, phi, instance, series_uid, study_uid: As for :func:`make_ct`.
        compress: Encode the pixels as RLE Lossless (PS3.5 G).

    Returns:
        The dataset (Explicit VR Little Endian, or RLE Lossless if ``compress``).

    Raises:
        UsageError: If the cine is too small or a PHI key is unknown.
    """
    if frames < 2:
        raise UsageError("samples: an ultrasound cine needs frames >= 2")
    layout = us_layout(rows, columns)
    gray, _sector, colour = _sector_frames(frames, layout.region, rows, columns)
    rgb = np.repeat(gray[..., np.newaxis], 3, axis=-1)
    for f in range(frames):
        # A pulsating red patch, so the object is genuinely colour.
        red = 120 + int(100 * (0.5 + 0.5 * np.sin(2 * np.pi * f / frames)))
        rgb[f][colour] = (red, 16, 16)
    bx0, by0, bx1, by1 = layout.banner
    banner = _banner_image(banner_text, bx1 - bx0, by1 - by0)
    rgb[:, by0:by1, bx0:bx1, :] = banner[np.newaxis, :, :, np.newaxis]

    ds = _us_dataset(kind="us_rgb", seed=seed, instance=instance, series_uid=series_uid, study_uid=study_uid)
    ds.BurnedInAnnotation = "YES"
    ds.FrameTime = _format_ds(frame_time_ms)
    ds.FrameIncrementPointer = 0x00181063  # (0018,1063) Frame Time
    _add_region_sequence(ds, layout.region, physical_delta)
    _set_pixels(ds, rgb, "RGB", 8)
    _apply_phi(ds, phi)
    _maybe_compress(ds, compress)
    return ds


def make_us_gray_cine(
    *,
    rows: int = 128,
    columns: int = 128,
    frames: int = 10,
    cine_rate: int = 15,
    with_region: bool = False,
    physical_delta: tuple[float, float] = (0.03, 0.03),
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    instance: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
    compress: bool = False,
) -> Dataset:
    """Build an 8-bit MONOCHROME2 Ultrasound Multi-frame object timed only by (0018,0040) Cine Rate.

    There is no (0018,1063) Frame Time and, deliberately, no (0028,0009) Frame
    Increment Pointer (which the Multi-frame module makes Type 1, PS3.3 C.7.6.6):
    this object stands for the real-world files where the frame rate can only come
    from Cine Rate. No text is drawn, so (0028,0301) Burned In Annotation is "NO".

    Args:
        rows, columns, frames: Cine size (frames >= 2).
        cine_rate: (0018,0040) Cine Rate, frames per second.
        with_region: Also write a Sequence of Ultrasound Regions (as :func:`make_us_rgb_cine`).
        physical_delta: Physical Delta X/Y in cm per pixel, used with ``with_region``.
        seed, phi, instance, series_uid, study_uid: As for :func:`make_ct`.
        compress: Encode the pixels as RLE Lossless (PS3.5 G).

    Returns:
        The dataset (Explicit VR Little Endian, or RLE Lossless if ``compress``).

    Raises:
        UsageError: If the cine is too small or a PHI key is unknown.
    """
    if frames < 2:
        raise UsageError("samples: an ultrasound cine needs frames >= 2")
    layout = us_layout(rows, columns)
    gray, _sector, _colour = _sector_frames(frames, layout.region, rows, columns)
    ds = _us_dataset(kind="us_gray", seed=seed, instance=instance, series_uid=series_uid, study_uid=study_uid)
    ds.BurnedInAnnotation = "NO"
    ds.CineRate = cine_rate
    if with_region:
        _add_region_sequence(ds, layout.region, physical_delta)
    _set_pixels(ds, gray, "MONOCHROME2", 8)
    _apply_phi(ds, phi)
    _maybe_compress(ds, compress)
    return ds
