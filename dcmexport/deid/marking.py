"""What the marking may claim about the pixels: Patient Identity Removed, Burned In Annotation, 113101.

The header is de-identified by the table; the pixels are another matter. The marking
(PS3.15 E.1.1; PS3.3 C.7.1.1 Patient Identity Removed, C.7.6.1.1.7 Burned In Annotation;
CID 7050 code 113101 Clean Pixel Data) claims only what was done or is known:

* **Patient Identity Removed** is YES only when the pixels are known clean: there are none,
  the source said Burned In Annotation NO, nothing suggests burned-in text, or OCR read no
  text on every frame after masking. Otherwise NO, with the reason written as a
  De-identification Method value (``pixels: ...``) so ``verify`` can name it.
* **Burned In Annotation** becomes NO only when everything outside the image regions was
  blanked and OCR read no text on every frame (the regions' inside was checked); a source NO
  stays NO; otherwise the source's value (or its absence) is left as it was.
* **113101 Clean Pixel Data** is listed only when masking changed pixels to remove text.

:class:`PixelState` is what the pipeline knows about one object's pixels; :func:`decide_marking`
turns it into the claims, and :class:`PixelEvidence` names each case and describes itself (the
README lists these descriptions, generated, so the text cannot drift from the rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

_BURNED_IN = 0x00280301
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float and Double Float Pixel Data
#: Prefix of the De-identification Method (0012,0063) value that names the pixel evidence.
METHOD_PREFIX = "pixels: "


class PixelEvidence(StrEnum):
    """Why the marking says what it says about an object's pixels (one name per case)."""

    NO_PIXELS = "no-pixels"
    SOURCE_NO = "source-no"
    NOT_SUSPECTED = "not-suspected"
    MASKED_AND_CHECKED = "masked-and-checked"
    OCR_CHECKED = "ocr-checked"
    MASKED_NOT_CHECKED = "masked-not-checked"
    ACCEPTED = "accepted-uncleaned"
    NOT_CLEANED = "not-cleaned"

    @property
    def clean(self) -> bool:
        """True when the pixels count as known clean (Patient Identity Removed may be YES)."""
        return self in _CLEAN

    @property
    def description(self) -> str:
        """When this case applies and what the marking then says, in plain English.

        The outcome part is derived from the rule (:func:`decide_marking` and :attr:`clean`),
        so the description cannot drift from what is written.
        """
        if self is PixelEvidence.MASKED_AND_CHECKED:
            burned_in = "Burned In Annotation NO"
        elif self is PixelEvidence.SOURCE_NO:
            burned_in = "Burned In Annotation stays NO"
        else:
            burned_in = "Burned In Annotation left as it was"
        removed = "YES" if self.clean else "NO"
        return f"{_CONDITIONS[self]}: Patient Identity Removed {removed}, {burned_in}."

    @property
    def method_value(self) -> str:
        """The De-identification Method (0012,0063) value naming this case (LO, <= 64 characters)."""
        return METHOD_PREFIX + _SHORT[self]


_CLEAN = frozenset({PixelEvidence.NO_PIXELS, PixelEvidence.SOURCE_NO, PixelEvidence.NOT_SUSPECTED,
                    PixelEvidence.MASKED_AND_CHECKED, PixelEvidence.OCR_CHECKED})

_SHORT: dict[PixelEvidence, str] = {
    PixelEvidence.NO_PIXELS: "no pixel data",
    PixelEvidence.SOURCE_NO: "source declared no burned-in annotation",
    PixelEvidence.NOT_SUSPECTED: "nothing suggests burned-in text",
    PixelEvidence.MASKED_AND_CHECKED: "masked outside image regions, OCR read no text",
    PixelEvidence.OCR_CHECKED: "OCR read no text on any frame",
    PixelEvidence.MASKED_NOT_CHECKED: "masked, not checked: text may remain",
    PixelEvidence.ACCEPTED: "not cleaned (--accept-burned-in)",
    PixelEvidence.NOT_CLEANED: "may carry burned-in text, not cleaned",
}

#: When each case applies (the outcome is added from the rule itself, see :func:`describe_marking`).
_CONDITIONS: dict[PixelEvidence, str] = {
    PixelEvidence.NO_PIXELS: "the object has no pixel data",
    PixelEvidence.SOURCE_NO: "the source says Burned In Annotation NO",
    PixelEvidence.NOT_SUSPECTED: "Burned In Annotation is absent (or neither YES nor NO) and neither the "
    "modality nor the SOP class usually carries burned-in text (the test that refuses objects)",
    PixelEvidence.MASKED_AND_CHECKED: "everything outside the ultrasound image regions was blanked and OCR "
    "(--ocr-check with --ocr-frames all) read no text on any frame, inside the regions included",
    PixelEvidence.OCR_CHECKED: "OCR read no text on any frame after the masks (if any), but the masks do not "
    "blank everything outside image regions",
    PixelEvidence.MASKED_NOT_CHECKED: "masks were applied (presets, ultrasound regions, --mask) but what they "
    "leave, such as text inside an image region, was not checked by OCR on every frame",
    PixelEvidence.ACCEPTED: "the object may carry burned-in text and was written only because of "
    "--accept-burned-in, with nothing masked: nobody removed text that may identify the patient",
    PixelEvidence.NOT_CLEANED: "the object may carry burned-in text and nothing was masked or checked",
}


class _Plan(Protocol):
    """What the marking needs of a mask plan (:class:`dcmexport.mask.MaskPlan` has it)."""

    @property
    def keep(self) -> Sequence[Any] | None: ...

    def blank_boxes(self, rows: int, columns: int) -> Sequence[Any]: ...


@dataclass(frozen=True)
class PixelState:
    """What is known about one object's pixels when it is marked.

    Attributes:
        has_pixels: the object holds Pixel Data (or Float / Double Float Pixel Data).
        source_burned_in: the source's Burned In Annotation (0028,0301), upper case, ``""`` when absent.
        suspect: the burned-in policy found a reason to suspect text (Burned In Annotation YES,
            or a text-prone modality or SOP class without NO).
        accepted: written only because of ``--accept-burned-in`` (suspect and nothing masked).
        changed: masking changed pixels to remove text (some pixel is blanked).
        outside_regions: everything outside the image regions is blanked (a keep restriction).
        ocr_clean: OCR ran on every frame, after masking, and read no text.
    """

    has_pixels: bool = True
    source_burned_in: str = ""
    suspect: bool = False
    accepted: bool = False
    changed: bool = False
    outside_regions: bool = False
    ocr_clean: bool = False

    @classmethod
    def from_dataset(cls, ds: Any) -> PixelState:
        """The state of an object nobody masked or checked; suspect only when Burned In Annotation is YES.

        What :meth:`Deidentifier.deidentify` assumes when the caller says nothing about the pixels.
        """
        burned_in = _burned_in(ds)
        return cls(has_pixels=_has_pixels(ds), source_burned_in=burned_in, suspect=burned_in == "YES")

    @classmethod
    def from_plan(cls, ds: Any, plan: _Plan, *, suspect: bool, accept_burned_in: bool = False,
                  ocr_clean: bool = False) -> PixelState:
        """The state after ``plan`` is applied to every frame of ``ds`` (the original dataset).

        Args:
            ds: the object, before de-identification (Rows, Columns, Burned In Annotation are read).
            plan: the mask plan applied to every frame.
            suspect: the burned-in policy's verdict (``may_carry_burned_in(ds) is not None``).
            accept_burned_in: the user passed ``--accept-burned-in``.
            ocr_clean: OCR ran on every frame after masking and read no text.
        """
        has_pixels = _has_pixels(ds)
        changed = False
        if has_pixels:
            try:
                rows, columns = int(ds.Rows), int(ds.Columns)
            except (AttributeError, TypeError, ValueError):
                rows = columns = 0
            changed = bool(plan.blank_boxes(rows, columns)) if rows and columns else False
        masked = plan.keep is not None or changed
        return cls(has_pixels=has_pixels, source_burned_in=_burned_in(ds), suspect=suspect,
                   accepted=accept_burned_in and suspect and not masked, changed=changed,
                   outside_regions=plan.keep is not None, ocr_clean=ocr_clean)

    @property
    def evidence(self) -> PixelEvidence:
        """The case this state falls under (the first that applies, in the order of the README list)."""
        if not self.has_pixels:
            return PixelEvidence.NO_PIXELS
        if self.source_burned_in == "NO":
            return PixelEvidence.SOURCE_NO
        if not self.suspect:
            return PixelEvidence.NOT_SUSPECTED
        if self.ocr_clean:
            return PixelEvidence.MASKED_AND_CHECKED if self.outside_regions else PixelEvidence.OCR_CHECKED
        if self.changed or self.outside_regions:
            return PixelEvidence.MASKED_NOT_CHECKED
        return PixelEvidence.ACCEPTED if self.accepted else PixelEvidence.NOT_CLEANED


@dataclass(frozen=True)
class Marking:
    """The pixel claims of one object's marking.

    Attributes:
        patient_identity_removed: ``"YES"`` or ``"NO"`` for (0012,0062).
        burned_in_annotation: the value to write in (0028,0301), or None to leave it as it is.
        clean_pixel_data: list 113101 Clean Pixel Data in (0012,0064).
        evidence: the case that decided it.
    """

    patient_identity_removed: str
    burned_in_annotation: str | None
    clean_pixel_data: bool
    evidence: PixelEvidence


def decide_marking(state: PixelState) -> Marking:
    """Return what the marking may claim for ``state`` (PS3.15 E.1.1; PS3.3 C.7.1.1, C.7.6.1.1.7).

    Claims only what was done: see the module docstring for the three rules.
    """
    evidence = state.evidence
    burned_in = "NO" if evidence is PixelEvidence.MASKED_AND_CHECKED else None
    return Marking("YES" if evidence.clean else "NO", burned_in, state.changed, evidence)


def evidence_from_method(values: Sequence[str]) -> PixelEvidence | None:
    """Read the pixel evidence back from De-identification Method (0012,0063) values; None when absent."""
    by_value = {e.method_value: e for e in PixelEvidence}
    for value in values:
        found = by_value.get(str(value).strip())
        if found is not None:
            return found
    return None


def describe_marking() -> list[str]:
    """The marking rules as implemented, one plain-English line per case (README, generated)."""
    return [f"Pixels `{e.value}`: {e.description}" for e in PixelEvidence]


def _burned_in(ds: Any) -> str:
    elem = ds.get(_BURNED_IN) if ds is not None else None
    value = getattr(elem, "value", None)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip(" \0").upper()


def _has_pixels(ds: Any) -> bool:
    return any(tag in ds for tag in _PIXEL_TAGS)
