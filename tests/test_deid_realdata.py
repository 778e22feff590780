"""Every real file of pydicom, pydicom-data and deid-data de-identifies without leaking its
PatientName, PatientID or instance UIDs into the written bytes."""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from dcmexport.deid import Deidentifier, DeidOptions, Key, load_profile
from dcmexport.deid.table import load_table
from dcmexport.errors import DeidentificationError

#: Attributes the table remaps (U): their values are instance UIDs and must not survive.
_U_TAGS = frozenset(e.value for e in load_table().entries if e.match == "exact" and e.basic in ("U", "X/Z/U*"))
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def _files() -> list[Path]:
    import pydicom.data

    # the package folder, not get_testdata_files(): that one also consults remote sources
    files = {p for p in (Path(pydicom.data.__file__).parent / "test_files").rglob("*") if p.is_file()}
    for module in ("data_store", "deid_data"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        root = Path(mod.__file__).parent / "data"
        files |= {p for p in root.rglob("*") if p.is_file() and (module == "data_store" or p.suffix == ".dcm")}
    return sorted(files)


FILES = _files()


def _secrets(ds: pydicom.Dataset) -> set[bytes]:
    out: set[bytes] = set()
    for tag in (0x00100010, 0x00100020):
        elem = ds.get(tag)
        if elem is not None and not elem.is_empty:
            out.add(str(elem.value).encode("utf-8", "ignore"))
    for elem in ds.iterall():
        if elem.tag in _U_TAGS and elem.VR == "UI" and not elem.is_empty:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            out |= {str(v).encode() for v in values}
    # Values that legitimately stay elsewhere: the implementation class UID in the file meta
    # (DCMTK writes the same UID as Instance Creator UID) and substrings of our dummy values.
    meta = getattr(ds, "file_meta", None)
    impl = str(meta.get("ImplementationClassUID", "")).encode() if meta is not None else b""
    constants = b"20000101000000 ANONYMIZED"
    return {s for s in out if len(s.strip(b" \0")) >= 4 and s != impl and s not in constants}


def _write_without_pixels(ds: pydicom.Dataset) -> bytes:
    # Pixel bytes are the mask stage's business, and random pixel bytes can spell a short ID.
    for tag in _PIXEL_TAGS:
        if tag in ds:
            del ds[tag]
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.mark.parametrize("options", [DeidOptions(), load_profile("research")], ids=["basic", "research"])
def test_real_files_do_not_leak(options: DeidOptions) -> None:
    d = Deidentifier(options, Key(b"real-data-sweep-key-0123456789ab"))
    checked, skipped, refused = 0, [], []
    for path in FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(path)
                secrets = _secrets(ds)
            except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError, AttributeError,
                    NotImplementedError) as exc:
                skipped.append((path.name, f"unreadable: {type(exc).__name__}"))
                continue
            try:
                d.deidentify(ds)
            except DeidentificationError:
                refused.append(path.name)  # fail closed is an allowed outcome
                continue
            try:
                out = _write_without_pixels(ds)
            except (TypeError, ValueError, OverflowError) as exc:
                # Only acceptable when the ORIGINAL cannot be written either (broken test file).
                original = pydicom.dcmread(path)
                with pytest.raises(Exception):  # noqa: B017
                    _write_without_pixels(original)
                skipped.append((path.name, f"original not writable: {type(exc).__name__}"))
                continue
        leaked = [s for s in secrets if s in out]
        assert not leaked, f"{path.name}: {len(leaked)} identifying values survived"
        checked += 1
    assert checked >= 200, (checked, skipped[:5])
    # The refusals must be the objects without a SOP Instance UID (DICOMDIRs, fragments).
    assert all("DICOMDIR" in n or n.endswith(".dcm") for n in refused)
    assert len(refused) <= 20
