"""Loader for the generated PS3.15 Table E.1-1 data file and the ``presets/deid/`` allow lists.

``profile_table.json`` is written by ``scripts/gen_deid_table.py``; never edit it by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydicom.datadict import tag_for_keyword

from dcmexport.errors import PresetError
from dcmexport.presets import preset_path, read_toml

TABLE_PATH = Path(__file__).resolve().parent / "profile_table.json"


@dataclass(frozen=True)
class TableEntry:
    """One row of Table E.1-1: which tags it matches, its Basic Profile code and option columns."""

    tag: str  # as printed in the standard, e.g. "(0010,0010)" or "(60XX,3000)"
    name: str
    keyword: str
    vr: str
    match: str  # "exact", "mask" (repeating groups) or "private" (odd groups)
    group: int
    group_mask: int
    element: int
    element_mask: int
    basic: str  # e.g. "X", "Z/D", "X/Z/U*"
    options: MappingProxyType[str, str]

    @property
    def value(self) -> int:
        """The tag as an integer (for ``exact`` entries)."""
        return (self.group << 16) | self.element

    def matches(self, tag: int) -> bool:
        """Return True when ``tag`` falls under this row."""
        if self.match == "private":
            return bool((tag >> 16) & 1)
        return ((tag >> 16) & self.group_mask) == self.group and (tag & 0xFFFF & self.element_mask) == self.element


@dataclass(frozen=True)
class ProfileTable:
    """The whole table plus its provenance."""

    edition: str
    source: MappingProxyType[str, str]
    entries: tuple[TableEntry, ...]


@cache
def load_table(path: Path = TABLE_PATH) -> ProfileTable:
    """Read the generated Table E.1-1 file (cached).

    Raises:
        PresetError: the file is missing or malformed (re-run ``scripts/gen_deid_table.py``).
    """
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        entries = tuple(
            TableEntry(
                tag=e["tag"], name=e["name"], keyword=e.get("keyword", ""), vr=e.get("vr", ""),
                match=e["match"], group=e.get("group", 0), group_mask=e.get("group_mask", 0),
                element=e.get("element", 0), element_mask=e.get("element_mask", 0),
                basic=e["basic"], options=MappingProxyType(dict(e.get("options", {}))),
            )
            for e in doc["entries"]
        )
        return ProfileTable(edition=doc["edition"], source=MappingProxyType(dict(doc["source"])), entries=entries)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PresetError(f"{path}: de-identification table unreadable ({type(exc).__name__}); "
                          "re-run scripts/gen_deid_table.py") from None


@dataclass(frozen=True)
class KeepLists:
    """The ``presets/deid/keep.toml`` allow lists, resolved to tag integers."""

    free_text: frozenset[int]
    uids: frozenset[int]
    vocabulary: frozenset[str]


def _keyword_tags(path: Path, section: str, names: Any) -> frozenset[int]:
    if not isinstance(names, list):
        raise PresetError(f"{path}: [{section}] keywords must be a list of DICOM keywords")
    tags = set()
    for name in names:
        tag = tag_for_keyword(name) if isinstance(name, str) else None
        if tag is None:
            raise PresetError(f"{path}: [{section}] {name!r} is not a DICOM keyword; fix the spelling")
        tags.add(tag)
    return frozenset(tags)


@cache
def load_keep_lists() -> KeepLists:
    """Read ``presets/deid/keep.toml``.

    Raises:
        PresetError: missing file, unknown keyword or wrong types.
    """
    path = preset_path("deid", "keep.toml")
    doc = read_toml(path)
    words = doc.get("descriptor_vocabulary", {}).get("words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise PresetError(f"{path}: [descriptor_vocabulary] words must be a list of strings")
    return KeepLists(
        free_text=_keyword_tags(path, "free_text", doc.get("free_text", {}).get("keywords", [])),
        uids=_keyword_tags(path, "uids", doc.get("uids", {}).get("keywords", [])),
        vocabulary=frozenset(w.lower() for w in words),
    )


@cache
def load_safe_private() -> frozenset[tuple[str, int, int]]:
    """Read ``presets/deid/safe_private.toml`` as ``{(creator, group, element offset)}``.

    Raises:
        PresetError: missing file or malformed entries.
    """
    path = preset_path("deid", "safe_private.toml")
    doc = read_toml(path)
    out = set()
    for i, item in enumerate(doc.get("element", [])):
        try:
            out.add((str(item["creator"]).strip(), int(item["group"], 16), int(item["element"], 16)))
        except (KeyError, TypeError, ValueError):
            raise PresetError(f"{path}: element #{i + 1} needs creator, group (hex) and element (hex)") from None
    return frozenset(out)
