"""What a word read by OCR is: PHI-like (a name, an identifier, a date, a time) or an allowed setting.

Used by the OCR redaction (:mod:`dcmexport.mask.redact`). The allow list of settings words is
data: ``presets/ocr/allow.toml`` (its README names the sources). Nothing here keeps, logs or
raises a word: callers pass words in and get booleans back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from dcmexport.errors import PresetError

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PHI_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}",  # 12/03/1971, 1971-03-12, 12.03.71
    r"\d{1,2}/\d{1,2}",  # 12/03 (a dotted pair is a decimal: 0.8, 12.5)
    r"\d{1,2}[:h]\d{2}([:.]\d{2})?",  # 14:03, 14:03:59
    r"\d{0,2}(" + "|".join(_MONTHS) + r")[a-z]*\d{0,4}",  # 12MAR1971, March, Mar71
))  # fmt: skip
_PHI_CATEGORIES = ("date", "date", "time", "date")  # what each of _PHI_PATTERNS finds
_STRIP = " \t.,;:()[]{}<>\"'`|!?*_~\u2018\u2019\u201c\u201d\u00ab\u00bb"
#: A measured value with its unit is a setting, however many digits (3850Hz, 1540m/s).
_MEASURE = re.compile(r"[<>=~+-]?\d+([.,]\d+)?(%|hz|khz|mhz|db|cm|mm|ms|bpm|fps|cm/s|m/s|mmhg|ml)", re.IGNORECASE)


@dataclass(frozen=True)
class AllowList:
    """The words and patterns ``--redact-text phi`` keeps (``presets/ocr/allow.toml``)."""

    words: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def allows(self, text: str) -> bool:
        """True when ``text`` (one word as read) is a settings word that identifies nobody."""
        word = text.strip(_STRIP).lower()
        if not word:
            return True  # punctuation only: nothing to read
        if any(month in word for month in _MONTHS) or looks_like_phi(word):
            return False
        return word in self.words or any(p.fullmatch(word) for p in self.patterns)


@cache
def load_allow_list() -> AllowList:
    """Read ``presets/ocr/allow.toml`` once per process.

    Raises:
        PresetError: the file is missing or not of the schema in ``presets/ocr/README.md``.
    """
    from dcmexport.presets import preset_path, read_toml

    path = preset_path("ocr", "allow.toml")
    data = read_toml(path)
    groups, patterns = data.get("words"), data.get("patterns")
    if not isinstance(groups, dict) or not isinstance(patterns, dict):
        raise PresetError(f"{path.name}: expected tables [words] and [patterns]")
    words: set[str] = set()
    for name, entries in groups.items():
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise PresetError(f"{path.name}: [words] {name} must be a list of strings")
        words.update(e.lower() for e in entries)
    compiled = []
    for name, pattern in patterns.items():
        try:
            compiled.append(re.compile(str(pattern), re.IGNORECASE))
        except re.error as exc:
            raise PresetError(f"{path.name}: [patterns] {name} is not a regular expression ({exc.msg})") from None
    return AllowList(frozenset(words), tuple(compiled))


def looks_like_phi(text: str) -> bool:
    """True when one word as read looks like a name, an identifier, a date or a time.

    See :func:`phi_category` for the rules.
    """
    return phi_category(text) is not None


def phi_category(text: str) -> str | None:
    """What one word as read looks like: ``date``, ``time``, ``id`` or ``name``; None when none.

    Dates and times: ``12/03/1971``, ``1971-03-12``, ``14:03:59``, ``12MAR1971``, month names.
    Identifiers: four or more digits (years, record numbers, accession numbers), unless a unit
    follows (``3850Hz``). Names: words of three or more letters only (hyphens and apostrophes
    allowed), with a vowel and two different letters, that are not a settings word of the
    allow list. The category is written to the manifest; the word never is.
    """
    word = text.strip(_STRIP)
    if not word or _MEASURE.fullmatch(word):
        return None
    for pattern, category in zip(_PHI_PATTERNS, _PHI_CATEGORIES, strict=True):
        if pattern.fullmatch(word):
            return category
    if sum(ch.isdigit() for ch in word) >= 4:
        return "id"
    # A name is letters (with hyphens or apostrophes): "TIB:0.5" or "2D" are settings, not names.
    # Texture read as letters gives "SSS", "rrr", "wvw": a name has a vowel and two letters at least.
    name = word.replace("-", "").replace("'", "")
    lower = name.lower()
    if (name.isalpha() and len(name) >= 3 and len(set(lower)) >= 2 and any(v in lower for v in "aeiouy")
            and word.lower() not in load_allow_list().words):
        return "name"
    return None
