"""Synthetic DICOM objects with clearly fake PHI, for the README demo, the tests and the benchmarks.

Every factory returns an in-memory :class:`pydicom.dataset.Dataset` that is a
valid Part 10 object (``file_meta`` included, PS3.10 7.1) of the named Storage
SOP Class, carrying the Type 1 and Type 2 attributes of its IOD (PS3.3 A.3 CT,
A.4 MR, A.2 CR, A.7 US Multi-frame) as far as a synthetic object can.

Everything is deterministic (see :mod:`.common`): the same library versions
give byte-identical files. ``scripts/make_samples.py`` writes ``samples/`` from
:func:`write_samples`.

All PHI planted here is fake; :func:`planted_phi` lists it so tests can search
output bytes for every value.

This is test code: it is not part of the installed ``dcmexport`` package.
"""

from __future__ import annotations

from .catalog import SAMPLE_DESCRIPTIONS, iter_samples, render_samples_readme, write_samples
from .common import (
    DEFAULT_BANNER_TEXT,
    PRIVATE_CREATOR,
    PRIVATE_GROUP,
    planted_phi,
    uid_from_name,
    write_dataset,
)
from .single_frame import make_cr_mono1, make_ct, make_ct_series, make_mr
from .ultrasound import (
    UltrasoundLayout,
    compress_jpeg_baseline,
    make_us_gray_cine,
    make_us_rgb_cine,
    us_layout,
)

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
