#!/usr/bin/env python
"""Regenerate samples/ (the synthetic, fake-PHI DICOM files) deterministically.

    python scripts/make_samples.py              # rewrite samples/
    python scripts/make_samples.py --out DIR    # write elsewhere
    python scripts/make_samples.py --check      # exit 1 if samples/ differs from the generator

Running it twice gives byte-identical files (same pydicom/NumPy/Pillow versions).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "samples"

# The generator is test code (tests/samplegen), not part of the installed package.
sys.path.insert(0, str(REPO_ROOT))
from tests.samplegen import write_samples  # noqa: E402


def check_samples(samples_dir: Path) -> list[str]:
    """Return the relative paths under ``samples_dir`` that are missing or differ from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = write_samples(Path(tmp))
        return [
            path.relative_to(tmp).as_posix()
            for path in fresh
            if not (samples_dir / path.relative_to(tmp)).is_file()
            or not filecmp.cmp(path, samples_dir / path.relative_to(tmp), shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, then write or check the samples; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="destination folder (default: samples/)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare --out with a fresh generation, write nothing"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = check_samples(args.out)
        for name in stale:
            print(f"differs or missing: {name}", file=sys.stderr)
        if stale:
            print("run: python scripts/make_samples.py", file=sys.stderr)
        return 1 if stale else 0
    written = write_samples(args.out)
    total = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} files, {total / 1e6:.2f} MB, to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
