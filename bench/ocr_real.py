#!/usr/bin/env python
"""``--redact-text`` on deid-data's real ultrasound files: is any banner text readable afterwards?

Each file is exported through the API twice with ``redact_text="all"``:

* **ocr only**: mask presets and ultrasound regions off, so the OCR redaction alone must remove
  the banner (and the object is refused unless its second pass reads nothing PHI-like);
* **default**: presets and regions on (everything outside the image regions is blanked), OCR
  inside the regions.

Two independent readers, neither the redaction's nor its second pass's preprocessing:

* **frame reader**: the existing OCR check (``dcmexport.mask.ocr.read_text``: inverted and
  enlarged twice with sparse-text mode, then automatic layout on the frame as is). Words of
  four or more letters it reads on the original first, middle and last frames are the banner
  words; ``readable_after`` counts those it reads again on the outputs.
* **word reader**: Tesseract's word boxes on the original frames (enlarged twice, inverted when
  dark, ``--psm 11``; words of three or more letters or digits read at confidence >= 50), then
  the evaluation's token reader (``tests.textgen.token_readable``: crop, 48 px capitals, Otsu,
  ``--psm 8`` and ``13``) at each word's place on the outputs. ``words_readable_after`` counts
  the words still read there, ``phi_like_readable_after`` those of them that look like PHI. With
  ``default`` (regions on), words inside an image region that do not look like PHI are kept
  by design.

Only counts are printed (the words of these public test files are fake PHI, but a real run
prints none either).

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
from dcmexport.mask.words import looks_like_phi  # noqa: E402
from tests.textgen import Token, token_readable  # noqa: E402


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


def _words(frame: np.ndarray) -> list[Token]:
    """Word boxes Tesseract reads on an original frame (the word reader's list of banner words)."""
    import pytesseract
    from PIL import Image

    gray = frame.max(axis=2) if frame.ndim == 3 else frame
    gray = gray.astype(np.uint8) if gray.dtype == np.uint8 else (gray / max(1, gray.max()) * 255).astype(np.uint8)
    if float(np.median(gray)) < 128:
        gray = 255 - gray
    image = Image.fromarray(gray)
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    data = pytesseract.image_to_data(image, config="--psm 11", output_type=pytesseract.Output.DICT)
    words = []
    for text, conf, x, y, w, h in zip(data["text"], data["conf"], data["left"], data["top"], data["width"],
                                      data["height"], strict=False):
        word = str(text).strip()
        if float(conf) >= 50 and sum(ch.isalnum() for ch in word) >= 3:
            box = (int(x) // 2, int(y) // 2, -(-(int(x) + int(w)) // 2), -(-(int(y) + int(h)) // 2))
            words.append(Token(word, "phi" if looks_like_phi(word) else "word", box, max(4, box[3] - box[1]),
                               "?", True))
    return words


def _same_size(frame: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    return frame if frame.shape[:2] == shape[:2] else None


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
            originals = _original_frames(path)
            before = set().union(*(_long(read_text(f)) for f in originals))
            words = list({w.box: w for f in originals for w in _words(f)}.values())  # one per place
            readable_before = sum(1 for w in words if token_readable(originals[0], w))
            for mode, extra in (("ocr only", {"mask_presets": False, "mask_us_regions": False}), ("default", {})):
                out = workdir / f"out-{path.stem}-{mode.replace(' ', '-')}"
                started = time.perf_counter()
                batch = api.export(path, out, redact_text="all", **extra)  # type: ignore[arg-type]
                seconds = time.perf_counter() - started
                (result,) = batch.results
                after: set[str] = set()
                still: set[tuple[int, int, int, int]] = set()
                compared = 0
                for output in result.outputs:
                    for frame in _output_frames(output):
                        after |= _long(read_text(frame))
                        same = _same_size(frame, originals[0].shape)
                        if same is None:
                            continue  # resampled output: the word places do not apply
                        compared += 1
                        still |= {w.box for w in words if token_readable(same, w)}
                phi_left = sum(1 for w in words if w.box in still and w.kind == "phi")
                rows.append({
                    "file": path.name, "frames": result.frames, "mode": mode, "status": str(result.status),
                    "banner_words_before": len(before), "readable_after": len(after & before),
                    "long_words_after": len(after), "words_before": len(words), "words_readable_before": readable_before,
                    "phi_like_words_before": sum(1 for w in words if w.kind == "phi"),
                    "words_readable_after": len(still), "phi_like_readable_after": phi_left,
                    "output_frames_compared": compared, "text_boxes": len(result.text_boxes),
                    "ocr_frames_read": result.text_findings.get("frames"),
                    "ocr_seconds": result.text_findings.get("seconds"), "export_seconds": round(seconds, 1),
                })  # fmt: skip
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


if __name__ == "__main__":
    print(json.dumps(check_real_ultrasound(), indent=2))
