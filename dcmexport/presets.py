"""The one place that finds files under ``presets/`` and reads them as TOML.

``presets/`` sits at the top of the repository (data, not code). A wheel carries
it as ``dcmexport/_presets`` (see ``pyproject.toml``); an editable install or a
checkout reads it in place. Each consumer validates its own schema and raises
:class:`~dcmexport.errors.PresetError` naming the file and the key.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from dcmexport.errors import PresetError

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def presets_dir() -> Path:
    """Return the ``presets/`` directory shipped with this installation.

    Raises:
        PresetError: when neither the wheel copy nor the checkout copy exists.
    """
    for candidate in (_PACKAGE_DIR / "_presets", _PACKAGE_DIR.parent / "presets"):
        if candidate.is_dir():
            return candidate
    raise PresetError("presets/ directory not found next to the dcmexport package; reinstall dcmexport")


def preset_path(*parts: str) -> Path:
    """Return the path of a file under ``presets/`` (it need not exist)."""
    return presets_dir().joinpath(*parts)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning syntax and I/O errors into :class:`PresetError`.

    Args:
        path: a file under ``presets/`` or one the user named (``--mask-file``).

    Returns:
        The parsed document.

    Raises:
        PresetError: the file is missing, unreadable or not valid TOML.
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise PresetError(f"{path}: preset file not found") from None
    except OSError as exc:
        raise PresetError(f"{path}: cannot read preset file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None


def iter_preset_files(subdir: str) -> list[Path]:
    """Return the ``*.toml`` files in ``presets/<subdir>/``, sorted by name (empty if none)."""
    folder = presets_dir() / subdir
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []
