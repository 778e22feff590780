"""Single-frame synthetic objects: CT (one slice or a series), MR and CR (MONOCHROME1, non-square pixels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    MRImageStorage,
)

from dcmexport.errors import UsageError

from .common import (
    _add_common_modules,
    _apply_phi,
    _coerce_pixels,
    _default_uids,
    _ellipse,
    _format_ds,
    _grid,
    _instance_uid,
    _new_dataset,
    _set_pixels,
    _shuffled_indices,
    _uniform_noise,
    uid_from_name,
)

# --- CT ----------------------------------------------------------------------


def _ct_phantom_hu(
    rows: int, columns: int, position_z: float, seed: int, noise: int
) -> npt.NDArray[np.int32]:
    """A chest-like slice in HU: air, body, two lungs, spine and a z-dependent lesion."""
    yy, xx = _grid(rows, columns)
    hu = np.full((rows, columns), -1000, dtype=np.int32)
    hu[_ellipse(yy, xx, 0.0, 0.0, 0.70, 0.85)] = 40
    hu[_ellipse(yy, xx, -0.05, -0.40, 0.42, 0.28)] = -850
    hu[_ellipse(yy, xx, -0.05, 0.40, 0.42, 0.28)] = -850
    hu[_ellipse(yy, xx, 0.45, 0.0, 0.13, 0.13)] = 700
    # A lesion whose radius changes with z so slices of a series differ.
    radius = 0.04 + 0.06 * abs(np.sin(position_z / 10.0))
    hu[_ellipse(yy, xx, -0.15, -0.40, radius, radius)] = 60
    return hu + _uniform_noise(seed, (rows, columns), noise)


def make_ct(
    *,
    rows: int = 64,
    columns: int = 64,
    slope: float = 1.0,
    intercept: float = -1024.0,
    windows: Sequence[tuple[float, float]] = ((40.0, 400.0), (-600.0, 1500.0)),
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    instance: int = 1,
    position_z: float = 0.0,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    sop_instance_uid: str | None = None,
    pixel_spacing: tuple[float, float] = (0.7, 0.7),
    slice_thickness: float = 2.5,
    pixel_representation: int = 1,
    bits_stored: int = 16,
    noise: int = 10,
    pixels: npt.ArrayLike | None = None,
) -> Dataset:
    """Build a CT Image Storage object (PS3.3 A.3) with a chest-like phantom.

    Stored values are ``round((HU - intercept) / slope)`` so the Modality LUT
    (Rescale Slope/Intercept, PS3.3 C.11.1) gives back the phantom's HU.

    Args:
        rows, columns: Image size (ignored when ``pixels`` is given).
        slope, intercept: (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept.
        windows: (center, width) pairs written as multi-valued (0028,1050)/(0028,1051)
            with a (0028,1055) explanation each; empty for no window.
        seed: Seed of the pixel noise and part of the default SOP Instance UID.
        phi: Overrides/extensions of :func:`planted_phi`.
        instance: (0020,0013) Instance Number.
        position_z: z of (0020,0032) Image Position (Patient) and (0020,1041) Slice Location.
        series_uid, study_uid, frame_of_reference_uid, sop_instance_uid: Explicit UIDs;
            defaults are derived from fixed names.
        pixel_spacing: (0028,0030) Pixel Spacing, row spacing then column spacing, mm.
        slice_thickness: (0018,0050) Slice Thickness, mm.
        pixel_representation: 1 for int16 stored values, 0 for uint16.
        bits_stored: (0028,0101) Bits Stored (12..16).
        noise: Amplitude in HU of the uniform noise.
        pixels: Exact stored values (2-D integers); replaces the phantom.

    Returns:
        The dataset, Explicit VR Little Endian, with ``file_meta``.

    Raises:
        UsageError: If stored values do not fit ``bits_stored`` or a PHI key is unknown.
    """
    if not 12 <= bits_stored <= 16:
        raise UsageError("samples: CT (0028,0101) BitsStored must be 12..16 (PS3.3 C.8.2.1)")
    if slope == 0:
        raise UsageError("samples: (0028,1053) RescaleSlope must not be 0")
    dtype: type[np.integer] = np.int16 if pixel_representation == 1 else np.uint16
    if pixels is not None:
        arr = _coerce_pixels(pixels, ndim=2, dtype=dtype, bits_stored=bits_stored, what="CT")
    else:
        hu = _ct_phantom_hu(rows, columns, position_z, seed, noise)
        stored = np.rint((hu - intercept) / slope).astype(np.int64)
        signed = pixel_representation == 1
        lo = -(1 << (bits_stored - 1)) if signed else 0
        hi = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
        arr = np.clip(stored, lo, hi).astype(dtype)
    study, series = _default_uids("ct", study_uid, series_uid)
    frame_of_ref = frame_of_reference_uid or uid_from_name(f"{study}/frame-of-reference")
    sop = sop_instance_uid or _instance_uid(series, instance, seed)

    ds = _new_dataset(CTImageStorage, sop)
    _add_common_modules(
        ds,
        modality="CT",
        study_uid=study,
        series_uid=series,
        series_number=1,
        instance=instance,
        frame_of_reference_uid=frame_of_ref,
        model="FAKE CT 1",
    )
    ds.PatientPosition = "HFS"  # Type 2C in General Series for CT
    ds.BodyPartExamined = "CHEST"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]  # Type 1 (PS3.3 C.8.2.1.1.1)
    ds.AcquisitionNumber = 1
    # Image Plane module, PS3.3 C.7.6.2: axial, rows along +y, columns along +x.
    ds.PixelSpacing = [_format_ds(pixel_spacing[0]), _format_ds(pixel_spacing[1])]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    n_rows, n_cols = arr.shape
    x0 = -pixel_spacing[1] * (n_cols - 1) / 2.0
    y0 = -pixel_spacing[0] * (n_rows - 1) / 2.0
    ds.ImagePositionPatient = [_format_ds(x0), _format_ds(y0), _format_ds(position_z)]
    ds.SliceThickness = _format_ds(slice_thickness)
    ds.SliceLocation = _format_ds(position_z)
    # CT Image module, PS3.3 C.8.2.1.
    ds.KVP = "120"
    ds.RescaleIntercept = _format_ds(intercept)
    ds.RescaleSlope = _format_ds(slope)
    ds.RescaleType = "HU"
    if windows:
        ds.WindowCenter = [_format_ds(c) for c, _ in windows]
        ds.WindowWidth = [_format_ds(w) for _, w in windows]
        # pydicom stores a one-item list as a single value (VM 1), as wanted.
        ds.WindowCenterWidthExplanation = [f"WINDOW {i + 1}" for i in range(len(windows))]
    _set_pixels(ds, arr, "MONOCHROME2", bits_stored)
    _apply_phi(ds, phi)
    return ds


def make_ct_series(
    n: int = 5,
    *,
    shuffled_seed: int | None = None,
    rows: int = 64,
    columns: int = 64,
    slice_spacing: float = 2.5,
    start_z: float = 0.0,
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    slope: float = 1.0,
    intercept: float = -1024.0,
    windows: Sequence[tuple[float, float]] = ((40.0, 400.0), (-600.0, 1500.0)),
) -> list[Dataset]:
    """Build one CT series of ``n`` slices sharing Study, Series and Frame of Reference UIDs.

    Slice ``i`` (0-based) has Instance Number ``i + 1`` and z = ``start_z + i * slice_spacing``
    in (0020,0032) Image Position (Patient) and (0020,1041) Slice Location, so the
    correct order follows from the geometry (PS3.3 C.7.6.2.1.1).

    Args:
        n: Number of slices (>= 1).
        shuffled_seed: If given, the list is returned in a deterministic shuffled order.
        rows, columns, slope, intercept, windows, phi: As for :func:`make_ct`.
        slice_spacing: Distance between slice positions, mm (also the Slice Thickness).
        start_z: z of the first instance.
        seed: Base noise seed; slice ``i`` uses ``seed + i``.
        series_uid, study_uid: Explicit UIDs; defaults derived from fixed names.

    Returns:
        The slices, in instance order or shuffled.

    Raises:
        UsageError: If ``n`` < 1.
    """
    if n < 1:
        raise UsageError("samples: a CT series needs n >= 1 slices")
    study = study_uid or uid_from_name("ct_series/study")
    series = series_uid or uid_from_name("ct_series/series")
    frame_of_ref = uid_from_name(f"{series}/frame-of-reference")
    slices = [
        make_ct(
            rows=rows,
            columns=columns,
            slope=slope,
            intercept=intercept,
            windows=windows,
            seed=seed + i,
            phi=phi,
            instance=i + 1,
            position_z=start_z + i * slice_spacing,
            series_uid=series,
            study_uid=study,
            frame_of_reference_uid=frame_of_ref,
            sop_instance_uid=uid_from_name(f"{series}/slice/{i + 1}"),
            slice_thickness=slice_spacing,
        )
        for i in range(n)
    ]
    if shuffled_seed is not None:
        slices = [slices[i] for i in _shuffled_indices(n, shuffled_seed)]
    return slices


# --- MR ----------------------------------------------------------------------


def make_mr(
    *,
    rows: int = 64,
    columns: int = 64,
    window: tuple[float, float] | None = (600.0, 1200.0),
    bits_stored: int = 12,
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    instance: int = 1,
    position_z: float = 0.0,
    series_uid: str | None = None,
    study_uid: str | None = None,
    pixel_spacing: tuple[float, float] = (0.9, 0.9),
    noise: int = 20,
    pixels: npt.ArrayLike | None = None,
) -> Dataset:
    """Build an MR Image Storage object (PS3.3 A.4): uint16, one window, a head-like T1 phantom.

    Args:
        rows, columns: Image size (ignored when ``pixels`` is given).
        window: (center, width) for single-valued (0028,1050)/(0028,1051); None for none.
        bits_stored: (0028,0101) Bits Stored (<= 16).
        seed, phi, instance, position_z, series_uid, study_uid: As for :func:`make_ct`.
        pixel_spacing: (0028,0030) Pixel Spacing, mm.
        noise: Amplitude of the uniform noise in stored values.
        pixels: Exact stored values (2-D non-negative integers); replaces the phantom.

    Returns:
        The dataset, Explicit VR Little Endian, with ``file_meta``.

    Raises:
        UsageError: If stored values do not fit ``bits_stored`` or a PHI key is unknown.
    """
    if not 8 <= bits_stored <= 16:
        raise UsageError("samples: MR (0028,0101) BitsStored must be 8..16")
    if pixels is not None:
        arr = _coerce_pixels(pixels, ndim=2, dtype=np.uint16, bits_stored=bits_stored, what="MR")
    else:
        yy, xx = _grid(rows, columns)
        img = np.zeros((rows, columns), dtype=np.int32)
        img[_ellipse(yy, xx, 0.0, 0.0, 0.85, 0.70)] = 900  # scalp fat, bright on T1
        img[_ellipse(yy, xx, 0.0, 0.0, 0.78, 0.63)] = 150  # skull, dark
        img[_ellipse(yy, xx, 0.0, 0.0, 0.72, 0.57)] = 650  # brain
        img[_ellipse(yy, xx, -0.05, -0.12, 0.22, 0.07)] = 200  # ventricles, CSF dark
        img[_ellipse(yy, xx, -0.05, 0.12, 0.22, 0.07)] = 200
        img = img + _uniform_noise(seed, (rows, columns), noise)
        arr = np.clip(img, 0, (1 << bits_stored) - 1).astype(np.uint16)
    study, series = _default_uids("mr", study_uid, series_uid)
    ds = _new_dataset(MRImageStorage, _instance_uid(series, instance, seed))
    _add_common_modules(
        ds,
        modality="MR",
        study_uid=study,
        series_uid=series,
        series_number=1,
        instance=instance,
        frame_of_reference_uid=uid_from_name(f"{study}/frame-of-reference"),
        model="FAKE MR 1",
    )
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "HEAD"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.AcquisitionNumber = 1
    ds.PixelSpacing = [_format_ds(pixel_spacing[0]), _format_ds(pixel_spacing[1])]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    n_rows, n_cols = arr.shape
    ds.ImagePositionPatient = [
        _format_ds(-pixel_spacing[1] * (n_cols - 1) / 2.0),
        _format_ds(-pixel_spacing[0] * (n_rows - 1) / 2.0),
        _format_ds(position_z),
    ]
    ds.SliceThickness = "5"
    # MR Image module, PS3.3 C.8.3.1 (Type 1 and 2 attributes).
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "500"
    ds.EchoTime = "15"
    ds.EchoTrainLength = "1"
    ds.MagneticFieldStrength = "1.5"
    if window is not None:
        ds.WindowCenter = _format_ds(window[0])
        ds.WindowWidth = _format_ds(window[1])
    _set_pixels(ds, arr, "MONOCHROME2", bits_stored)
    _apply_phi(ds, phi)
    return ds


# --- CR ----------------------------------------------------------------------


def make_cr_mono1(
    *,
    rows: int = 96,
    columns: int = 192,
    imager_pixel_spacing: tuple[float, float] = (0.2, 0.1),
    window: tuple[float, float] | None = (2048.0, 4096.0),
    bits_stored: int = 12,
    seed: int = 0,
    phi: Mapping[str, str] | None = None,
    instance: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
    noise: int = 8,
    pixels: npt.ArrayLike | None = None,
) -> Dataset:
    """Build a Computed Radiography Image Storage object (PS3.3 A.2), MONOCHROME1.

    MONOCHROME1 means the minimum stored value displays white (PS3.3 C.7.6.3.1.2):
    the background (direct exposure) is stored high, "bone" low. Pixels are not
    square: (0018,1164) Imager Pixel Spacing is (row spacing, column spacing) =
    ``imager_pixel_spacing`` and there is no (0028,0030) Pixel Spacing. The phantom
    is drawn in millimetres, so its disc is round only after aspect correction; a
    small low-valued (white) square marks the top-left corner for orientation checks.

    Args:
        rows, columns: Image size (ignored when ``pixels`` is given).
        imager_pixel_spacing: mm between row centres, then between column centres.
        window: (center, width) for (0028,1050)/(0028,1051); None for none.
        bits_stored: (0028,0101) Bits Stored (8..16).
        seed, phi, instance, series_uid, study_uid: As for :func:`make_ct`.
        noise: Amplitude of the uniform noise in stored values.
        pixels: Exact stored values (2-D non-negative integers); replaces the phantom.

    Returns:
        The dataset, Explicit VR Little Endian, with ``file_meta``.

    Raises:
        UsageError: If stored values do not fit ``bits_stored`` or a PHI key is unknown.
    """
    if not 8 <= bits_stored <= 16:
        raise UsageError("samples: CR (0028,0101) BitsStored must be 8..16")
    top = (1 << bits_stored) - 1
    if pixels is not None:
        arr = _coerce_pixels(pixels, ndim=2, dtype=np.uint16, bits_stored=bits_stored, what="CR")
    else:
        dy, dx = imager_pixel_spacing
        y_mm = (np.arange(rows) + 0.5) * dy
        x_mm = (np.arange(columns) + 0.5) * dx
        yy, xx = np.meshgrid(y_mm - y_mm.mean(), x_mm - x_mm.mean(), indexing="ij")
        half = min(rows * dy, columns * dx) / 2.0
        img = np.full((rows, columns), int(top * 0.95), dtype=np.int32)
        img[xx**2 + yy**2 <= (0.8 * half) ** 2] = int(top * 0.55)  # round "body" disc in mm
        img[(np.abs(xx) <= 0.12 * half) & (np.abs(yy) <= 0.7 * half)] = int(top * 0.2)  # "bone"
        marker_rows = max(2, rows // 12)
        marker_cols = max(2, int(round(marker_rows * dy / dx)))  # square in mm
        img[:marker_rows, :marker_cols] = int(top * 0.05)
        img = img + _uniform_noise(seed, (rows, columns), noise)
        arr = np.clip(img, 0, top).astype(np.uint16)
    study, series = _default_uids("cr", study_uid, series_uid)
    ds = _new_dataset(ComputedRadiographyImageStorage, _instance_uid(series, instance, seed))
    _add_common_modules(
        ds,
        modality="CR",
        study_uid=study,
        series_uid=series,
        series_number=1,
        instance=instance,
        frame_of_reference_uid=None,
        model="FAKE CR 1",
    )
    # CR Series module, PS3.3 C.8.1.1: both Type 2.
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]  # Type 2C: no Image Orientation (Patient) here
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ImagerPixelSpacing = [_format_ds(imager_pixel_spacing[0]), _format_ds(imager_pixel_spacing[1])]
    ds.KVP = "110"
    if window is not None:
        ds.WindowCenter = _format_ds(window[0])
        ds.WindowWidth = _format_ds(window[1])
    _set_pixels(ds, arr, "MONOCHROME1", bits_stored)
    _apply_phi(ds, phi)
    return ds
