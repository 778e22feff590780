"""Regenerate README.md's generated block(s) from the code (tests/test_readme.py keeps them equal).

Usage: python scripts/update_readme.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dcmexport.deid import DeidOptions, render_actions_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
PATTERN = re.compile(r"(<!-- BEGIN deid-actions -->\n)(.*?)(\n<!-- END deid-actions -->)", re.S)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    block = render_actions_markdown(DeidOptions()).strip()
    new, count = PATTERN.subn(lambda m: m.group(1) + block + m.group(3), text)
    if count != 1:
        print("README.md: deid-actions markers not found exactly once", file=sys.stderr)
        return 1
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
