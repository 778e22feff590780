"""Compare the renderer with dcmtk's dcm2pnm (an independent VOI implementation).

Skipped when ``dcm2pnm`` is not installed (``apt-get install dcmtk``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from dcmexport.options import RenderOptions, VoiFunction, Window
from dcmexport.render import renderer_from_dataset

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(shutil.which("dcm2pnm") is None, reason="dcm2pnm (dcmtk) not installed"),
]


def _dcm2pnm(path: Path, args: list[str], tmp_path: Path) -> np.ndarray:
    out = tmp_path / "oracle.pgm"
    subprocess.run(["dcm2pnm", *args, str(path), str(out)], check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out))


def _ours(path: Path, options: RenderOptions) -> np.ndarray:
    ds = pydicom.dcmread(path)
    return renderer_from_dataset(ds, options).render(ds.pixel_array)


def _file(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available")
    return Path(path)


@pytest.mark.parametrize(
    ("name", "args", "options"),
    [
        ("CT_small.dcm", ["+Ww", "40", "400"], RenderOptions(window=Window(40, 400))),
        ("CT_small.dcm", ["+Ww", "-600", "1500"], RenderOptions(window=Window(-600, 1500))),
        (
            "CT_small.dcm",
            ["+Ww", "40", "400", "+Wfs"],
            RenderOptions(window=Window(40, 400, VoiFunction.SIGMOID)),
        ),
        ("MR_small.dcm", ["+Wi", "1"], RenderOptions()),
        ("RG3_UNCI.dcm", ["+Wi", "1"], RenderOptions()),  # MONOCHROME1
    ],
)
def test_matches_dcm2pnm_within_one_level(
    name: str, args: list[str], options: RenderOptions, tmp_path: Path
) -> None:
    path = _file(name)
    ours = _ours(path, options).astype(int)
    theirs = _dcm2pnm(path, args, tmp_path).astype(int)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1
    assert ours.std() > 10  # a real image, not a flat field that would trivially agree
