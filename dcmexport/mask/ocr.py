"""Optional OCR backend (Tesseract through pytesseract), imported lazily.

Used to *verify* masking: after the masks are applied, any word Tesseract can
still read is reported (``--ocr-check``) or blocks the export (``--ocr-check
strict``). OCR is evidence, not proof: Tesseract misses small, stylised or
low-contrast text, so an empty result lowers the risk but does not remove it.

Install: ``pip install dcmexport[ocr]`` (pytesseract) and the Tesseract binary
(Debian/Ubuntu: ``apt-get install tesseract-ocr``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from dcmexport.errors import MissingDependencyError
from dcmexport.mask.detect import apply_channel_max

#: Words below this Tesseract confidence (0-100) are treated as noise.
DEFAULT_MIN_CONFIDENCE = 60.0

_INSTALL_HINT = (
    "OCR needs pytesseract and the Tesseract program: run `pip install dcmexport[ocr]` "
    "and install Tesseract (Debian/Ubuntu: `apt-get install tesseract-ocr`)"
)


def _import_pytesseract() -> ModuleType:
    try:
        import pytesseract
    except ImportError:
        raise MissingDependencyError(f"pytesseract is not installed; {_INSTALL_HINT}") from None
    return pytesseract


def ocr_available() -> bool:
    """Return True when both pytesseract and the ``tesseract`` executable can be used."""
    try:
        pytesseract = _import_pytesseract()
    except MissingDependencyError:
        return False
    cmd = getattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    return shutil.which(cmd) is not None


def tesseract_version() -> str:
    """Return the Tesseract version string (for reports).

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    pytesseract = _require()
    return str(pytesseract.get_tesseract_version())


def _require() -> ModuleType:
    pytesseract = _import_pytesseract()
    cmd = getattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    if shutil.which(cmd) is None:
        raise MissingDependencyError(f"the tesseract program was not found on PATH; {_INSTALL_HINT}")
    return pytesseract


def _to_gray_u8(image: np.ndarray) -> np.ndarray:
    """Scale any (rows, columns[, samples]) array to 8-bit grey for Tesseract."""
    arr = apply_channel_max(image)
    if arr.dtype == np.uint8:
        return arr
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return ((arr.astype(np.float64) - lo) * (255.0 / (hi - lo))).round().astype(np.uint8)


def require_ocr() -> None:
    """Check, once at start-up, that OCR can run (``--redact-text``, ``--ocr-check``).

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing, naming
            ``pip install dcmexport[ocr]`` and the Debian package ``tesseract-ocr``.
    """
    _require()


@dataclass(frozen=True)
class OcrPass:
    """One way of showing a frame to Tesseract: preprocessing, enlargement and page segmentation.

    Attributes:
        name: for reports and tests.
        binarise: ``sauvola`` (Tesseract's own local threshold, ``thresholding_method=2``),
            ``light`` (pixels at or above ``level`` are ink: light text on dark),
            ``dark`` (pixels at or below ``level`` are ink), ``dim`` (pixels at or above ``level``
            whose surroundings are black: grey text on the screen's ground), ``banner`` (pixels at or below
            ``level`` whose surroundings are light: dark text on a light banner, while the dark
            ground around the image stays blank), or ``plain`` (contrast-stretched grey,
            inverted when the frame is mostly dark: Tesseract reads dark text on light best).
        scale: enlargement factor (small text is read better enlarged).
        psm: Tesseract page segmentation mode (11: sparse text; 6: one block; 3: automatic).
        level: grey level of the ``light`` / ``dark`` threshold (0-255).
    """

    name: str
    binarise: str
    scale: int
    psm: int
    level: int = 0


@dataclass(frozen=True)
class Word:
    """One word Tesseract read, its box in frame pixels ``(x0, y0, x1, y1)`` (x1/y1 exclusive).

    ``text`` may be PHI: it is used to classify the word and is never logged, written or raised.
    """

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    source: str = ""


def apply_box_mean(gray: np.ndarray, size: int) -> np.ndarray:
    """Return the mean of each pixel's ``size`` x ``size`` neighbourhood (edges replicated), float32."""
    half = size // 2
    padded = np.pad(gray.astype(np.float64), half + 1, mode="edge")
    table = padded.cumsum(axis=0).cumsum(axis=1)
    rows, columns = gray.shape
    top, left = np.arange(rows), np.arange(columns)
    bottom, right = top + size, left + size
    total = (table[np.ix_(bottom, right)] - table[np.ix_(top, right)] - table[np.ix_(bottom, left)]
             + table[np.ix_(top, left)])
    return (total / (size * size)).astype(np.float32)


def apply_ocr_pass(gray: np.ndarray, ocr_pass: OcrPass) -> np.ndarray:
    """Return the 8-bit image Tesseract is shown for ``ocr_pass`` (before enlargement).

    Args:
        gray: ``(rows, columns)`` uint8 frame.
        ocr_pass: the preprocessing to apply.

    Returns:
        A new uint8 array, dark ink on a light ground for the thresholded passes.
    """
    if ocr_pass.binarise == "light":
        return np.where(gray >= ocr_pass.level, 0, 255).astype(np.uint8)
    if ocr_pass.binarise == "dark":
        return np.where(gray <= ocr_pass.level, 0, 255).astype(np.uint8)
    if ocr_pass.binarise == "dim":
        # a pixel at or above ``level`` on a black ground (grey text on the screen's background,
        # too dim for the ``light`` level), not speckle or a body section, whose ground is not black
        dark_around = apply_box_mean((gray <= 24).astype(np.uint8), 15) >= 0.65
        return np.where((gray >= ocr_pass.level) & dark_around, 0, 255).astype(np.uint8)
    if ocr_pass.binarise == "banner":
        # a dark pixel with light pixels around it (a stroke on a banner), not the dark ground
        light_around = apply_box_mean((gray >= ocr_pass.level + 50).astype(np.uint8), 15) >= 0.55
        return np.where((gray <= ocr_pass.level) & light_around, 0, 255).astype(np.uint8)
    lo, hi = np.percentile(gray, (1, 99.5)) if gray.size else (0, 255)
    stretched = np.clip((gray.astype(np.float32) - lo) * (255.0 / max(float(hi - lo), 1.0)), 0, 255)
    out = stretched.astype(np.uint8)
    return (255 - out) if float(np.median(gray)) < 128 else out


def read_words(image: np.ndarray, passes: tuple[OcrPass, ...], *, min_confidence: float = 0.0) -> list[Word]:
    """Return every word Tesseract reads in ``image`` under each of ``passes``, boxes in ``image`` pixels.

    Words without a letter or digit are dropped (rules, dots, noise). Words of different
    passes are not merged: the caller unites boxes.

    Args:
        image: ``(rows, columns)`` or ``(rows, columns, samples)`` frame, any dtype (scaled to 8 bits;
            colour becomes the maximum over samples, which keeps coloured text bright).
        passes: the preprocessing variants to run.
        min_confidence: drop words below this Tesseract confidence (0-100).

    Returns:
        The words, pass by pass in Tesseract's reading order.

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    pytesseract = _require()
    from PIL import Image

    # One Tesseract thread per process: the --jobs workers already use every core, and
    # OpenMP threads in each would oversubscribe them (Tesseract reads this at start).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    gray = _to_gray_u8(image)
    rows, columns = gray.shape
    words: list[Word] = []
    if rows * columns == 0:
        return words
    for ocr_pass in passes:
        prepared = Image.fromarray(apply_ocr_pass(gray, ocr_pass))
        scale = ocr_pass.scale
        if scale != 1:
            prepared = prepared.resize((columns * scale, rows * scale), Image.Resampling.LANCZOS)
        config = f"--psm {ocr_pass.psm}" + (" -c thresholding_method=2" if ocr_pass.binarise == "sauvola" else "")
        data: dict[str, Any] = pytesseract.image_to_data(prepared, config=config, output_type=pytesseract.Output.DICT)
        for text, conf, left, top, width, height in zip(
            data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"], strict=False
        ):
            word = str(text).strip()
            confidence = float(conf)
            if not word or confidence < min_confidence or not any(ch.isalnum() for ch in word):
                continue
            box = (int(left) // scale, int(top) // scale,
                   -(-(int(left) + int(width)) // scale), -(-(int(top) + int(height)) // scale))
            words.append(Word(word, confidence, box, ocr_pass.name))
    return words


def read_text(image: np.ndarray, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[str]:
    """Return the words Tesseract reads in ``image`` with confidence above ``min_confidence``.

    Two passes, words united in reading order without duplicates: sparse-text
    mode (``--psm 11``: scattered labels, as on ultrasound screens) on the image
    inverted and enlarged twice (overlay text is small and light on dark, which
    Tesseract reads less well), then automatic page layout (``--psm 3``) on the
    image as is (large text, dark on light banners, which sparse mode can miss).

    Args:
        image: a rendered or stored frame, ``(rows, columns)`` or
            ``(rows, columns, samples)``, any dtype (scaled to 8 bits).
        min_confidence: Tesseract word confidence threshold (0-100).

    Returns:
        The words read (stripped, non-empty); empty when nothing is legible.

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing,
            naming ``pip install dcmexport[ocr]`` and Debian ``tesseract-ocr``.
    """
    pytesseract = _require()
    from PIL import Image, ImageOps

    gray = Image.fromarray(_to_gray_u8(image))
    if gray.width * gray.height == 0:
        return []
    big = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    words: list[str] = []
    for variant, psm in ((ImageOps.invert(big), 11), (gray, 3)):
        data: dict[str, Any] = pytesseract.image_to_data(
            variant, config=f"--psm {psm}", output_type=pytesseract.Output.DICT
        )
        for text, conf in zip(data["text"], data["conf"], strict=False):
            word = str(text).strip()
            if word and float(conf) > min_confidence and word not in words:
                words.append(word)
    return words
