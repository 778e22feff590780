"""What the profile does to one attribute, asked by keyword: may its de-identified value name a file?

``--layout`` builds output paths from attributes of the de-identified dataset. A path
must carry neither PHI nor a value the profile blanked, so the allowed set is read
from the engine's own rules (:class:`~dcmexport.deid.actions.RulePlan`), not from a
hand list: an attribute may name a file when the profile keeps it (Modality,
InstanceNumber, dates under ``--retain full dates``), replaces it with a keyed
pseudonym or UID (PatientID, StudyInstanceUID), shifts or reduces it (dates under
the longitudinal or Safe Harbor options), or cleans it against the descriptor
vocabulary. Removed, emptied and dummy values are refused, and so is the patient's
pseudonymous *name* (a person-name field in a path reads as a name).
"""

from __future__ import annotations

from functools import lru_cache

from dcmexport.deid.actions import PATIENT_ID, PATIENT_NAME, Action, RulePlan
from dcmexport.deid.options import DeidOptions
from dcmexport.read.pydicom_adapter import dictionary_vr

#: Actions whose result is a value fit for a file name (kept, pseudonymised, shifted, cleaned).
NAMING_ACTIONS = frozenset({Action.KEEP, Action.UID, Action.SHIFT, Action.YEAR, Action.AGE, Action.FORM,
                            Action.CLEAN})
#: VRs whose values are not text or numbers (sequences, binary, tags): never in a path.
_NOT_NAMING_VRS = frozenset({"SQ", "OB", "OW", "OD", "OF", "OL", "OV", "UN", "AT", ""})


@lru_cache(maxsize=8)
def _plan(options: DeidOptions) -> RulePlan:
    return RulePlan(options)


def attribute_action(tag: int, options: DeidOptions) -> Action:
    """The action the profile ``options`` takes on the top-level attribute ``tag`` (dictionary VR).

    PatientID and PatientName are replaced by the keyed patient pseudonym whatever the table says
    (:class:`~dcmexport.deid.engine.Deidentifier`), which is :attr:`Action.PSEUDONYM` here.
    """
    if tag in (PATIENT_ID, PATIENT_NAME):
        return Action.PSEUDONYM
    return _plan(options).decide(tag, dictionary_vr(tag) or None).action


def naming_refusal(tag: int, options: DeidOptions) -> str | None:
    """Why the de-identified value of ``tag`` may not name a file under ``options``, or None when it may.

    Returns:
        A PHI-free reason (what the profile does to it), or None.
    """
    vr = dictionary_vr(tag) or ""
    if vr in _NOT_NAMING_VRS or " or " in vr:
        return f"its VR {vr or 'unknown'} is not a text or number value"
    action = attribute_action(tag, options)
    if action is Action.PSEUDONYM:
        return None if tag == PATIENT_ID else "it is the patient's (pseudonymous) name; use {PatientID}"
    if action is Action.DUMMY and vr == "UI":
        return None  # a Type 1 UID: the dummy of a UI is its keyed remap
    if action in NAMING_ACTIONS:
        return None
    what = {Action.REMOVE: "removes it", Action.EMPTY: "empties it", Action.DUMMY: "replaces it with a dummy value",
            Action.PN_UNLISTED: "replaces it with a dummy name", Action.TEXT_UNLISTED: "removes it (free text)",
            Action.PRIVATE: "removes it (private)"}.get(action, f"applies {action.value} to it")
    return f"the de-identification profile {what}"
