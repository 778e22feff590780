"""The de-identification engine: one recursive pass over a pydicom Dataset, in memory.

It never reads or writes files; guards, summaries and saving are the caller's steps around it.
Every decision comes from :class:`~dcmexport.deid.actions.RulePlan` (built once per
:class:`Deidentifier`), every pseudonym from the :class:`~dcmexport.deid.keys.Key`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from dcmexport.deid.actions import (
    PATIENT_ID,
    PATIENT_NAME,
    TEXT_VRS,
    Action,
    Decision,
    RulePlan,
    _dictionary_vr,
    cap_age,
    dummy_value,
    is_clean_descriptor,
    is_well_formed,
    resolve_vr,
    shift_date,
    year_only,
)
from dcmexport.deid.describe import method_description, method_values
from dcmexport.deid.echo import EchoGuard
from dcmexport.deid.keys import Key, date_offset_days, patient_token, uid_from_key
from dcmexport.deid.marking import Marking, PixelState, decide_marking
from dcmexport.deid.options import DeidOptions, method_codes
from dcmexport.deid.table import load_safe_private
from dcmexport.encode.dicom import native_encoding
from dcmexport.errors import DeidentificationError

#: Well-known UIDs (SOP classes, transfer syntaxes, coding schemes...) are never remapped.
WELL_KNOWN_UIDS = frozenset(UID_dictionary)
#: File meta elements kept (PS3.10 7.1); anything else in group 0002 is removed (AE titles,
#: presentation addresses, private information). MediaStorageSOPInstanceUID is remapped.
_META_KEEP = frozenset({0x00020000, 0x00020001, 0x00020002, 0x00020010, 0x00020012, 0x00020013})
_MEDIA_SOP_INSTANCE = 0x00020003
_SOP_INSTANCE, _STUDY_UID, _SERIES_UID = 0x00080018, 0x0020000D, 0x0020000E
_BURNED_IN = 0x00280301
_CHARSET = 0x00080005
_LABELS: dict[Action, str] = {a: a.value for a in Action}
_REMOVING = frozenset({Action.REMOVE, Action.TEXT_UNLISTED, Action.PRIVATE})
#: VRs whose dummy/empty value can be written without decoding the old one.
_SIMPLE_VRS = frozenset({"DA", "DT", "TM", "AS", "DS", "IS", "CS", "AE", "LO", "SH", "PN", "LT", "ST", "UT",
                         "UC", "UR", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
#: VRs whose values the Clean action can check word by word (text, and coded strings).
_CLEANABLE_VRS = TEXT_VRS | {"CS"}
_EMPTY: dict[str, Any] = {vr: None for vr in ("FL", "FD", "SL", "SS", "UL", "US", "SV", "UV")}


@dataclass(frozen=True)
class LinkageRecord:
    """One original -> pseudonym pair, for the data custodian only (this IS PHI)."""

    kind: str  # "PatientID", "PatientName", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"
    original: str
    pseudonym: str


@dataclass
class DeidReport:
    """What one :meth:`Deidentifier.deidentify` call did; PHI-free."""

    action_counts: dict[str, int]
    sop_instance_uid: str  # the NEW SOP Instance UID
    patient_pseudonym: str  # the new PatientID ("" when the object had none)
    pixel_evidence: str = ""  # why the marking says what it says about the pixels (deid.marking.PixelEvidence)


@dataclass
class _Run:
    """State of one deidentify() call."""

    offset: int
    patient_id: str
    patient_name: str
    echo: EchoGuard
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, action: Action, n: int = 1) -> None:
        label = _LABELS[action]
        self.counts[label] = self.counts.get(label, 0) + n

    def count_label(self, label: str) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1


def _tag_label(tag: int) -> str:
    kw = keyword_for_tag(tag) if not (tag >> 16) & 1 else "private"
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {kw or 'unknown'}"


class Deidentifier:
    """Apply PS3.15 Annex E (Table E.1-1 + options + fail-closed rules) to datasets in place."""

    def __init__(self, options: DeidOptions, key: Key,
                 patient_map: Mapping[str, tuple[str, str]] | None = None) -> None:
        """Precompute every table decision for ``options``.

        Args:
            options: profile options.
            key: the secret all pseudonyms derive from.
            patient_map: original PatientID -> (new PatientID, new PatientName), overriding the
                keyed pseudonyms (research cohorts with assigned subject IDs).

        Raises:
            PresetError: a table or allow-list file is missing or invalid.
        """
        self.options = options
        self.key = key
        self._plan = RulePlan(options)
        self._vocab = self._plan.keep.vocabulary
        self._patient_map = dict(patient_map or {})
        self._safe_private = load_safe_private() if options.retain_safe_private else frozenset()
        self._uids: dict[str, str] = {}
        self._patients: dict[str, tuple[str, str]] = {}
        self._marking: dict[tuple[Marking, bool], tuple[RawDataElement, ...]] = {}
        self._links: dict[tuple[str, str], str] = {}
        self._link_order: list[LinkageRecord] = []  # first-seen order, so callers can take the new ones

    # --- pseudonyms ---------------------------------------------------------------------------

    def remap_uid(self, uid: str) -> str:
        """Return the keyed ``2.25.<int>`` replacement of ``uid`` (well-known UIDs unchanged).

        Same key and same input give the same output in every process and run (PS3.15 E.3.9
        is the option that disables this: Retain UIDs).
        """
        uid = uid.strip().rstrip("\0")
        if not uid or uid in WELL_KNOWN_UIDS:
            return uid
        new = self._uids.get(uid)
        if new is None:
            new = self._uids[uid] = uid_from_key(self.key, uid)
        return new

    def _patient(self, original_id: str) -> tuple[str, str]:
        if original_id in self._patient_map:
            return self._patient_map[original_id]
        if not original_id:
            return "", ""
        found = self._patients.get(original_id)
        if found is None:
            token = patient_token(self.key, original_id)
            found = self._patients[original_id] = (f"ANON-{token}", f"ANON^{token}")
        return found

    def linkage(self, start: int = 0) -> list[LinkageRecord]:
        """Return the original -> pseudonym pairs seen so far, in first-seen order (PHI!).

        ``start`` skips the first pairs (a batch takes only those its last object added).
        """
        return self._link_order[start:]

    def linkage_count(self) -> int:
        """How many distinct pairs have been seen so far."""
        return len(self._link_order)

    def _link(self, kind: str, original: str, pseudonym: str) -> None:
        if (kind, original) not in self._links:
            self._links[(kind, original)] = pseudonym
            self._link_order.append(LinkageRecord(kind, original, pseudonym))

    def method_description(self) -> str:
        """Return the DeidentificationMethod text for this profile and options."""
        return method_description(self.options)

    # --- the pass -----------------------------------------------------------------------------

    def deidentify(self, ds: Dataset, *, pixels: PixelState | None = None) -> DeidReport:
        """De-identify ``ds`` in place, including ``ds.file_meta``, and mark it (PS3.15 E.1.1, E.3).

        Args:
            ds: the dataset; changed in place.
            pixels: what the caller did to and knows about the pixels (masks, OCR, the
                burned-in policy), built from the ORIGINAL dataset; it decides Patient Identity
                Removed, Burned In Annotation and 113101 (:func:`dcmexport.deid.marking.decide_marking`).
                None: nobody masked or checked them (:meth:`PixelState.from_dataset`).

        Returns:
            Counts of actions by kind, the new SOP Instance UID and the patient pseudonym.

        Raises:
            DeidentificationError: an attribute could not be processed (the message names the
                tag and keyword only); the dataset must then be discarded.
        """
        try:
            state = pixels if pixels is not None else PixelState.from_dataset(ds)
            orig_pid = _text(ds.get(PATIENT_ID))
            new_pid, new_name = self._patient(orig_pid)
            run = _Run(offset=date_offset_days(self.key, orig_pid), patient_id=new_pid, patient_name=new_name,
                       echo=EchoGuard(ds._dict.get(Tag(_CHARSET))))
            self._record_links(ds, orig_pid, new_pid, new_name)
            if getattr(ds, "preamble", None) is not None:
                ds.preamble = b"\0" * 128  # a preamble can hold a TIFF header with PHI
            self._clean(ds, 0, run)
            run.echo.apply(run.count_label, dummy_value)  # kept text repeating a value taken away
            self._clean_file_meta(ds)
            marking = self._mark(ds, state)
            sop = _text(ds.get(_SOP_INSTANCE))
        except DeidentificationError:
            raise
        except Exception as exc:  # noqa: BLE001 - fail closed, without the message (may hold values)
            raise DeidentificationError(
                f"de-identification failed ({type(exc).__name__}); the object is not written") from None
        if not sop:
            raise DeidentificationError("(0008,0018) SOPInstanceUID: missing, the object cannot be named; "
                                        "it is not written")
        return DeidReport(action_counts=run.counts, sop_instance_uid=sop, patient_pseudonym=new_pid,
                          pixel_evidence=marking.evidence.value)

    def mark(self, ds: Dataset, pixels: PixelState) -> str:
        """Write the marking of an already de-identified ``ds`` again, for what is known now.

        For a caller that learns more about the pixels after :meth:`deidentify` (OCR runs while
        the frames are rendered, before the DICOM output is written). ``pixels`` must describe
        the original dataset, as for :meth:`deidentify`.

        Returns:
            The pixel evidence name (:class:`dcmexport.deid.marking.PixelEvidence`).
        """
        return self._mark(ds, pixels).evidence.value

    def _record_links(self, ds: Dataset, orig_pid: str, new_pid: str, new_name: str) -> None:
        if orig_pid:
            self._link("PatientID", orig_pid, new_pid)
        name = _text(ds.get(PATIENT_NAME))
        if name:
            self._link("PatientName", name, new_name)
        if not self.options.retain_uids:
            for kind, tag in (("StudyInstanceUID", _STUDY_UID), ("SeriesInstanceUID", _SERIES_UID),
                              ("SOPInstanceUID", _SOP_INSTANCE)):
                uid = _text(ds.get(tag))
                if uid and (kind, uid) not in self._links:
                    try:
                        self._link(kind, uid, self.remap_uid(uid))
                    except Exception as exc:  # noqa: BLE001 - fail closed, naming only the tag
                        raise DeidentificationError(f"{_tag_label(tag)}: could not be processed "
                                                    f"({type(exc).__name__}); the object is not written") from None

    def _clean(self, ds: Dataset, depth: int, run: _Run) -> None:
        # Work on pydicom's element dict directly: Dataset.__getitem__/__delitem__/get_item
        # convert keys with Tag() on every call, which dominated the profile (issue #3 asks for
        # >= 3x dicognito). Raw elements are converted only when a value is needed.
        elems: MutableMapping[Any, Any] = ds._dict
        decide = self._plan.decide
        safe_private = self._safe_private
        creators: list[int] = []
        used_creators: set[int] = set()
        private_removed = 0
        private_seen = False
        for btag in list(elems):
            tag = int(btag)
            try:
                if tag & 0x10000:  # odd group: private (or illegal) attribute
                    private_seen = True
                    if not safe_private:
                        del elems[btag]
                        private_removed += 1
                    else:
                        self._private(ds, btag, depth, run, creators, used_creators)
                    continue
                vr = resolve_vr(ds, btag, elems[btag].VR)
                if vr == "UN" and _dictionary_vr(tag) == "SQ":
                    del elems[btag]  # a sequence that cannot be decoded cannot be checked: remove it
                    run.count(Action.REMOVE)
                    continue
                decision = decide(tag, vr)
                if tag == PATIENT_ID or (tag == PATIENT_NAME and depth == 0):
                    decision = Decision(Action.PSEUDONYM)
                action = decision.action
                if action is Action.KEEP:
                    kept_vr = vr or _dictionary_vr(tag)
                    if kept_vr == "SQ":
                        self._recurse(ds[btag], depth, run)
                    elif kept_vr in TEXT_VRS:
                        run.echo.note_kept(ds, btag, kept_vr)
                elif action in _REMOVING:
                    run.echo.note_original(elems[btag], vr or _dictionary_vr(tag))
                    del elems[btag]
                    run.count(action)
                elif (action is Action.EMPTY or action is Action.DUMMY or action is Action.PN_UNLISTED) and (
                        simple_vr := vr or _dictionary_vr(tag)) in _SIMPLE_VRS:
                    # No need to decode the old value: write the new element directly.
                    run.echo.note_original(elems[btag], simple_vr)
                    elems[btag] = DataElement(btag, simple_vr, dummy_value(simple_vr) if action is not Action.EMPTY
                                              else _EMPTY.get(simple_vr, ""))
                    run.count(action)
                else:
                    self._apply(ds, btag, decision, depth, run)
            except DeidentificationError:
                raise
            except Exception as exc:  # noqa: BLE001 - fail closed, naming only the tag
                raise DeidentificationError(
                    f"{_tag_label(tag)}: could not be processed ({type(exc).__name__}); "
                    "the object is not written") from None
        for ctag in creators:
            if ctag not in used_creators and ctag in elems:
                del elems[ctag]
                private_removed += 1
        if private_removed:
            run.count(Action.PRIVATE, private_removed)
        if private_seen and getattr(ds, "_private_blocks", None):
            ds._private_blocks = {}  # cached creator lookups may point at removed elements

    def _recurse(self, elem: DataElement, depth: int, run: _Run) -> None:
        if isinstance(elem.value, Sequence):
            for item in elem.value:
                self._clean(item, depth + 1, run)

    def _apply(self, ds: Dataset, tag: Any, decision: Decision, depth: int, run: _Run) -> None:
        action = decision.action
        if action in _REMOVING:
            elem = ds._dict[tag]
            run.echo.note_original(elem, elem.VR or _dictionary_vr(int(tag)))
            del ds._dict[tag]
            run.count(action)
            return
        elem = ds[tag]
        vr = elem.VR
        if vr == "SQ":
            if action is Action.EMPTY:
                elem.value = []
                run.count(action)
            else:  # D, U, C, K on a sequence: keep it, clean every item (PS3.15 E.1.1 note on SQ)
                self._recurse(elem, depth, run)
            return
        if action is not Action.CLEAN and action is not Action.FORM:
            run.echo.note_original(elem, vr)  # about to be emptied or replaced
        if action is Action.EMPTY:
            elem.value = elem.empty_value
        elif action is Action.DUMMY or action is Action.PN_UNLISTED:
            if vr == "UI":
                _map_values(elem, self.remap_uid)
            else:
                elem.value = dummy_value(vr) if elem.VM else elem.empty_value
        elif action is Action.UID:
            if vr == "UI":
                _map_values(elem, self.remap_uid)
            else:  # a U row whose element is not UI in this file (UN): cannot remap, remove
                del ds._dict[tag]
                run.count(Action.REMOVE)
                return
        elif action is Action.PSEUDONYM:
            if int(tag) == PATIENT_ID:
                _map_values(elem, lambda v: self._patient(v)[0] if v else v)
            else:
                elem.value = run.patient_name
        elif action is Action.CLEAN:
            # Only words can be checked against the vocabulary: binary values (Maker Note, OB) cannot
            # be cleaned, so they get the Basic Profile action (fail closed).
            if vr not in _CLEANABLE_VRS or not all(is_clean_descriptor(v, self._vocab) for v in _values(elem)):
                self._apply(ds, tag, Decision(decision.fallback), depth, run)
            elif vr in TEXT_VRS:
                run.echo.note_kept(ds, tag, vr)
            return
        elif action is Action.FORM:
            if not all(is_well_formed(v, vr) for v in _values(elem)):
                self._apply(ds, tag, Decision(decision.fallback), depth, run)
            return
        elif action is Action.SHIFT or action is Action.YEAR:
            if vr not in ("DA", "DT"):
                self._apply(ds, tag, Decision(decision.fallback), depth, run)
                return
            if not _map_values(elem, lambda v: self._date(v, vr, action, run.offset)):
                elem.value = dummy_value(vr)  # not a valid date: fail closed to a valid dummy
        elif action is Action.AGE:
            if vr != "AS":
                return
            if not _map_values(elem, cap_age):
                elem.value = elem.empty_value
        run.count(action if action is not Action.PSEUDONYM else Action.DUMMY)

    def _date(self, value: str, vr: str, action: Action, offset: int) -> str | None:
        if action is Action.YEAR and self.options.retain_modified_dates:
            shifted = shift_date(value, vr, offset)
            return None if shifted is None else year_only(shifted.split("-")[0], vr)
        if action is Action.YEAR:
            return year_only(value.split("-")[0] if vr == "DA" else value, vr)
        return shift_date(value, vr, offset)

    def _private(self, ds: Dataset, btag: Any, depth: int, run: _Run,
                 creators: list[int], used: set[int]) -> None:
        """Retain Safe Private (PS3.15 E.3.10): keep allow-listed elements and their creators."""
        tag = int(btag)
        elem_no = tag & 0xFFFF
        if 0x0010 <= elem_no <= 0x00FF:
            creators.append(btag)  # decided after the block's elements (creators sort first)
            return
        if elem_no >= 0x1000:
            ctag = (tag & 0xFFFF0000) | (elem_no >> 8)
            creator = _text(ds[ctag]) if ctag in ds._dict else ""
            if creator and (creator.strip(), tag >> 16, elem_no & 0xFF) in self._safe_private:
                used.add(ctag)
                elem = ds[btag]
                if isinstance(elem.value, Sequence):
                    self._recurse(elem, depth, run)
                return
        del ds._dict[btag]
        run.count(Action.PRIVATE)

    def _clean_file_meta(self, ds: Dataset) -> None:
        meta = getattr(ds, "file_meta", None)
        if meta is None:
            return
        for tag in list(meta.keys()):
            if tag == _MEDIA_SOP_INSTANCE:
                continue
            if tag not in _META_KEEP:
                del meta[tag]
        if _MEDIA_SOP_INSTANCE in meta:
            sop = _text(ds.get(_SOP_INSTANCE))
            # Keep the file meta consistent with the dataset it describes (PS3.10 7.1).
            meta.MediaStorageSOPInstanceUID = sop or (
                _text(meta.get(_MEDIA_SOP_INSTANCE)) if self.options.retain_uids
                else self.remap_uid(_text(meta.get(_MEDIA_SOP_INSTANCE))))

    def _mark(self, ds: Dataset, pixels: PixelState) -> Marking:
        """Write the PS3.15 E.1.1 marking (PS3.3 C.7.1.1 Patient Identity Removed and friends).

        What it claims about the pixels comes from :func:`decide_marking`: only what was done.
        """
        marking = decide_marking(pixels)
        self._mark_burned_in(ds, marking, pixels)
        # Pre-encoded elements may join only a dataset written in the encoding its raw elements were read in.
        implicit = native_encoding(ds)
        if implicit is None:
            self._mark_elements(ds, marking)
            return marking
        key = (marking, implicit)
        elements = self._marking.get(key)
        if elements is None:
            elements = self._marking[key] = self._encoded_marking(marking, implicit)
        if not elements:
            self._mark_elements(ds, marking)
            return marking
        elems: MutableMapping[Any, Any] = ds._dict
        for elem in elements:
            elems[elem.tag] = elem
        return marking

    @staticmethod
    def _mark_burned_in(ds: Dataset, marking: Marking, pixels: PixelState) -> None:
        """Burned In Annotation: NO when the marking may claim it, otherwise the source's value as it was."""
        elems: MutableMapping[Any, Any] = ds._dict
        if marking.burned_in_annotation is not None:
            elems[Tag(_BURNED_IN)] = DataElement(_BURNED_IN, "CS", marking.burned_in_annotation)
        elif _text(ds.get(_BURNED_IN)).upper() != pixels.source_burned_in:
            # Marked before with more knowledge (mark() again): back to what the source said.
            if pixels.source_burned_in:
                elems[Tag(_BURNED_IN)] = DataElement(_BURNED_IN, "CS", pixels.source_burned_in)
            else:
                elems.pop(Tag(_BURNED_IN), None)

    def _encoded_marking(self, marking: Marking, implicit: bool) -> tuple[RawDataElement, ...]:
        """The marking elements as pydicom encodes them, in ``implicit`` or explicit VR little endian.

        The marking is the same for every object of a run (bar these inputs), and
        building it as pydicom elements (a code sequence of three items) cost ~0.3 ms per
        object, then as much again to write it. Encoded once by pydicom's own writer
        and read back, the elements are immutable raw tuples that any number of
        datasets can share: the writer copies their bytes, and pydicom converts one
        only if something reads it. The output bytes are the same as with the
        elements built per object (tests/test_deid_engine.py).
        """
        scratch = Dataset()
        self._mark_elements(scratch, marking)
        fp = DicomBytesIO()
        fp.is_implicit_VR, fp.is_little_endian = implicit, True
        write_dataset(fp, scratch)
        encoded = read_dataset(BytesIO(fp.getvalue()), implicit, True)
        raw = tuple(e for e in encoded._dict.values() if isinstance(e, RawDataElement))
        return raw if len(raw) == len(encoded._dict) else ()  # () : not shareable, build per object

    def _mark_elements(self, ds: Dataset, marking: Marking) -> None:
        cleaned = marking.clean_pixel_data
        ds.PatientIdentityRemoved = marking.patient_identity_removed
        ds.DeidentificationMethod = method_values(self.options, pixels_cleaned=cleaned) + [
            marking.evidence.method_value]
        items = []
        for code, meaning in method_codes(self.options, pixels_cleaned=cleaned):
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = items
        o = self.options
        if o.retain_modified_dates or o.safe_harbor:
            ds.LongitudinalTemporalInformationModified = "MODIFIED"
        elif o.retain_full_dates:
            ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
        else:
            ds.LongitudinalTemporalInformationModified = "REMOVED"


def _text(elem: Any) -> str:
    """Return an element's value as text ('' when absent/empty); values beyond the first joined by '\\'."""
    if elem is None:
        return ""
    value = elem.value if isinstance(elem, DataElement) else elem
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \0")
    return str(value).strip(" \0")


def _values(elem: DataElement) -> list[str]:
    value = elem.value
    if value is None:
        return []
    if isinstance(value, MultiValue | list):
        return [str(v) for v in value]
    return [str(value)]


def _map_values(elem: DataElement, fn: Any) -> bool:
    """Replace each value by ``fn(value)``; return False (leaving the element) when fn gives None."""
    value = elem.value
    if value is None or value == "":
        return True
    if isinstance(value, MultiValue | list):
        out = [fn(str(v)) for v in value]
        if any(o is None for o in out):
            return False
        elem.value = out
        return True
    new = fn(str(value))
    if new is None:
        return False
    elem.value = new
    return True
