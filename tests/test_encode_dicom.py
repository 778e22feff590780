"""write_part10 writes exactly pydicom's bytes, on every real file we have, before and after de-identification."""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement

from dcmexport.deid import Deidentifier, DeidOptions, Key
from dcmexport.encode.dicom import _fast_plan, write_part10
from dcmexport.read import read_dataset
from tests.test_deid_realdata import FILES


def _pydicom_bytes(path: Path, deid: Deidentifier | None) -> bytes | None:
    try:
        ds = read_dataset(path)
        if deid is not None:
            deid.deidentify(ds)
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
    except Exception:  # noqa: BLE001 - files pydicom itself cannot write are not this test's business
        return None
    return buf.getvalue()


@pytest.mark.parametrize("deidentify", [False, True], ids=["as-read", "deidentified"])
def test_same_bytes_as_pydicom_on_real_files(tmp_path: Path, deidentify: bool) -> None:
    deid = Deidentifier(DeidOptions(), Key(b"writer-identity-key-0123456789ab")) if deidentify else None
    compared = fast = 0
    out = tmp_path / "out.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in FILES:
            expected = _pydicom_bytes(path, deid)
            if expected is None:
                continue
            ds = read_dataset(path)
            if deid is not None:
                deid.deidentify(ds)
            fast += _fast_plan(ds) is not None
            write_part10(ds, out)
            assert out.read_bytes() == expected, path.name
            compared += 1
    # The comparison must cover many files, and most of them on the fast path (not the fallback).
    assert compared >= 200
    assert fast >= 0.8 * compared


def test_unchanged_elements_are_copied_raw_and_changed_ones_encoded(tmp_path: Path) -> None:
    path = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"
    ds = read_dataset(path)
    ds.PatientName = "Changed^Name"  # a converted element written by pydicom's encoder
    raw_before = sum(isinstance(e, RawDataElement) for e in ds._dict.values())
    assert raw_before > 20
    write_part10(ds, tmp_path / "a.dcm")
    back = pydicom.dcmread(tmp_path / "a.dcm")
    assert back.PatientName == "Changed^Name"
    assert back.pixel_array.tobytes() == pydicom.dcmread(path).pixel_array.tobytes()
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_fallback_when_the_transfer_syntax_changes_the_encoding(tmp_path: Path) -> None:
    path = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"  # explicit VR little endian
    ds = read_dataset(path)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    assert _fast_plan(ds) is None
    expected = BytesIO()
    ds.save_as(expected, enforce_file_format=True)
    ds = read_dataset(path)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    write_part10(ds, tmp_path / "b.dcm")
    assert (tmp_path / "b.dcm").read_bytes() == expected.getvalue()
    assert pydicom.dcmread(tmp_path / "b.dcm").file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian


def _meta_variants() -> dict[str, bytes]:
    """CT_small.dcm with its File Meta Information altered in ways pydicom's validation completes or keeps."""
    source = read_dataset(Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm")
    buf = BytesIO()
    source.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    variants = {"as-is": data}
    for name, edit in {
        "no-version-name": lambda m: m.pop(0x00020013),
        "no-version": lambda m: m.pop(0x00020001),
        "empty-class-uid": lambda m: setattr(m, "ImplementationClassUID", ""),
        "other-media-class": lambda m: setattr(m, "MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.4"),
    }.items():
        ds = pydicom.dcmread(BytesIO(data))
        edit(ds.file_meta)
        out = BytesIO()
        ds.save_as(out, enforce_file_format=False)  # written as altered, not completed
        variants[name] = out.getvalue()
    return variants


@pytest.mark.parametrize("name", ["as-is", "no-version-name", "no-version", "empty-class-uid", "other-media-class"])
def test_file_meta_completed_and_synced_as_pydicom_does(tmp_path: Path, name: str) -> None:
    # write_part10 skips pydicom's validate_file_meta only when it would change nothing
    # (encode.dicom._meta_complete); every other meta goes through it, with the same result.
    data = _meta_variants()[name]
    expected = BytesIO()
    pydicom.dcmread(BytesIO(data)).save_as(expected, enforce_file_format=True)
    ds = read_dataset(tmp_path / "unused", data)
    assert _fast_plan(ds) is not None
    write_part10(ds, tmp_path / "out.dcm")
    assert (tmp_path / "out.dcm").read_bytes() == expected.getvalue()
    back = pydicom.dcmread(tmp_path / "out.dcm")
    assert back.file_meta.MediaStorageSOPClassUID == back.SOPClassUID  # synced from the dataset
    assert back.file_meta.ImplementationVersionName and back.file_meta.ImplementationClassUID


def test_a_dataset_read_unlike_its_transfer_syntax_is_written_as_declared(tmp_path: Path) -> None:
    """pydicom's SC_rgb_jpeg.dcm: JPEG Baseline (explicit VR) whose dataset is written in implicit VR.

    pydicom reads it as found but its writer copies the raw implicit elements into an
    explicit VR file (TypeError); the elements are converted first and written explicit.
    """
    from pydicom.data import get_testdata_file

    path = Path(get_testdata_file("SC_rgb_jpeg.dcm"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = pydicom.dcmread(path)
        ds = read_dataset(path)
    write_part10(ds, tmp_path / "c.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Expected explicit VR, but found implicit VR" would raise
        back = pydicom.dcmread(tmp_path / "c.dcm")
        assert back.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
        assert [(e.tag, e.VR, e.value) for e in back] == [(e.tag, e.VR, e.value) for e in original]
        assert (back.pixel_array == original.pixel_array).all()
