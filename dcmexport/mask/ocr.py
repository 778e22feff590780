"""Optional OCR backend (Tesseract through pytesseract), imported lazily.

Used to *verify* masking: after the masks are applied, any word Tesseract can
still read is reported (``--ocr-check``) or blocks the export (``--ocr-check
strict``). OCR is evidence, not proof: Tesseract misses small, stylised or
low-contrast text, so an empty result lowers the risk but does not remove it.

Install: ``pip install dcmexport[ocr]`` (pytesseract) and the Tesseract binary
(Debian/Ubuntu: ``apt-get install tesseract-ocr``).
"""

from __future__ import annotations

import shutil
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
