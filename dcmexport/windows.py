"""Named window presets (``--window lung``): ``presets/windows.toml``, each with its published source.

A preset is a VOI window (PS3.3 C.11.2.1.2) in the modality values of the
modalities it names (Hounsfield units for CT). The file is read and checked once
per process; :func:`find_window_preset` coerces a user's name at the boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from dcmexport.errors import PresetError
from dcmexport.presets import preset_path, read_toml

WINDOWS_FILE = ("windows.toml",)


@dataclass(frozen=True)
class WindowSource:
    """Where a preset's numbers come from."""

    key: str
    title: str
    url: str
    publisher: str = ""
    authors: str = ""
    reference: str = ""

    def cite(self) -> str:
        """One line: authors, title, publisher, URL."""
        parts = [p.strip().rstrip(".") for p in (self.authors, self.title, self.publisher, self.url) if p]
        return ". ".join(parts)


@dataclass(frozen=True)
class WindowPreset:
    """A named VOI window for some modalities, with its source."""

    name: str
    center: float
    width: float
    modalities: tuple[str, ...]
    units: str
    region: str
    source: WindowSource
    note: str = ""

    def applies_to(self, modality: str) -> bool:
        """True when (0008,0060) Modality ``modality`` is one this preset is meant for."""
        return modality.strip().upper() in self.modalities


def normalise_name(name: str) -> str:
    """Lower case, runs of spaces, '_' and '-' as one '-': ``"Temporal bone"`` -> ``temporal-bone``."""
    return re.sub(r"[\s_\-]+", "-", name.strip().lower())


def _number(path: object, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PresetError(f"{path}: {where} must be a number")
    return float(value)


def _text(path: object, where: str, value: Any, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise PresetError(f"{path}: {where} must be a non-empty string")
    return value


@cache
def load_window_presets() -> dict[str, WindowPreset]:
    """Read and check ``presets/windows.toml`` once: name -> preset, in file order.

    Raises:
        PresetError: the file is missing or malformed; the message names the table and key.
    """
    path = preset_path(*WINDOWS_FILE)
    doc = read_toml(path)
    raw_sources = doc.get("sources", {})
    if not isinstance(raw_sources, dict):
        raise PresetError(f"{path}: [sources] must be a table of tables")
    sources: dict[str, WindowSource] = {}
    for key, raw in raw_sources.items():
        if not isinstance(raw, dict):
            raise PresetError(f"{path}: sources.{key} must be a table")
        sources[key] = WindowSource(
            key=key,
            title=_text(path, f"sources.{key}.title", raw.get("title")),
            url=_text(path, f"sources.{key}.url", raw.get("url")),
            publisher=_text(path, f"sources.{key}.publisher", raw.get("publisher"), required=False),
            authors=_text(path, f"sources.{key}.authors", raw.get("authors"), required=False),
            reference=_text(path, f"sources.{key}.reference", raw.get("reference"), required=False),
        )
    presets: dict[str, WindowPreset] = {}
    for name, raw in doc.items():
        if name == "sources":
            continue
        if not isinstance(raw, dict):
            raise PresetError(f"{path}: [{name}] must be a table")
        if normalise_name(name) != name:
            raise PresetError(f"{path}: [{name}] must be lower case with words joined by '-'")
        source_key = _text(path, f"{name}.source", raw.get("source"))
        if source_key not in sources:
            raise PresetError(f"{path}: {name}.source {source_key!r} is not a table under [sources]")
        modalities = raw.get("modalities")
        if not isinstance(modalities, list) or not modalities or not all(isinstance(m, str) for m in modalities):
            raise PresetError(f"{path}: {name}.modalities must be a list of (0008,0060) Modality codes")
        width = _number(path, f"{name}.width", raw.get("width"))
        if width < 1:
            raise PresetError(f"{path}: {name}.width must be >= 1 (PS3.3 C.11.2.1.2)")
        presets[name] = WindowPreset(
            name=name,
            center=_number(path, f"{name}.center", raw.get("center")),
            width=width,
            modalities=tuple(m.strip().upper() for m in modalities),
            units=_text(path, f"{name}.units", raw.get("units")),
            region=_text(path, f"{name}.region", raw.get("region")),
            source=sources[source_key],
            note=_text(path, f"{name}.note", raw.get("note"), required=False),
        )
    return presets


def find_window_preset(name: str) -> WindowPreset | None:
    """The preset called ``name`` (spelling normalised, see :func:`normalise_name`), or None."""
    return load_window_presets().get(normalise_name(name))
