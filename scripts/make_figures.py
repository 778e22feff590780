#!/usr/bin/env python
"""Write the README's example figures (docs/figures/*.png) from samples/, with dcmexport itself.

Each figure is an ordinary export of a synthetic sample (all PHI in samples/ is
fake), made through :func:`dcmexport.api.export` with a fixed key, so the
script doubles as a worked example of the figure options:

* ``slide-lung-scale-bar.png``: the CT sample in the ``lung`` window preset,
  zoomed for a slide, with a scale bar from its Pixel Spacing;
* ``figure-presentation-state.png``: the same slice as a radiologist saved it,
  through a Grayscale Softcopy Presentation State built here (mediastinal
  window, displayed area, an arrow, an ellipse, a circle and a text label,
  burned in with ``--annotations text``) and a scale bar;
* ``crop-mm-scale-bar.png``: the MR sample cropped in millimetres, zoomed,
  with a 1 cm bar.

``tests/test_docs_figures.py`` re-runs this into a temporary folder and checks
the committed images still match.

Usage: python scripts/make_figures.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
OUT = REPO / "docs" / "figures"
KEY = b"make-figures-key-not-a-secret-0123456789"  # fixed: the same outputs every run

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _export(inputs: list[Path], work: Path, name: str, out_dir: Path, **options: object) -> Path:
    from dcmexport import api
    from dcmexport.deid import Key

    key_file = work / "key.bin"
    key_file.write_bytes(KEY)
    target = work / name
    batch = api.export(inputs, target, key=Key.from_file(key_file), format="png", **options)
    written = [r for r in batch.results if r.outputs]
    if batch.exit_code != 0 or len(written) != 1:
        reasons = [r.reason for r in batch.results if r.reason and r.status != "skipped"]
        raise SystemExit(f"{name}: export failed: {reasons}")
    final = out_dir / f"{name}.png"
    shutil.copyfile(written[0].outputs[0], final)
    return final


def _presentation_state(image_path: Path, target: Path) -> Path:
    """A GSPS for the CT sample: mediastinal window, a displayed area, an arrow, a circle, an ellipse, a label."""
    import pydicom

    from tests.gspsgen import Area, Graphic, Layer, Text, make_gsps, write

    image = pydicom.dcmread(image_path)
    # Stored-pixel coordinates (PIXEL units) of the 256 x 256 CT sample: the nodule in the right lung
    # (image left) is centred near column 76, row 108; the dense disc near column 128, row 186.
    tip = (84.0, 100.0)
    layer = Layer(
        name="FINDINGS",
        grey=65535,
        graphics=[
            Graphic("POLYLINE", [(118.0, 66.0), tip]),
            Graphic("POLYLINE", [(86.0, 91.0), tip, (93.0, 98.0)]),  # the arrow's head
            Graphic("CIRCLE", [(76.0, 108.5), (86.0, 108.5)]),
            Graphic("ELLIPSE", [(104.0, 186.0), (153.0, 186.0), (128.5, 166.0), (128.5, 206.0)]),
        ],
        texts=[Text("nodule", box=(100.0, 42.0, 164.0, 62.0), justification="CENTER")],
    )
    state = make_gsps(image, window=(50, 350), rescale=(1, -1024), areas=[Area((17, 17), (240, 240))],
                      layers=[layer], label="FIGURE")
    return write(state, target)


def make_figures(out_dir: Path = OUT) -> list[Path]:
    """Write every figure into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ct = SAMPLES / "ct_two_windows.dcm"
    mr = SAMPLES / "mr.dcm"
    with tempfile.TemporaryDirectory(prefix="dcmexport-figures-") as tmp:
        work = Path(tmp)
        made = [_export([ct], work, "slide-lung-scale-bar", out_dir, window="lung", zoom=2, scale_bar="auto")]
        states = work / "with-state"
        states.mkdir()
        shutil.copyfile(ct, states / "ct.dcm")
        _presentation_state(ct, states / "state.dcm")
        made.append(_export([states], work, "figure-presentation-state", out_dir, presentation_state="auto",
                            annotations="text", zoom=2, scale_bar="auto"))
        made.append(_export([mr], work, "crop-mm-scale-bar", out_dir, crop_mm="40,50,120,100", zoom=3,
                            scale_bar="1cm", scale_bar_corner="bottom-left"))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the figures (default docs/figures)")
    args = parser.parse_args(argv)
    for path in make_figures(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
