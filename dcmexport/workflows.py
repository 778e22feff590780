"""Workflow presets (``--preset NAME``): TOML files under ``presets/workflows/``.

Each file has a ``description`` and an ``[export]`` table whose keys are
:func:`dcmexport.api.build_options` parameters. Command-line flags given
explicitly win over the preset.
"""

from __future__ import annotations

from typing import Any

from dcmexport.errors import PresetError
from dcmexport.presets import iter_preset_files, preset_path, read_toml

#: Keys a workflow may set, and the Python type each must have.
ALLOWED_KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "bit_depth": int,
    "aspect": bool,
    "max_side": int,
    "quality": int,
    "crf": int,
    "fps": (int, float),
    "frames": (str, int),
    "window_index": int,
    "series": bool,
    "montage": bool,
    "max_size": str,
    "max_fps": (int, float),
    "speed": (int, float),
    "loop": int,
    "lossless": bool,
    "dpi": (int, float),
    "width_mm": (int, float),
}


def list_workflows() -> dict[str, str]:
    """Return workflow name -> description for every file in ``presets/workflows/``."""
    return {p.stem: str(read_toml(p).get("description", "")) for p in iter_preset_files("workflows")}


def load_workflow(name: str) -> dict[str, Any]:
    """Load ``presets/workflows/<name>.toml``'s ``[export]`` table, validated.

    Raises:
        PresetError: unknown name (lists the known ones), unknown key or wrong type (names the key).
    """
    known = list_workflows()
    if name not in known:
        raise PresetError(f"unknown workflow preset {name!r}; known: {', '.join(sorted(known))}")
    path = preset_path("workflows", f"{name}.toml")
    table = read_toml(path).get("export", {})
    if not isinstance(table, dict):
        raise PresetError(f"{path}: [export] must be a table")
    for key, value in table.items():
        expected = ALLOWED_KEYS.get(key)
        if expected is None:
            raise PresetError(f"{path}: export.{key} is not a known option; known: {', '.join(ALLOWED_KEYS)}")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise PresetError(f"{path}: export.{key} has the wrong type")
    return dict(table)
