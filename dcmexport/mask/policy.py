"""The refusal rule: when an object may carry burned-in text and nothing covers it, refuse it.

Burned In Annotation (0028,0301), PS3.3 C.7.6.1.1.7, and the modalities and SOP
classes that commonly carry text decide whether an object is suspect; a plan
that masks nothing leaves a suspect object refused (fail closed) unless the user
accepts the risk. No message here contains a value read from a dataset: only tag
numbers, keywords and standard modality codes.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from dcmexport.errors import BurnedInError
from dcmexport.mask.attributes import read_attribute
from dcmexport.mask.rects import MaskPlan

#: Modalities whose images commonly carry burned-in demographics (US screens,
#: secondary captures, angiography/fluoroscopy overlays, endoscopy, "other").
TEXT_PRONE_MODALITIES: frozenset[str] = frozenset({"US", "SC", "XA", "RF", "ES", "OT"})

#: Secondary Capture Image Storage and its multi-frame variants (PS3.4 B.5).
SECONDARY_CAPTURE_ROOT = "1.2.840.10008.5.1.4.1.1.7"

#: The attributes this module reads (declared in the plan's key, dcmexport.mask.plan).
REFUSAL_ATTRIBUTES: tuple[str, ...] = ("BurnedInAnnotation", "Modality", "SOPClassUID")

RESOLVE_HINT = (
    "add --mask X,Y,W,H (repeatable) or --mask-file FILE over the text, "
    "or pass --accept-burned-in after checking the pixels yourself"
)


def may_carry_burned_in(ds: Dataset) -> str | None:
    """Say why ``ds`` may carry burned-in text, or None when nothing suggests it.

    Burned In Annotation (0028,0301) YES always counts; NO clears the
    modality and SOP Class suspicion (the producer vouches for the pixels,
    PS3.3 C.7.6.1.1.7). Otherwise the modalities US, SC, XA, RF, ES, OT and
    the Secondary Capture SOP classes (1.2.840.10008.5.1.4.1.1.7 and .7.x) are
    suspect.

    Args:
        ds: the object.

    Returns:
        A PHI-free reason naming tags and keywords (and the standard modality
        code), or None.
    """
    burned_in = str(read_attribute(ds, "BurnedInAnnotation", "") or "").strip().upper()
    if burned_in == "YES":
        return "(0028,0301) BurnedInAnnotation is YES"
    if burned_in == "NO":
        return None
    modality = str(read_attribute(ds, "Modality", "") or "").strip().upper()
    if modality in TEXT_PRONE_MODALITIES:
        # Safe to print: the value is one of our fixed modality codes, not free text.
        return (
            f"(0008,0060) Modality is {modality}, which often carries burned-in text, "
            "and (0028,0301) BurnedInAnnotation is not NO"
        )
    sop_class = str(read_attribute(ds, "SOPClassUID", "") or "").strip()
    if sop_class == SECONDARY_CAPTURE_ROOT or sop_class.startswith(SECONDARY_CAPTURE_ROOT + "."):
        return (
            "(0008,0016) SOPClassUID is a Secondary Capture storage class "
            "and (0028,0301) BurnedInAnnotation is not NO"
        )
    return None


def check_coverage(ds: Dataset, plan: MaskPlan, *, accept_burned_in: bool, label: str | None = None,
                   defer: bool = False) -> str | None:
    """Refuse ``ds`` when it may carry burned-in text and ``plan`` masks nothing.

    Only what the plan blanks or keeps counts as coverage: a user rectangle that
    lies outside the image was dropped from it (and noted), so it lifts nothing.
    A user rectangle that covers any pixel counts: it states that the text is
    covered, which is checked only by the text-like rows detector and ``--ocr-check``.

    Args:
        ds: the object.
        plan: what will be blanked in it.
        accept_burned_in: the user checked the pixels (``--accept-burned-in``): never refuse.
        label: how the message names the object (a path or a pseudonymous id); optional.
        defer: ``--redact-text`` will look at the pixels: return the refusal message instead of
            raising it; the OCR redaction either clears it (its second pass reads nothing
            PHI-like after masking) or raises it (:mod:`dcmexport.mask.redact`).

    Returns:
        None when nothing is refused; with ``defer``, the deferred refusal's message.

    Raises:
        BurnedInError: refused; the message names the reason (tags and keywords)
            and the flags that resolve it.
    """
    reason = may_carry_burned_in(ds)
    if reason is not None and plan.is_empty and not accept_burned_in:
        # The plan's notes say why a user mask did not count (it lies outside the image).
        why = f" ({'; '.join(plan.notes)})" if plan.notes else ""
        message = (
            f"{label or 'object'}: may carry burned-in text ({reason}) and no mask preset, ultrasound region "
            f"or user mask covers it{why}"
        )
        if defer:
            return message
        raise BurnedInError(f"{message}; {RESOLVE_HINT}")
    return None
