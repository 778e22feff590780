#!/usr/bin/env python
"""Write dcmexport/presets_cache.json: the parsed form of every TOML file under presets/.

``tomllib`` is pure Python and parsing the shipped presets cost ~25 ms of every
process (the mask library; ~60 ms with the safe-private list), while the C JSON
parser reads the same documents in well under a millisecond. Each entry records
the SHA-256 of the file's bytes, and :func:`dcmexport.presets.read_toml` uses it
only for those exact bytes, so a stale cache is slow, never wrong.
``tests/test_presets.py`` fails until this script is re-run after a preset
changes (including after scripts/gen_mask_presets.py and scripts/gen_deid_table.py).

A file holding a value JSON cannot carry exactly (TOML dates and times, NaN) is
left out and stays parsed with tomllib.

Usage: python scripts/gen_presets_cache.py [--check]
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PRESETS = REPO / "presets"
OUT = REPO / "dcmexport" / "presets_cache.json"


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (1 == 1.0 == True would pass ``==``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def build() -> tuple[dict[str, Any], list[str]]:
    """Return the cache document and the files left out (with the reason)."""
    files: dict[str, dict[str, str]] = {}
    skipped: list[str] = []
    for path in sorted(PRESETS.rglob("*.toml")):
        key = path.relative_to(PRESETS).as_posix()
        data = path.read_bytes()
        doc = tomllib.loads(data.decode())
        try:
            text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            skipped.append(f"{key}: {exc}")
            continue
        if not same(json.loads(text), doc):
            skipped.append(f"{key}: does not survive a JSON round trip")
            continue
        files[key] = {"sha256": hashlib.sha256(data).hexdigest(), "json": text}
    return {"generated_by": "scripts/gen_presets_cache.py -- do not edit by hand", "files": files}, skipped


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    document, skipped = build()
    for line in skipped:
        print(f"not cached: {line}", file=sys.stderr)
    text = render(document)
    if "--check" in argv:
        current = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.relative_to(REPO)} is {'current' if current else 'STALE: run scripts/gen_presets_cache.py'}")
        return 0 if current else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}: {len(document['files'])} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
