"""Plain-English descriptions of what de-identification does, and the DeidentificationMethod text.

A README section is kept equal to :func:`render_actions_markdown` by a test, so the
documentation cannot drift from the code (dicognito's habit).
"""

from __future__ import annotations

from collections import Counter

from dcmexport.deid.echo import DESCRIPTION as ECHO_DESCRIPTION
from dcmexport.deid.marking import describe_marking
from dcmexport.deid.options import CID7050, DeidOptions, method_codes
from dcmexport.deid.table import ProfileTable, load_table

_LO_MAX = 64  # PS3.5 6.2: LO holds at most 64 characters per value
_SAFE_HARBOR_TEXT = "Safe Harbor: dates to year, ages over 89 as 090Y"

#: What each option does here, in plain English (field name -> sentence).
_OPTION_TEXT: dict[str, str] = {
    "retain_modified_dates": "Retain Longitudinal Temporal Information, Modified Dates (113107): every date and "
    "date-time is shifted by one offset per patient (365 to 3650 days back, derived from the key and "
    "the original Patient ID), so intervals between a patient's studies survive; times of day and the "
    "Timezone Offset From UTC are kept when well formed (HHMMSS.FFFFFF, +HHMM), otherwise the Basic Profile "
    "action applies.",
    "retain_full_dates": "Retain Longitudinal Temporal Information, Full Dates (113106): dates, times and "
    "date-times are kept unchanged.",
    "retain_patient_chars": "Retain Patient Characteristics (113108): sex, age, size, weight, ethnic group, "
    "smoking and pregnancy status are kept; free-text characteristics (allergies, special needs) are "
    "cleaned.",
    "retain_device_id": "Retain Device Identity (113109): device serial numbers, station names and "
    "calibration data are kept; AE titles are cleaned.",
    "retain_institution_id": "Retain Institution Identity (113112): institution name, address, department "
    "and clinical-trial site are kept.",
    "retain_uids": "Retain UIDs (113110): study, series, instance and frame-of-reference UIDs are kept.",
    "retain_safe_private": "Retain Safe Private (113111): private elements on the allow list "
    "(presets/deid/safe_private.toml, from the CTP dictionary) are kept with their private creator; "
    "all other private elements are removed.",
    "clean_descriptors": "Clean Descriptors (113105): descriptions, comments and labels are kept only "
    "when every word is in the descriptor vocabulary (presets/deid/keep.toml) and no number has more "
    "than 3 digits; otherwise the Basic Profile action applies. Descriptor sequences are kept and "
    "cleaned item by item.",
    "clean_graphics": "Clean Graphics (113103): overlays (60xx), curves (50xx) and graphic annotations "
    "are removed entirely, since their content cannot be checked automatically.",
    "clean_structured_content": "Clean Structured Content (113104): content, acquisition context and "
    "specimen preparation sequences are kept and cleaned item by item.",
    "safe_harbor": "HIPAA Safe Harbor: every date and date-time is reduced to 1 January of its year "
    "(after the shift when dates are modified), times follow the Basic Profile, and ages over 89 "
    "years become 090Y.",
}


def method_values(options: DeidOptions, *, pixels_cleaned: bool = False) -> list[str]:
    """Return the DeidentificationMethod (0012,0063) values (LO, each <= 64 characters)."""
    edition = load_table().edition
    values = [f"dcmexport PS3.15-{edition} Annex E profile {options.profile}"[:_LO_MAX]]
    values += [meaning[:_LO_MAX] for code, meaning in method_codes(options, pixels_cleaned=pixels_cleaned)
               if code != "113100"]
    if options.safe_harbor:
        values.append(_SAFE_HARBOR_TEXT)
    return values


def method_description(options: DeidOptions) -> str:
    """Return the DeidentificationMethod text as one line (values joined by '; ')."""
    return "; ".join(method_values(options))


def describe_actions(options: DeidOptions) -> list[str]:
    """Return a plain-English list of everything de-identification does under ``options``.

    Counts come from the shipped Table E.1-1 resolved under the options, so the text always
    matches what the engine does (PS3.15 E.1.1, E.3).
    """
    from dcmexport.deid.actions import (  # local: actions imports this module's siblings
        DUMMY_PN,
        Action,
        RulePlan,
    )

    plan = RulePlan(options)
    table = load_table()
    counts = Counter(d.action.value for d in plan.exact.values())
    on = [name for name in _OPTION_TEXT if getattr(options, name)]
    lines = [
        f"Applies the Basic Application Level Confidentiality Profile of DICOM PS3.15 {table.edition}, "
        f"Table E.1-1 ({len(table.entries)} rows), to the dataset, to every sequence item at any depth and "
        "to the file meta information.",
        "Each row's Basic Profile code resolves to one action, by the first rule that applies; where "
        "PS3.15 leaves the choice to the IOD (combined codes), the action never removes a possibly "
        "required attribute. When two enabled options disagree, clean (C) wins over keep (K). The rules, "
        "with the number of rows each decides:",
        *_rule_lines(table),
        f"Under this profile, of the {len(plan.exact)} individually listed attributes: "
        f"{counts.get('X', 0)} are removed, {counts.get('Z', 0)} emptied, {counts.get('D', 0)} replaced by "
        f"dummy values, {counts.get('U', 0)} UIDs remapped, {counts.get('C', 0)} cleaned, "
        f"{counts.get('shift', 0)} dates shifted, {counts.get('year', 0)} dates reduced to the year and "
        f"{counts.get('K', 0)} kept.",
        "What each action does (its label is what the manifest counts):",
        *(f"`{action.value}`: {action.description}." for action in Action),
        "UIDs (instance, study, series, frame of reference and every reference to them, in the dataset "
        "and in the file meta) become 2.25.<integer from the first 16 bytes of HMAC-SHA256(key, UID)>, "
        "so references still resolve and the same key gives the same UIDs in every run; well-known "
        "UIDs (SOP classes, transfer syntaxes) and class/syntax attributes are never changed.",
        "Patient ID becomes ANON- plus 10 base32 characters of HMAC-SHA256(key, Patient ID) and "
        "Patient Name ANON^ plus the same characters, unless a patient map gives explicit pseudonyms.",
        f"Every attribute with VR PN that the table does not list, anywhere, is replaced by {DUMMY_PN}.",
        "Unlisted free text (LO, SH, UC, LT, ST, UT, UR, AE) is removed unless its keyword is on the "
        "allow list in presets/deid/keep.toml; unlisted UIDs are remapped; unlisted dates follow the "
        "date rules; unknown public attributes (VR UN), group lengths and whole overlay groups (60xx) "
        "are removed.",
        ECHO_DESCRIPTION,
        "All private attributes (odd groups), including private sequences and private creators, are "
        "removed" + (" except the Retain Safe Private allow list." if options.retain_safe_private else "."),
        "File meta: Media Storage SOP Instance UID is set to the new SOP Instance UID; source, sending "
        "and receiving AE titles, presentation addresses and private information are removed; the "
        "transfer syntax, SOP class and implementation UIDs are kept. The 128-byte preamble is zeroed.",
    ]
    if not on:
        lines.append("No profile option is enabled: dates and times listed in the table are removed, "
                     "emptied or replaced by dummy values.")
    lines += [_OPTION_TEXT[name] for name in on]
    codes = ", ".join(f"{c} {CID7050[c]}" for c, _ in method_codes(options))
    dates = ("MODIFIED" if options.retain_modified_dates or options.safe_harbor
             else "UNMODIFIED" if options.retain_full_dates else "REMOVED")
    lines += [
        "The marking claims only what was done to the pixels: Patient Identity Removed is YES only when "
        "the pixels are known clean, Burned In Annotation becomes NO only when everything outside the "
        "image regions was blanked and OCR read no text on any frame, and 113101 Clean Pixel Data is "
        "listed only when masking changed pixels. A De-identification Method value 'pixels: ...' names "
        "the case, and `verify` reports a NO by that name (a note, not a finding). The cases, first match wins:",
        *describe_marking(),
        f"De-identification Method Code Sequence lists {codes} (plus 113101 Clean Pixel Data as above); "
        f"Longitudinal Temporal Information Modified is {dates}.",
    ]
    return lines


def _rule_lines(table: ProfileTable) -> list[str]:
    """One line per :data:`BASIC_RULES` rule: codes, condition, action and how many rows it decides."""
    from dcmexport.deid.actions import BASIC_RULES

    decided: Counter[int] = Counter()
    for entry in table.entries:
        for number, rule in enumerate(BASIC_RULES):
            if entry.basic in rule.codes and (rule.applies is None or rule.applies(entry)):
                decided[number] += 1
                break
    lines = []
    for number, rule in enumerate(BASIC_RULES):
        codes = ", ".join(rule.codes)
        scope = f"{codes}, {rule.when}" if rule.when else f"{codes}, every other row"
        rows = decided[number]
        if not rows and not rule.when:
            continue  # a code this edition's Basic Profile column does not use (K, C)
        lines.append(f"{scope}: `{rule.action.value}` ({rows} row{'s' if rows != 1 else ''}).")
    return lines


def render_actions_markdown(options: DeidOptions) -> str:
    """Return :func:`describe_actions` as a Markdown bullet list (one bullet per line, trailing newline)."""
    return "".join(f"- {line}\n" for line in describe_actions(options))


__all__ = ["describe_actions", "method_description", "method_values", "render_actions_markdown"]
