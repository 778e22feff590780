#!/usr/bin/env python
"""``--redact-text`` on deid-data's real ultrasound files: is any banner text readable afterwards?

Each file is exported through the API twice with ``redact_text="all"``:

* **ocr only**: mask presets and ultrasound regions off, so the OCR redaction alone must remove
  the banner (and the object is refused unless its second pass reads nothing PHI-like);
* **default**: presets and regions on (everything outside the image regions is blanked), OCR
  inside the regions.

Words of four or more letters that the existing OCR check (``dcmexport.mask.ocr.read_text``:
inverted and enlarged twice with sparse-text mode, then automatic layout on the frame as is; its
preprocessing is neither the redaction's nor its second pass's) reads on the original first,
middle and last frames are the banner words; the same reader then reads the outputs. Only
counts are printed (the words of these public test files are fake PHI, but a real run prints none
either).

Usage: ``python bench/ocr_real.py`` (or ``python bench/ocr_eval.py --real``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcmexport import api  # noqa: E402
from dcmexport.mask.ocr import read_text  # noqa: E402


def _long(words: list[str]) -> set[str]:
    return {w.upper() for w in words if sum(ch.isalpha() for ch in w) >= 4}


def _files(workdir: Path) -> list[Path]:
    import deid_data

    folder = Path(deid_data.__file__).parent / "data" / "ultrasounds"
    files = [folder / "GREYSCALE_IMAGE.dcm", folder / "RGB_IMAGE.dcm", folder / "ultrasound-multiframe.dcm"]
    for name in ("GREYSCALE_CINE.zip", "RGB_CINE.zip"):
        with zipfile.ZipFile(folder / name) as zf:
            zf.extractall(workdir / name)
        files.extend(sorted((workdir / name).rglob("*.dcm")))
    return files


def _original_frames(path: Path) -> list[np.ndarray]:
    import pydicom

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    samples = int(ds.get("SamplesPerPixel", 1))
    frames = arr if arr.ndim == (3 if samples == 1 else 4) else arr[np.newaxis]
    n = len(frames)
    return [frames[i] for i in sorted({0, n // 2, n - 1})]


def _output_frames(path: Path) -> list[np.ndarray]:
    if path.suffix == ".png":
        from PIL import Image

        return [np.asarray(Image.open(path))]
    from dcmexport.encode import read_video_frames

    frames = list(read_video_frames(path))
    n = len(frames)
    return [frames[i] for i in sorted({0, n // 2, n - 1})]


def check_real_ultrasound() -> list[dict[str, object]]:
    """Run both exports on every file; return one row of counts per file and mode."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for path in _files(workdir):
            before = set().union(*(_long(read_text(f)) for f in _original_frames(path)))
            for mode, extra in (("ocr only", {"mask_presets": False, "mask_us_regions": False}), ("default", {})):
                out = workdir / f"out-{path.stem}-{mode.replace(' ', '-')}"
                started = time.perf_counter()
                batch = api.export(path, out, redact_text="all", **extra)  # type: ignore[arg-type]
                seconds = time.perf_counter() - started
                (result,) = batch.results
                after: set[str] = set()
                for output in result.outputs:
                    for frame in _output_frames(output):
                        after |= _long(read_text(frame))
                rows.append({
                    "file": path.name, "frames": result.frames, "mode": mode, "status": str(result.status),
                    "banner_words_before": len(before), "readable_after": len(after & before),
                    "long_words_after": len(after), "text_boxes": len(result.text_boxes),
                    "ocr_frames_read": result.text_findings.get("frames"),
                    "ocr_seconds": result.text_findings.get("seconds"), "export_seconds": round(seconds, 1),
                })  # fmt: skip
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


if __name__ == "__main__":
    print(json.dumps(check_real_ultrasound(), indent=2))
