"""docs/figures: made from samples/ by scripts/make_figures.py, still current, and shown in the README."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
FIGURES = REPO / "docs" / "figures"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_figures", REPO / "scripts" / "make_figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_figures_match_a_fresh_run(tmp_path: Path) -> None:
    made = _script().make_figures(tmp_path)
    assert sorted(p.name for p in made) == sorted(p.name for p in FIGURES.glob("*.png"))
    for fresh in made:
        committed = np.asarray(Image.open(FIGURES / fresh.name)).astype(int)
        now = np.asarray(Image.open(fresh)).astype(int)
        assert committed.shape == now.shape, f"{fresh.name}: rerun python scripts/make_figures.py"
        assert np.abs(committed - now).max() <= 2, f"{fresh.name} is stale: rerun python scripts/make_figures.py"


def test_readme_shows_every_figure() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for figure in FIGURES.glob("*.png"):
        assert f"](docs/figures/{figure.name})" in readme
