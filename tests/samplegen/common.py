"""What every synthetic object shares: the fake PHI, deterministic UIDs and noise, Part 10 scaffolding, writing.

Everything is deterministic: UIDs are ``2.25.<uuid>`` derived from a name
(PS3.5 B.2, name-based UUID version 5), pixel noise comes from a seeded PCG64
*bit generator* (whose raw stream NumPy keeps stable across releases, unlike
the distribution methods of ``Generator``), and nothing reads the clock.
The same library versions therefore give byte-identical files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
)

from dcmexport.errors import UsageError

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


# The name dates from when this generator was dcmexport/samples.py; a new one would change every sample.
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
