"""Verify DICOM outputs: re-check a de-identified dataset with the engine's own rule set.

:func:`dcmexport.deid.inspect_dataset` lists every attribute de-identification would still
touch, and :func:`iter_dataset_problems` decides which of those rows are evidence of a leak
(the table in :mod:`dcmexport.audit.verify`); plus the marking, the file meta group and the
preamble. Problems name tags and keyword paths, never values (unless ``show_values``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from dcmexport.audit.inspect import resolve_row, value_text
from dcmexport.audit.verify.findings import VALUE_SHOWN, BadMedia, Kind, Problem
from dcmexport.deid import DeidOptions, inspect_dataset
from dcmexport.deid.actions import DUMMY_PN, DUMMY_TEXT, cap_age, dummy_value, is_clean_descriptor, year_only
from dcmexport.deid.marking import PixelEvidence, evidence_from_method
from dcmexport.deid.table import load_keep_lists
from dcmexport.encode.jpeg_segments import iter_pixel_data_text
from dcmexport.read import quiet_pydicom

_PATIENT_NAME, _PATIENT_ID = 0x00100010, 0x00100020
_SOP_INSTANCE, _MEDIA_SOP_INSTANCE = 0x00080018, 0x00020003
#: PS3.10 7.1 elements the engine keeps in the file meta group (plus MediaStorageSOPInstanceUID).
_META_ALLOWED = frozenset({0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013})
#: The marking the engine itself writes after its pass (PS3.15 E.1.1; PS3.3 C.7.1.1): inspect
#: would remove DeidentificationMethod as unlisted text, but it is the engine's own output.
_MARKING_PATHS = frozenset({"DeidentificationMethod", "DeidentificationMethodCodeSequence",
                            "PatientIdentityRemoved", "LongitudinalTemporalInformationModified"})
#: Keyed pseudonyms of dcmexport.deid.engine.Deidentifier._patient: 10 base32 characters.
_PSEUDONYM = {_PATIENT_ID: re.compile(r"ANON-[A-Z2-7]{10}"), _PATIENT_NAME: re.compile(r"ANON\^[A-Z2-7]{10}")}
_NUMERIC_VRS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
_TEXT_VRS = frozenset({"LO", "SH", "UC", "LT", "ST", "UT", "UR", "AE", "PN", "CS"})
_REMOVING = frozenset({"X", "text-unlisted"})
_ACCEPTED_EVIDENCE_DETAIL = ("(0012,0062) PatientIdentityRemoved NO: accepted-uncleaned, the pixels may hold "
                             "burned-in text ((0028,0301) BurnedInAnnotation not NO) and no mask applied; accepted "
                             "by the user (--accept-burned-in)")
_ACCEPTED_DETAIL = ("(0012,0062) PatientIdentityRemoved NO: (0028,0301) BurnedInAnnotation YES and no mask "
                    "applied; burned-in text was accepted by the user (--accept-burned-in)")


def tag_label(tag: int) -> str:
    """``(gggg,eeee)`` for a tag number."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def element_values(elem: DataElement) -> list[Any]:
    """The values of an element as a list: empty for an empty element, one item for a single value."""
    value = elem.value
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, MultiValue | list):
        return list(value)
    return [value]


def _shown(elem: DataElement | None, show_values: bool) -> str | None:
    if not show_values or elem is None:
        return None
    return value_text(elem)[:VALUE_SHOWN]


def _is_dummy(elem: DataElement) -> bool:
    """True when ``elem`` holds nothing, or exactly the engine's dummy for its VR (PS3.15 E.1.1 'D')."""
    values = element_values(elem)
    vr = elem.VR
    if not values or vr == "UI":  # a remapped UID cannot be told from any other without the inputs
        return True
    if vr in _NUMERIC_VRS:
        try:
            return all(float(v) == 0 for v in values)
        except (TypeError, ValueError):
            return False
    dummy = dummy_value(vr)
    if isinstance(dummy, bytes | type(None)):
        return False  # binary and AT dummies are empty, and the value is not
    dummies = {str(dummy), DUMMY_TEXT} if vr == "PN" else {str(dummy)}  # PN: also the dummy of earlier versions
    return all(str(v).strip(" \0") in dummies for v in values)


def _is_pseudonym(elem: DataElement, tag: int, allowed: frozenset[str]) -> bool:
    for value in element_values(elem):
        text = str(value).strip(" \0")
        if text and text not in (DUMMY_TEXT, DUMMY_PN) and text not in allowed and not _PSEUDONYM[tag].fullmatch(text):
            return False
    return True


def iter_dataset_problems(
    ds: Dataset,
    options: DeidOptions,
    *,
    pseudonyms: frozenset[str] = frozenset(),
    show_values: bool = False,
) -> Iterator[Problem]:
    """Yield what a de-identified dataset still carries that ``options`` forbids (see the module doc).

    Args:
        ds: a dataset as read from an output file (``file_meta`` and ``preamble`` included).
        options: the profile the output was made with.
        pseudonyms: extra accepted PatientID/PatientName values (the ``--patient-map`` ones).
        show_values: attach the offending value to each problem (PHI).

    Returns:
        An iterator of problems; details are tag numbers and keyword paths only.

    Standard: PS3.15 E.1.1 (actions, marking), PS3.10 7.1 (file meta), PS3.3 C.7.1.1.
    """
    vocabulary = load_keep_lists().vocabulary
    for row in inspect_dataset(ds, options):
        tag = int(row.tag[1:5] + row.tag[6:10], 16)
        if row.path in _MARKING_PATHS:
            continue
        elem = resolve_row(ds, row)
        detail = row.tag if row.path == row.tag else f"{row.tag} {row.path}"
        action = row.action
        if action == "private":
            yield Problem(Kind.PRIVATE_TAG, detail, _shown(elem, show_values))
            continue
        if action in _REMOVING:
            yield Problem(Kind.ATTRIBUTE_PRESENT, detail, _shown(elem, show_values))
            continue
        if elem is None:
            continue  # inspect saw it, so this cannot happen; never guess
        if elem.VR == "SQ":
            # Z empties a sequence; every other action keeps it and inspect lists its items.
            if action == "Z" and elem.value:
                yield Problem(Kind.NOT_EMPTY, detail, _shown(elem, show_values))
            continue
        # The engine pseudonymises PatientID at any depth and PatientName at the top level only.
        if tag in _PSEUDONYM and action == "D" and (tag == _PATIENT_ID or "[" not in row.path):
            if not _is_pseudonym(elem, tag, pseudonyms):
                yield Problem(Kind.NOT_PSEUDONYM, detail, _shown(elem, show_values))
            continue
        if action == "Z":
            if element_values(elem):
                yield Problem(Kind.NOT_EMPTY, detail, _shown(elem, show_values))
        elif action in ("D", "pn-unlisted"):
            if not _is_dummy(elem):
                yield Problem(Kind.NOT_DUMMY, detail, _shown(elem, show_values))
        elif action == "C":
            if elem.VR in _TEXT_VRS and not all(is_clean_descriptor(str(v), vocabulary) for v in element_values(elem)):
                yield Problem(Kind.NOT_CLEAN, detail, _shown(elem, show_values))
        elif action == "year":
            if elem.VR in ("DA", "DT") and any(
                    year_only(str(v), elem.VR) != str(v).strip()[:8] for v in element_values(elem)):
                yield Problem(Kind.DATE_NOT_YEAR, detail, _shown(elem, show_values))
        elif action == "age" and elem.VR == "AS" and any(
                cap_age(str(v)) != str(v).strip() for v in element_values(elem)):
            yield Problem(Kind.AGE_NOT_CAPPED, detail, _shown(elem, show_values))
        # "U" and "shift": a remapped UID / shifted date is indistinguishable without the inputs.
    yield from _marking_problems(ds, show_values)
    yield from _meta_problems(ds, show_values)
    preamble = getattr(ds, "preamble", None)
    if preamble and preamble.strip(b"\0"):
        yield Problem(Kind.PREAMBLE, "128-byte preamble is not all zero", f"<{len(preamble)} bytes>" if show_values else None)


def _marking_problems(ds: Dataset, show_values: bool) -> Iterator[Problem]:
    removed = ds.get(0x00120062)  # the element, not its value
    value = "" if removed is None else str(removed.value).strip().upper()
    burned_in = ds.get(0x00280301)
    method = ds.get(0x00120063)
    evidence = evidence_from_method(element_values(method)) if method is not None else None
    if value == "NO" and evidence is not None and not evidence.clean:
        # The engine said NO and why (dcmexport.deid.marking, issue #20 item 1): an honest marking.
        if evidence is PixelEvidence.ACCEPTED:
            yield Problem(Kind.PIXELS_ACCEPTED, _ACCEPTED_EVIDENCE_DETAIL, _shown(removed, show_values))
        else:
            yield Problem(Kind.PIXELS_NOT_CLAIMED, f"(0012,0062) PatientIdentityRemoved NO: {evidence.value}",
                          _shown(removed, show_values))
    elif value == "NO" and burned_in is not None and str(burned_in.value).strip().upper() == "YES":
        # The engine's own marking when the pixels may hold text no mask covered: only with
        # --accept-burned-in (PS3.3 C.7.1.1; dcmexport.deid.engine never claims YES then).
        yield Problem(Kind.PIXELS_ACCEPTED, _ACCEPTED_DETAIL, _shown(removed, show_values))
    elif value != "YES":
        yield Problem(Kind.MARKING, "(0012,0062) PatientIdentityRemoved missing or not YES", _shown(removed, show_values))
    if method is None or not element_values(method):
        yield Problem(Kind.MARKING, "(0012,0063) DeidentificationMethod missing")


def _meta_problems(ds: Dataset, show_values: bool) -> Iterator[Problem]:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    for elem in meta:  # a Dataset iterates its elements
        if int(elem.tag) not in _META_ALLOWED:
            yield Problem(Kind.FILE_META, f"{tag_label(int(elem.tag))} {keyword_for_tag(elem.tag) or 'unknown'}",
                          _shown(elem, show_values))
    media = str(meta.get(_MEDIA_SOP_INSTANCE).value).strip(" \0") if _MEDIA_SOP_INSTANCE in meta else ""
    sop = str(ds[_SOP_INSTANCE].value).strip(" \0") if _SOP_INSTANCE in ds else ""
    if media and sop and media != sop:
        yield Problem(Kind.FILE_META, "(0002,0003) MediaStorageSOPInstanceUID differs from (0008,0018) SOPInstanceUID")


def iter_file_problems(path: Path, options: DeidOptions, *, pseudonyms: frozenset[str] = frozenset(),
                       show_values: bool = False) -> Iterator[Problem]:
    """Read a DICOM output file and yield :func:`iter_dataset_problems` of it.

    Raises:
        BadMedia: the file has the DICM prefix but pydicom cannot read it.
    """
    import pydicom

    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError:
            raise BadMedia("DICM prefix but not a readable DICOM file") from None
        except Exception as exc:  # noqa: BLE001 - pydicom's text can quote values
            raise BadMedia(f"not a readable DICOM file ({type(exc).__name__})") from None
        yield from iter_dataset_problems(ds, options, pseudonyms=pseudonyms, show_values=show_values)
        for _frame, kind in iter_pixel_data_text(ds):  # text segments inside compressed frames (issue #20 item 3)
            yield Problem(Kind.METADATA, f"(7FE0,0010) PixelData compressed frame: {kind}")
