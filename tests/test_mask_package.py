"""The mask package's boundaries: it imports no upper layer, and importing it loads no OCR backend."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

MASK = Path(__file__).resolve().parent.parent / "dcmexport" / "mask"
UPPER = ("dcmexport.api", "dcmexport.pipeline", "dcmexport.audit", "dcmexport.cli", "dcmexport.executors")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_no_import_from_upper_layers() -> None:
    modules = sorted(MASK.glob("*.py"))
    assert len(modules) >= 9
    for path in modules:
        upward = [m for m in imported_modules(path) if any(m == u or m.startswith(u + ".") for u in UPPER)]
        assert upward == [], path.name


def test_importing_the_package_loads_no_ocr_backend() -> None:
    code = "import json, sys, dcmexport.mask; print(json.dumps(sorted(sys.modules)))"
    modules = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    )
    assert "dcmexport.mask.plan" in modules
    assert [m for m in ("dcmexport.mask.ocr", "pytesseract") if m in modules] == []
