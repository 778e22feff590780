"""Objects shared by the mask tests: real files (deid-data, pydicom-data) and small synthetic datasets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dcmexport.options import MaskOptions

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path("/work/shared/reference")
FLAGS = ("--mask X,Y,W,H", "--mask-file", "--accept-burned-in")
NO_PRESETS = MaskOptions(use_presets=False)


def deid_us(name: str) -> Path:
    deid_data = pytest.importorskip("deid_data")
    path = Path(deid_data.__file__).parent / "data" / "ultrasounds" / name
    if not path.is_file():
        pytest.skip(f"deid-data lacks {name}")
    return path


def pydicom_data(name: str) -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    if found is None:
        pytest.skip(f"pydicom-data lacks {name}")
    return Path(str(found))


def synthetic(
    modality: str = "CT",
    rows: int = 64,
    columns: int = 80,
    *,
    photometric: str = "MONOCHROME2",
    **attrs: object,
) -> Dataset:
    """A small uncompressed single-frame dataset; PatientName is a planted PHI value."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "Planted^Secret"
    ds.Modality = modality
    samples = 3 if photometric == "RGB" else 1
    shape = (rows, columns, 3) if samples == 3 else (rows, columns)
    arr = (np.arange(int(np.prod(shape))) % 200 + 20).astype(np.uint8).reshape(shape)
    ds.set_pixel_data(arr, photometric, 8, generate_instance_uid=False)
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def roundtrip(ds: Dataset) -> Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf)


def frames_of(ds: Dataset) -> np.ndarray:
    """All frames as (frames, rows, columns[, samples]), RGB for colour."""
    arr = ds.pixel_array
    single = arr.ndim == (2 if int(ds.SamplesPerPixel) == 1 else 3)
    return arr[np.newaxis] if single else arr
