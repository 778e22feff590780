"""The one place that finds files under ``presets/`` and reads them as TOML.

``presets/`` sits at the top of the repository (data, not code). A wheel carries
it as ``dcmexport/_presets`` (see ``pyproject.toml``); an editable install or a
checkout reads it in place. Each consumer validates its own schema and raises
:class:`~dcmexport.errors.PresetError` naming the file and the key.

``tomllib`` is pure Python: parsing the mask library alone took ~25 ms of every
process (issue #7). ``presets_cache.json`` beside this module therefore holds the
parsed form of every shipped TOML file with the SHA-256 of its bytes; a file
whose bytes match is read from there, any other (edited, added, a user's
``--mask-file``) is parsed as before. ``scripts/gen_presets_cache.py`` writes the
cache and ``tests/test_presets.py`` fails when it is stale.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from dcmexport.errors import PresetError

_PACKAGE_DIR = Path(__file__).resolve().parent

#: Parsed copies of the TOML files under presets/ (see the module docstring).
CACHE_PATH = _PACKAGE_DIR / "presets_cache.json"


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
            data = fh.read()
    except FileNotFoundError:
        raise PresetError(f"{path}: preset file not found") from None
    except OSError as exc:
        raise PresetError(f"{path}: cannot read preset file ({exc.strerror})") from None
    cached = _cached_document(path, data)
    if cached is not None:
        return cached
    import tomllib  # here: only a file the cache does not hold is parsed (start-up time, issue #7)

    try:
        return tomllib.loads(data.decode())
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None


def cache_key(path: Path) -> str | None:
    """The name of ``path`` in :data:`CACHE_PATH`: its path under ``presets/``, or None outside it."""
    try:
        return Path(path).resolve().relative_to(presets_dir()).as_posix()
    except (ValueError, OSError, PresetError):
        return None


@cache
def _cache_entries() -> dict[str, Any]:
    # Unreadable or malformed: no cache (every file is parsed), never an error.
    try:
        files = json.loads(CACHE_PATH.read_bytes())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def _cached_document(path: Path, data: bytes) -> dict[str, Any] | None:
    """The cached parse of ``path`` when ``data`` are the bytes it was made from, else None."""
    entries = _cache_entries()
    if not entries:
        return None
    entry = entries.get(cache_key(path) or "")
    if not isinstance(entry, dict) or entry.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    try:
        doc = json.loads(entry["json"])  # a fresh object per call: callers may keep or change it
    except (KeyError, TypeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def iter_preset_files(subdir: str) -> list[Path]:
    """Return the ``*.toml`` files in ``presets/<subdir>/``, sorted by name (empty if none)."""
    folder = presets_dir() / subdir
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []
