"""Shared fixtures: real DICOM from pydicom's test files, pydicom-data and deid-data."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest


def pydicom_test_files() -> list[Path]:
    """pydicom's own test files (shipped in the wheel) that look like DICOM objects.

    Globbed from the package folder: ``pydicom.data.get_testdata_files`` also
    consults remote sources and may try to download (never, here).
    """
    import pydicom.data

    return sorted((Path(pydicom.data.__file__).parent / "test_files").glob("*.dcm"))


@pytest.fixture(autouse=True, scope="session")
def _no_network_downloads() -> None:
    """pydicom can download missing test data; dcmexport and its tests run offline, always."""
    import pydicom.data.data_manager as dm

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("network access is disabled in dcmexport's tests")

    dm.data_path_with_download = refuse  # type: ignore[assignment]


def pydicom_data_files() -> list[Path]:
    """pydicom-data's files (``import data_store``), which the test extra installs."""
    data_store = pytest.importorskip("data_store")
    root = Path(data_store.__file__).parent / "data"
    return sorted(root.glob("*.dcm"))


def deid_data_root() -> Path:
    deid_data = pytest.importorskip("deid_data")
    return Path(deid_data.__file__).parent / "data"


def deid_data_files() -> list[Path]:
    return sorted(deid_data_root().rglob("*.dcm"))


def data_store_file(name: str) -> Path:
    path = next((p for p in pydicom_data_files() if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} not in pydicom-data")
    return path


@pytest.fixture(scope="session")
def deid_cine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deid-data's two cine archives (RGB_CINE.zip, GREYSCALE_CINE.zip) unzipped once per session."""
    target = tmp_path_factory.mktemp("deid_cines")
    for archive in sorted((deid_data_root() / "ultrasounds").glob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target / archive.stem)
    return target


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "samples"
