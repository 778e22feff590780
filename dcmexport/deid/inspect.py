"""Dry run: which attributes of a dataset would be changed, and how. Never returns values."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from dcmexport.deid.actions import (
    PATIENT_ID,
    PATIENT_NAME,
    Action,
    RulePlan,
    _dictionary_vr,
    is_well_formed,
    resolve_vr,
)
from dcmexport.deid.options import DeidOptions
from dcmexport.deid.table import load_safe_private


@dataclass(frozen=True)
class InspectRow:
    """One attribute that de-identification would change (tag and keyword only, never the value)."""

    tag: str  # "(0010,0010)"
    keyword: str  # "PatientName"; "" for unknown and private attributes
    action: str  # resolved action label: X, Z, D, U, C, shift, year, age, private, pn-unlisted, text-unlisted
    path: str  # full path: "RequestAttributesSequence[0].RequestedProcedureID"; top level: the keyword
    has_value: bool


def inspect_dataset(ds: Dataset, options: DeidOptions) -> list[InspectRow]:
    """List every attribute, at any sequence depth, that :class:`Deidentifier` would change.

    Kept attributes are not listed; a kept or cleaned sequence is descended into. The rows come
    from the same :class:`RulePlan` as the engine, so the listing cannot disagree with it.
    Private attributes of the Retain Safe Private allow list are reported as kept (not listed).

    Args:
        ds: the dataset (not modified).
        options: the options that would apply.

    Returns:
        Rows in dataset order (depth-first).
    """
    plan = RulePlan(options)
    safe = load_safe_private() if options.retain_safe_private else frozenset()
    rows: list[InspectRow] = []
    _walk(ds, plan, safe, "", 0, rows)
    return rows


def _walk(ds: Dataset, plan: RulePlan, safe: frozenset[tuple[str, int, int]], prefix: str, depth: int,
          rows: list[InspectRow]) -> None:
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        vr = resolve_vr(ds, tag, raw.VR if raw is not None else None)
        private = bool((tag >> 16) & 1)
        keyword = "" if private else (keyword_for_tag(tag) or "")
        label = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        path = prefix + (keyword or label)
        if private:
            action = Action.PRIVATE
            elem_no = tag & 0xFFFF
            if safe and elem_no >= 0x1000:
                ctag = (tag & 0xFFFF0000) | (elem_no >> 8)
                creator = str(ds[ctag].value).strip() if ctag in ds else ""
                if (creator, tag >> 16, elem_no & 0xFF) in safe:
                    action = Action.KEEP
            elif safe and 0x10 <= elem_no <= 0xFF:
                block = (elem_no << 8) & 0xFFFF
                if any(t & 0xFFFF0000 == tag & 0xFFFF0000 and (t & 0xFF00) == block for t in sorted(ds.keys())
                       if (t & 0xFFFF) >= 0x1000):
                    action = Action.KEEP  # may still be removed if none of its elements is safe
        else:
            decision = plan.decide(tag, vr)
            action = decision.action
            if action is Action.FORM:  # kept when well formed, as the engine does
                elem = ds[tag]
                values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
                well_formed = all(is_well_formed(str(v or ""), str(elem.VR)) for v in values)
                action = Action.KEEP if well_formed else decision.fallback
            if tag == PATIENT_ID or (tag == PATIENT_NAME and depth == 0):
                action = Action.DUMMY
        is_seq = (vr or _dictionary_vr(tag)) == "SQ"
        if action is not Action.KEEP:
            elem = ds[tag]
            has_value = not elem.is_empty
            rows.append(InspectRow(label, keyword, action.value, path, has_value))
        if is_seq and action not in (Action.REMOVE, Action.EMPTY, Action.PRIVATE, Action.TEXT_UNLISTED):
            value = ds[tag].value
            if isinstance(value, Sequence):
                for i, item in enumerate(value):
                    _walk(item, plan, safe, f"{path}[{i}].", depth + 1, rows)
