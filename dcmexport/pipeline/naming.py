"""Where an object's outputs go: the default digest names, or the ``--layout`` template.

Both are decided after de-identification, from non-PHI material only: the default
stem is a digest of the SOP Instance UID pseudonym and the input bytes
(:func:`~dcmexport.pipeline.frames.output_stem`); a layout is filled from the
de-identified dataset (:mod:`dcmexport.layout`) and ends with part of that stem.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from dcmexport.layout import fill_layout, layout_path
from dcmexport.options import ExportOptions


def output_base(options: ExportOptions, deidentified: Dataset, stem: str) -> Path:
    """The path of an object's outputs without suffix: ``<out>/<stem>``, or its ``--layout`` path.

    Args:
        options: the run's options (``out_dir``, ``layout``).
        deidentified: the object's DE-IDENTIFIED dataset (a layout is filled from it).
        stem: the default output stem.

    Raises:
        LayoutError: the layout cannot be filled for this object (the object fails, the batch goes on).
    """
    if options.layout is None:
        return options.out_dir / stem
    return layout_path(options.out_dir, fill_layout(options.layout, deidentified, stem))


def named(base: Path, tail: str) -> Path:
    """``base`` with ``tail`` (``_f0001.png``, ``.dcm``) appended to its name (dots in the name are kept)."""
    return base.with_name(base.name + tail)


def make_parents(paths: Iterable[Path], out_dir: Path) -> None:
    """Create the folders a layout puts outputs in (inside ``out_dir``; ``out_dir`` itself exists)."""
    for parent in {p.parent for p in paths}:
        if parent != out_dir:
            parent.mkdir(parents=True, exist_ok=True)
