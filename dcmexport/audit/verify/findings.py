"""The vocabulary of ``verify``'s report: finding kinds and categories (enums), findings, the report.

A finding's :class:`Kind` says what was seen; its :class:`Category` says what it
means, and the exit code derives from the categories alone (never from text).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

#: characters of a value shown with show_values
VALUE_SHOWN = 80


class Category(enum.StrEnum):
    """What a finding means for the outputs; :attr:`fails` decides the exit code."""

    LEAK = "leak"  # something de-identification must remove or replace is there
    MARKING = "marking"  # the de-identification marking is missing or wrong (PS3.15 E.1.1)
    UNREADABLE = "unreadable"  # a file that could not be checked: fail closed
    ACCEPTED = "accepted"  # what the user accepted knowingly (burned-in text with --accept-burned-in)
    UNCLAIMED = "unclaimed"  # pixels masked but not checked: the marking says NO, and why (deid.marking)
    WEAK = "weak"  # an input value found, but short, common or inside a longer word: look, do not fail

    @property
    def fails(self) -> bool:
        """True when a finding of this category alone makes ``verify`` exit 1."""
        return self not in (Category.ACCEPTED, Category.UNCLAIMED, Category.WEAK)

    @property
    def description(self) -> str:
        """A few words for the summary line."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Category.LEAK: "leak",
    Category.MARKING: "marking",
    Category.UNREADABLE: "unreadable",
    Category.ACCEPTED: "pixels accepted by the user",
    Category.UNCLAIMED: "pixels masked, not checked",
    Category.WEAK: "weak evidence",
}


class Kind(enum.StrEnum):
    """What a finding is (the report's ``kind`` column); see :mod:`dcmexport.audit.verify`."""

    ATTRIBUTE_PRESENT = "attribute-present"
    PRIVATE_TAG = "private-tag"
    NOT_EMPTY = "not-empty"
    NOT_DUMMY = "not-dummy"
    NOT_PSEUDONYM = "not-pseudonym"
    NOT_CLEAN = "not-clean"
    DATE_NOT_YEAR = "date-not-year"
    AGE_NOT_CAPPED = "age-not-capped"
    MARKING = "marking"
    FILE_META = "file-meta"
    PREAMBLE = "preamble"
    METADATA = "metadata"
    VALUE_IN_BYTES = "value-in-bytes"
    VALUE_IN_NAME = "value-in-name"
    UNREADABLE = "unreadable"
    PIXELS_ACCEPTED = "pixels-accepted"
    PIXELS_NOT_CLAIMED = "pixels-not-claimed"
    WEAK_VALUE_IN_BYTES = "weak-value-in-bytes"
    WEAK_VALUE_IN_NAME = "weak-value-in-name"
    DATASET_TABLE = "dataset-table"  # dataset.csv names a missing file, or an output has no row

    @property
    def category(self) -> Category:
        """The category of this kind (:data:`CATEGORY_OF`)."""
        return CATEGORY_OF[self]


#: Every kind's category; a kind not listed is a leak.
CATEGORY_OF: dict[Kind, Category] = {
    **{kind: Category.LEAK for kind in Kind},
    Kind.MARKING: Category.MARKING,
    Kind.UNREADABLE: Category.UNREADABLE,
    Kind.DATASET_TABLE: Category.UNREADABLE,
    Kind.PIXELS_ACCEPTED: Category.ACCEPTED,
    Kind.PIXELS_NOT_CLAIMED: Category.UNCLAIMED,
    Kind.WEAK_VALUE_IN_BYTES: Category.WEAK,
    Kind.WEAK_VALUE_IN_NAME: Category.WEAK,
}


@dataclass(frozen=True)
class Finding:
    """One thing that should not be in an output.

    ``file`` is the output path as given (any part equal to a collected PHI value redacted),
    ``kind`` one of :class:`Kind`, ``detail`` a tag, keyword, chunk or tag name -- never a
    value. ``value`` is set only when :func:`~dcmexport.audit.verify.verify_paths` is called
    with ``show_values=True`` (PHI).
    """

    file: str
    kind: Kind
    detail: str
    value: str | None = field(default=None, compare=False)

    @property
    def category(self) -> Category:
        """What the finding means (derived from its kind)."""
        return self.kind.category


@dataclass
class VerifyReport:
    """The outcome of :func:`~dcmexport.audit.verify.verify_paths`."""

    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    #: how many distinct PHI values (all encodings) were searched; 0 without ``against``
    values_searched: int = 0

    @property
    def ok(self) -> bool:
        """True when no finding's category fails the check."""
        return not any(f.category.fails for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when a finding's category fails (2 is the CLI's usage error)."""
        return 0 if self.ok else 1

    def summary(self) -> str:
        """The one-line summary: ``N files checked, M findings``, and how many of them do not fail."""
        text = f"{self.files_checked} files checked, {len(self.findings)} findings"
        quiet: dict[Category, int] = {}
        for finding in self.findings:
            if not finding.category.fails:
                quiet[finding.category] = quiet.get(finding.category, 0) + 1
        if quiet:
            parts = ", ".join(f"{n} {category.description}" for category, n in sorted(quiet.items()))
            text += f" ({parts}: not failing)"
        return text


class Problem(NamedTuple):
    """A finding before it is attached to a file."""

    kind: Kind
    detail: str
    value: str | None = None


class BadMedia(Exception):
    """The bytes are not the format their signature or suffix promised (reported as unreadable)."""
