"""Regenerate the generated de-identification blocks in README.md and presets/profiles/README.md.

Tests (tests/test_readme.py, tests/test_deid_describe.py) keep both equal to
``dcmexport.deid.render_actions_markdown`` for the basic profile.

Usage: python scripts/update_readme.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dcmexport.deid import DeidOptions, render_actions_markdown

ROOT = Path(__file__).resolve().parent.parent
PATTERN = re.compile(r"(<!-- BEGIN deid-actions[^>]*-->\n)(.*?)(<!-- END deid-actions -->)", re.S)


def _update(path: Path, block: str, check: bool) -> bool:
    """Rewrite the block in ``path``; return True when it was already current."""
    text = path.read_text(encoding="utf-8")
    new, count = PATTERN.subn(lambda m: m.group(1) + block + m.group(3), text)
    if count != 1:
        raise SystemExit(f"{path}: deid-actions markers not found exactly once")
    if new != text and not check:
        path.write_text(new, encoding="utf-8")
    return new == text


def main() -> int:
    block = render_actions_markdown(DeidOptions())
    block = block if block.endswith("\n") else block + "\n"
    check = "--check" in sys.argv
    current = [_update(ROOT / name, block, check) for name in ("README.md", "presets/profiles/README.md")]
    return 0 if all(current) or not check else 1


if __name__ == "__main__":
    raise SystemExit(main())
