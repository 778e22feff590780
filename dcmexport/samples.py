"""Synthetic DICOM objects with clearly fake PHI, for the README demo and for tests.

Every factory returns an in-memory :class:`pydicom.dataset.Dataset` that is a
valid Part 10 object (``file_meta`` included, PS3.10 7.1) of the named Storage
SOP Class, carrying the Type 1 and Type 2 attributes of its IOD (PS3.3 A.3 CT,
A.4 MR, A.2 CR, A.7 US Multi-frame) as far as a synthetic object can.

Everything is deterministic: UIDs are ``2.25.<uuid>`` derived from a name
(PS3.5 B.2, name-based UUID version 5), pixel noise comes from a seeded PCG64
*bit generator* (whose raw stream NumPy keeps stable across releases, unlike
the distribution methods of ``Generator``), and nothing reads the clock.
The same library versions therefore give byte-identical files.

All PHI planted here is fake; :func:`planted_phi` lists it so tests can search
output bytes for every value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
)

from dcmexport.errors import UsageError

__all__ = [
    "DEFAULT_BANNER_TEXT",
    "PRIVATE_CREATOR",
    "PRIVATE_GROUP",
    "SAMPLE_DESCRIPTIONS",
    "UltrasoundLayout",
    "compress_jpeg_baseline",
    "iter_samples",
    "make_cr_mono1",
    "make_ct",
    "make_ct_series",
    "make_mr",
    "make_us_gray_cine",
    "make_us_rgb_cine",
    "planted_phi",
    "render_samples_readme",
    "uid_from_name",
    "us_layout",
    "write_dataset",
    "write_samples",
]

#: Private creator of the fake private block, reserved at (0009,0010) (PS3.5 7.8.1).
PRIVATE_CREATOR = "FAKEVENDOR 1.0"
PRIVATE_GROUP = 0x0009
#: Fake name and ID burned into the ultrasound banner (pixel PHI, not an attribute).
DEFAULT_BANNER_TEXT = "DOE^JANE FAKE-MRN-0000"

# A fixed namespace so every UID is a pure function of its name.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "samples.dcmexport.invalid")

# Keys are either a keyword (top-level attribute), "SequenceKeyword/Keyword"
# (attribute in the first item of that sequence) or "(0009,10xx)" (an LO element
# in the FAKEVENDOR private block). Dates and times are distinctive strings so a
# byte search for them cannot hit by accident.
_PLANTED_PHI: dict[str, str] = {
    "PatientName": "FAKE^PATIENT^SAMPLE",
    "PatientID": "FAKE-ID-0001",
    "PatientBirthDate": "19000101",
    "OtherPatientNames": "FAKE^ALIAS^SAMPLE",
    "PatientAddress": "1 Fake Street, Faketown",
    "InstitutionName": "Fake General Hospital",
    "InstitutionAddress": "99 Nowhere Road, Faketown",
    "ReferringPhysicianName": "FAKE^DOCTOR",
    "PerformingPhysicianName": "FAKE^PERFORMER",
    "OperatorsName": "FAKE^OPERATOR",
    "StationName": "FAKESTATION01",
    "DeviceSerialNumber": "FAKE-SN-0001",
    "AccessionNumber": "FAKEACC0001",
    "StudyID": "FAKESTUDY1",
    "StudyDescription": "FAKE STUDY DESCRIPTION",
    "SeriesDescription": "FAKE SERIES DESCRIPTION",
    "ImageComments": "FAKE COMMENT ABOUT FAKE PATIENT",
    "StudyDate": "20010203",
    "SeriesDate": "20010204",
    "AcquisitionDate": "20010205",
    "ContentDate": "20010206",
    "InstanceCreationDate": "20010207",
    "StudyTime": "101112",
    "SeriesTime": "101113",
    "AcquisitionTime": "101114",
    "ContentTime": "101115",
    "InstanceCreationTime": "101116",
    "OtherPatientIDsSequence/PatientID": "FAKE-OTHER-ID-0002",
    "OtherPatientIDsSequence/IssuerOfPatientID": "FAKE ISSUER",
    "RequestAttributesSequence/RequestedProcedureID": "FAKEREQ0001",
    "RequestAttributesSequence/ScheduledProcedureStepID": "FAKESPS0001",
    # Not part of the Request Attributes Macro (PS3.3 Table 10-9): a standard
    # extended attribute, planted so a nested PN must be found by recursion.
    "RequestAttributesSequence/RequestingPhysician": "FAKE^REQUESTER",
    "(0009,1001)": "FAKE^PRIVATE^NAME",
    "(0009,1002)": "FAKE-PRIVATE-ID-0003",
}

_PRIVATE_KEY = re.compile(r"^\((0009),10([0-9A-Fa-f]{2})\)$")


def planted_phi() -> dict[str, str]:
    """Return the fake PHI planted in every synthetic object by default.

    Keys are a keyword (top-level attribute), ``"SequenceKeyword/Keyword"`` (an
    attribute in the first item of that sequence) or ``"(0009,10xx)"`` (an LO
    element of the ``FAKEVENDOR 1.0`` private block at (0009,0010)). The same key
    syntax is accepted by the ``phi`` parameter of every factory.

    Returns:
        A fresh dict (callers may mutate it) of key -> fake value.
    """
    return dict(_PLANTED_PHI)


def uid_from_name(name: str) -> str:
    """Return a deterministic ``2.25.<int>`` UID for ``name``.

    Args:
        name: Any string; equal names give equal UIDs.

    Returns:
        A UID of at most 44 characters, from a name-based (version 5) UUID as
        PS3.5 B.2 allows under the ``2.25`` root.
    """
    return f"2.25.{uuid.uuid5(_UUID_NAMESPACE, name).int}"


_IMPLEMENTATION_CLASS_UID = uid_from_name("dcmexport.samples.implementation")
_IMPLEMENTATION_VERSION_NAME = "DCMEXPORT_SMPL"  # SH, at most 16 characters


# --- deterministic numbers -------------------------------------------------


def _raw_stream(seed: int, count: int) -> npt.NDArray[np.uint64]:
    # PCG64.random_raw is a stable stream; Generator.normal/integers are not
    # guaranteed to stay bit-identical across NumPy releases.
    return np.random.PCG64(seed).random_raw(count)


def _uniform_noise(seed: int, shape: tuple[int, ...], amplitude: int) -> npt.NDArray[np.int32]:
    """Integer noise, uniform in [-amplitude, amplitude], from the stable raw stream."""
    count = int(np.prod(shape))
    if amplitude <= 0 or count == 0:
        return np.zeros(shape, dtype=np.int32)
    raw = _raw_stream(seed, count)
    values = (raw % np.uint64(2 * amplitude + 1)).astype(np.int32) - amplitude
    return values.reshape(shape)


def _shuffled_indices(n: int, seed: int) -> list[int]:
    """Fisher-Yates on the stable raw stream (``random.shuffle`` may change across Pythons)."""
    order = list(range(n))
    raw = _raw_stream(seed, max(n, 1))
    for i in range(n - 1, 0, -1):
        j = int(raw[i] % np.uint64(i + 1))
        order[i], order[j] = order[j], order[i]
    return order


# --- geometry helpers ------------------------------------------------------


def _grid(rows: int, columns: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixel-centre coordinates normalised to [-1, 1] along each axis (y, x)."""
    y = (np.arange(rows, dtype=np.float64) + 0.5) / rows * 2.0 - 1.0
    x = (np.arange(columns, dtype=np.float64) + 0.5) / columns * 2.0 - 1.0
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return yy, xx


def _ellipse(
    yy: npt.NDArray[np.float64],
    xx: npt.NDArray[np.float64],
    cy: float,
    cx: float,
    ry: float,
    rx: float,
) -> npt.NDArray[np.bool_]:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _format_ds(value: float) -> str:
    # Shortest exact-looking decimal string; keeps DS within 16 characters.
    text = f"{value:.10g}"
    if len(text) > 16:
        text = f"{value:.8g}"
    return text


# --- dataset scaffolding ---------------------------------------------------


def _new_dataset(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    """A dataset with Part 10 file meta (PS3.10 7.1) and the SOP Common module."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(_IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = _IMPLEMENTATION_VERSION_NAME
    ds = Dataset()
    ds.file_meta = meta
    # SOP Common module, PS3.3 C.12.1: ISO_IR 100 covers every fake value here.
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = UID(sop_class_uid)
    ds.SOPInstanceUID = UID(sop_instance_uid)
    return ds


def _add_common_modules(
    ds: Dataset,
    *,
    modality: str,
    study_uid: str,
    series_uid: str,
    series_number: int,
    instance: int,
    frame_of_reference_uid: str | None,
    model: str,
) -> None:
    """Patient, General Study, General Series, (Frame of Reference), General Equipment,
    General Image: the Type 1/2 attributes that are not PHI (PHI comes from ``_apply_phi``)."""
    ds.PatientSex = "O"  # Type 2 (PS3.3 C.7.1.1); "O" = other, not a patient characteristic
    # Other Patient IDs Sequence items need Type 1 Type of Patient ID; the fake
    # IDs themselves are planted by _apply_phi.
    other_id = Dataset()
    other_id.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = DicomSequence([other_id])
    ds.StudyInstanceUID = UID(study_uid)
    ds.Modality = modality
    ds.SeriesInstanceUID = UID(series_uid)
    ds.SeriesNumber = series_number
    if frame_of_reference_uid is not None:
        ds.FrameOfReferenceUID = UID(frame_of_reference_uid)
        ds.PositionReferenceIndicator = ""  # Type 2, PS3.3 C.7.4.1
    ds.Manufacturer = "FAKEVENDOR"
    ds.ManufacturerModelName = model
    ds.SoftwareVersions = "0.0-synthetic"
    ds.InstanceNumber = instance


def _apply_phi(ds: Dataset, phi: Mapping[str, str] | None) -> None:
    """Plant the default fake PHI, overridden/extended by ``phi`` (see :func:`planted_phi`)."""
    values = planted_phi()
    if phi is not None:
        values.update(phi)
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    for key, value in values.items():
        private = _PRIVATE_KEY.match(key)
        if private is not None:
            block.add_new(int(private.group(2), 16), "LO", value)
            continue
        parts = key.split("/")
        if len(parts) > 2 or any(tag_for_keyword(p) is None for p in parts):
            raise UsageError(
                f"samples: unknown PHI key {key!r}; use a DICOM keyword, 'SequenceKeyword/Keyword' "
                "or '(0009,10xx)'"
            )
        target = ds
        if len(parts) == 2:
            seq_keyword, keyword = parts
            if dictionary_VR(seq_keyword) != "SQ":
                raise UsageError(f"samples: PHI key {key!r} must start with a sequence keyword")
            if seq_keyword not in ds or len(ds[seq_keyword].value) == 0:
                setattr(ds, seq_keyword, DicomSequence([Dataset()]))
            target = ds[seq_keyword].value[0]
        else:
            keyword = parts[0]
        setattr(target, keyword, value)


def _set_pixels(ds: Dataset, arr: npt.NDArray[np.generic], photometric: str, bits_stored: int) -> None:
    # pydicom's own helper sets the whole Image Pixel module consistently
    # (Rows, Columns, Samples, Bits*, Pixel Representation, Planar Configuration).
    ds.set_pixel_data(arr, photometric, bits_stored, generate_instance_uid=False)


def _check_fits(arr: npt.NDArray[np.generic], bits_stored: int, signed: bool, what: str) -> None:
    lo = -(1 << (bits_stored - 1)) if signed else 0
    hi = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise UsageError(
            f"samples: {what} values outside [{lo}, {hi}] for (0028,0101) BitsStored {bits_stored}; "
            "pass values that fit or raise bits_stored"
        )


def _coerce_pixels(
    pixels: npt.ArrayLike, *, ndim: int, dtype: type[np.integer], bits_stored: int, what: str
) -> npt.NDArray[np.generic]:
    arr = np.asarray(pixels)
    if arr.ndim != ndim:
        raise UsageError(f"samples: {what} pixels must have {ndim} dimensions, got {arr.ndim}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"samples: {what} pixels must be integers (stored values), got {arr.dtype}")
    _check_fits(arr, bits_stored, np.issubdtype(dtype, np.signedinteger), what)
    return np.ascontiguousarray(arr.astype(dtype))


def _default_uids(kind: str, study_uid: str | None, series_uid: str | None) -> tuple[str, str]:
    return (
        study_uid if study_uid is not None else uid_from_name(f"{kind}/study"),
        series_uid if series_uid is not None else uid_from_name(f"{kind}/series"),
    )


def _instance_uid(series_uid: str, instance: int, seed: int) -> str:
    return uid_from_name(f"{series_uid}/instance/{instance}/seed/{seed}")


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


# --- files -------------------------------------------------------------------


def write_dataset(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (PS3.10 7.1), creating parent folders.

    Args:
        ds: A dataset with ``file_meta`` (as every factory here returns).
        path: Destination file; overwritten if it exists.

    Returns:
        ``path``.

    Raises:
        ValueError: From pydicom, if the file meta information is incomplete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


#: Every file under samples/ (relative path) and what it exercises; the README is
#: generated from this table, so the two cannot drift apart.
SAMPLE_DESCRIPTIONS: dict[str, str] = {
    "ct_two_windows.dcm": (
        "CT Image Storage, 256x256 int16, Rescale Slope 1 / Intercept -1024 (HU), two VOI windows "
        "(soft tissue 40/400, lung -600/1500) in multi-valued Window Center/Width; Pixel Spacing, "
        "Image Position/Orientation (Patient)."
    ),
    "mr.dcm": "MR Image Storage, 256x256 uint16 (12 bits stored), one VOI window, head-like T1 phantom.",
    "cr_monochrome1.dcm": (
        "Computed Radiography, 256x512 MONOCHROME1 (low value = white), non-square Imager Pixel Spacing "
        "[0.2, 0.1] mm and no Pixel Spacing: the disc is round only after aspect correction; a white "
        "square marks the top-left corner."
    ),
    "us_rgb_cine.dcm": (
        "Ultrasound Multi-frame, RGB 240x320 x 24 frames, RLE Lossless, Frame Time 40 ms via Frame "
        "Increment Pointer, one Ultrasound Region (cm, 0.03 cm/pixel); the fake name "
        f"'{DEFAULT_BANNER_TEXT}' is burned into a top banner outside the region (Burned In Annotation YES)."
    ),
    "us_gray_cine.dcm": (
        "Ultrasound Multi-frame, MONOCHROME2 8-bit 256x256 x 30 frames, RLE Lossless, timed only by "
        "Cine Rate 15 (no Frame Time), no regions, Burned In Annotation NO."
    ),
    "ct_series/": (
        "One CT series of 5 slices (128x128) sharing Study/Series/Frame of Reference UIDs; file names "
        "slice_1..5 are in shuffled order, so correct ordering must come from Image Position (Patient) "
        "z / Instance Number."
    ),
}


def iter_samples() -> Iterator[tuple[str, Dataset]]:
    """Yield ``(relative path, dataset)`` for every file under ``samples/``.

    Returns:
        An iterator in a fixed order; paths use ``/`` separators.
    """
    yield "ct_two_windows.dcm", make_ct(rows=256, columns=256)
    yield "mr.dcm", make_mr(rows=256, columns=256)
    yield "cr_monochrome1.dcm", make_cr_mono1(rows=256, columns=512)
    yield "us_rgb_cine.dcm", make_us_rgb_cine(rows=240, columns=320, frames=24, compress=True)
    yield "us_gray_cine.dcm", make_us_gray_cine(rows=256, columns=256, frames=30, cine_rate=15, compress=True)
    for position, ds in enumerate(make_ct_series(5, rows=128, columns=128, shuffled_seed=7), start=1):
        yield f"ct_series/slice_{position}.dcm", ds


def render_samples_readme() -> str:
    """Return the text of ``samples/README.md``, generated from :data:`SAMPLE_DESCRIPTIONS`.

    Returns:
        Markdown text ending in a newline.
    """
    phi_lines = "\n".join(f"| `{key}` | `{value}` |" for key, value in _PLANTED_PHI.items())
    file_lines = "\n".join(f"| `{name}` | {text} |" for name, text in SAMPLE_DESCRIPTIONS.items())
    return (
        "# samples/\n\n"
        "Synthetic DICOM objects for the README demo and for tests. **All PHI in these files is fake**: "
        "it was invented by `dcmexport/samples.py`, belongs to no person, and is planted so that the "
        "de-identifier has visible work to do.\n\n"
        "Regenerate (deterministic, byte-identical for the same pydicom/NumPy/Pillow versions):\n\n"
        "```\npython scripts/make_samples.py            # writes samples/\n"
        "python scripts/make_samples.py --out DIR  # anywhere else\n```\n\n"
        "This file is generated too; edit `SAMPLE_DESCRIPTIONS` in `dcmexport/samples.py`, not this file.\n\n"
        "## Files\n\n| file | what it exercises |\n| --- | --- |\n"
        f"{file_lines}\n\n"
        "## Planted fake PHI (in every file)\n\n"
        "Keys: a DICOM keyword, `Sequence/Keyword` (first item of that sequence), or a tag in the "
        f"`{PRIVATE_CREATOR}` private block at (0009,0010). UIDs are `2.25.` UUID-derived from fixed "
        "names.\n\n| key | fake value |\n| --- | --- |\n"
        f"{phi_lines}\n"
    )


def write_samples(out_dir: Path) -> list[Path]:
    """Write every sample of :func:`iter_samples` and ``README.md`` under ``out_dir``.

    Args:
        out_dir: Destination folder (created if missing).

    Returns:
        The written paths, README last.
    """
    out_dir = Path(out_dir)
    written = [write_dataset(ds, out_dir / name) for name, ds in iter_samples()]
    readme = out_dir / "README.md"
    readme.write_text(render_samples_readme(), encoding="utf-8", newline="\n")
    written.append(readme)
    return written
