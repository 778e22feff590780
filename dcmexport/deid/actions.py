"""Resolve Table E.1-1 codes and the options to one concrete action per attribute.

The rules (written here once, and listed in plain English by :mod:`describe`):

* **Combined codes** (PS3.15 E.1.1 lets the choice depend on the IOD's attribute type; we do not
  model every IOD, so we choose the action that can never make the object invalid by
  removing a possibly Type 1 or Type 2 attribute): ``X/Z -> Z``, ``X/D -> D``, ``X/Z/D -> D``,
  ``Z/D -> D``, ``X/Z/U* -> U`` (sequences: kept, their UIDs remapped). Exceptions, checked
  with dciodvfy: an ``X/Z`` *sequence* is removed (an empty Type 3 sequence is invalid, and these
  are Type 3 in the image IODs), except Acquisition Context Sequence, which is Type 2; guarded
  Type 1 attributes listed X, Z or X/Z get dummies. All of it is data: :data:`BASIC_RULES`.
* **Option columns** override the Basic Profile code when their option is on. When two enabled
  options disagree, ``C`` (clean) wins over ``K`` (keep): fail closed.
* **What ``C`` means** depends on the column: Modified Dates -> shift DA/DT by the patient's
  offset; TM and the UTC offset are kept when well formed (a whole-day shift leaves them
  unchanged), otherwise the Basic Profile action applies; Clean Graphics -> remove (graphics cannot be cleaned
  automatically); Retain Safe Private -> keep only allow-listed private elements; every other
  column -> sequences are kept and cleaned item by item, text is kept only when every word is in
  the descriptor vocabulary (``presets/deid/keep.toml``), otherwise the Basic Profile action applies.
* **Beyond the table** (fail closed): unlisted PN -> dummy; unlisted LO/SH/UC/LT/ST/UT/UR/AE ->
  removed unless allow-listed; unlisted UI -> remapped unless a well-known UID or an
  allow-listed class/syntax attribute; unlisted DA/DT -> treated as a D date with the date
  options; unknown public tags (VR UN) and group lengths -> removed; whole overlay groups
  ``60xx`` -> removed (the table removes Overlay Data, which leaves the rest of the Overlay
  Plane module invalid).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from pydicom.datadict import DicomDictionary

from dcmexport.deid.options import OPTION_COLUMNS, DeidOptions
from dcmexport.deid.table import KeepLists, TableEntry, load_keep_lists, load_table


class Action(StrEnum):
    """One concrete thing done to an attribute. The value is the label counted in reports."""

    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    KEEP = "K"
    UID = "U"
    CLEAN = "C"
    SHIFT = "shift"
    YEAR = "year"
    AGE = "age"
    FORM = "form"
    PSEUDONYM = "pseudonym"
    PRIVATE = "private"
    PN_UNLISTED = "pn-unlisted"
    TEXT_UNLISTED = "text-unlisted"


    @property
    def description(self) -> str:
        """What this action does to an attribute, in plain English (the README lists these)."""
        return _ACTION_TEXT[self].format_map({vr: v for vr, v in _DUMMIES.items() if isinstance(v, str)})


_ACTION_TEXT: dict[Action, str] = {
    Action.REMOVE: "removed, wherever it occurs (a sequence with all its items)",
    Action.EMPTY: "kept with an empty value (a sequence with no items)",
    Action.DUMMY: "replaced by a dummy value valid for its VR (text {LO}, person names {PN}, dates {DA}, "
    "date-times {DT}, times {TM}, ages {AS}, numbers {DS}, binary values empty; UIDs remapped as for U); "
    "a sequence is kept and each item cleaned",
    Action.UID: "its UIDs remapped to 2.25.<HMAC> (well-known UIDs unchanged); a sequence is kept and each "
    "item cleaned; a value that is not a UID in this file is removed",
    Action.KEEP: "kept as it is; a sequence is kept and each item cleaned",
    Action.CLEAN: "kept only when every word of every value is in the descriptor vocabulary and no number has "
    "more than 3 digits, otherwise its Basic Profile action; values that are not text (binary, person "
    "names) get the Basic Profile action; a sequence is kept and each item cleaned",
    Action.SHIFT: "date or date-time shifted by the patient's offset, time and UTC offset kept; a value that "
    "is not a valid date becomes the dummy; other VRs get the Basic Profile action",
    Action.YEAR: "date or date-time reduced to 1 January of its year (a value that is not a valid date becomes "
    "the dummy); other VRs get the Basic Profile action",
    Action.AGE: "an age over 89 years becomes 090Y (an invalid age is emptied)",
    Action.FORM: "kept when it has the form of a time (HHMMSS.FFFFFF) or of a UTC offset (+HHMM), otherwise "
    "its Basic Profile action",
    Action.PSEUDONYM: "replaced by the keyed patient pseudonym",
    Action.PRIVATE: "removed unless on the Retain Safe Private allow list",
    Action.PN_UNLISTED: "a person name the table does not list: replaced by {PN}",
    Action.TEXT_UNLISTED: "free text the table does not list and the allow list does not name: removed",
}


class Decision(NamedTuple):
    """The action for an attribute and, for ``CLEAN``, what to do when cleaning fails."""

    action: Action
    fallback: Action = Action.KEEP


COMBINED: dict[str, Action] = {
    "X": Action.REMOVE, "Z": Action.EMPTY, "D": Action.DUMMY, "K": Action.KEEP, "C": Action.CLEAN,
    "U": Action.UID,
    # PS3.15 leaves the choice to the IOD's type; never remove what may be Type 1/2.
    "X/Z": Action.EMPTY, "X/D": Action.DUMMY, "X/Z/D": Action.DUMMY, "Z/D": Action.DUMMY,
    "X/Z/U*": Action.UID,
}

PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
#: Type 1 attributes of every composite IOD that must never be removed or emptied (PS3.3 C.12.1, C.7).
TYPE1_GUARD = frozenset({0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00080060})
#: Z attributes that are Type 1 in a DICOMDIR study record (PS3.3 F.5.2): Study Date, Study Time, Study ID.
DICOMDIR_NEEDS = frozenset({0x00080020, 0x00080030, 0x00200010})
#: X/Z sequences that are Type 2 where they occur (Acquisition Context Module, PS3.3 C.7.6.14): emptied, not removed.
TYPE2_SEQUENCES = frozenset({0x00400555})
DATE_VRS = frozenset({"DA", "DT"})
TEXT_VRS = frozenset({"LO", "SH", "UC", "LT", "ST", "UT", "UR", "AE"})
_DATE_COLUMN = "rtnLongFullDatesOpt"


def resolve_code(code: str) -> Action:
    """Return the concrete action for a Table E.1-1 code (combined codes resolved, see module doc)."""
    return COMBINED[code]


class BasicRule(NamedTuple):
    """How Basic Profile codes resolve for the rows a condition selects (first matching rule wins)."""

    codes: tuple[str, ...]
    action: Action
    when: str  # plain English; "" for every other row with these codes
    applies: Any  # Callable[[TableEntry], bool] | None


def _guarded(entry: TableEntry) -> bool:
    return entry.match == "exact" and entry.value in TYPE1_GUARD


def _type3_sequence(entry: TableEntry) -> bool:
    return entry.vr == "SQ" and entry.value not in TYPE2_SEQUENCES


#: The resolution of Basic Profile codes, specific rules first; :func:`resolve_basic` applies them and
#: :mod:`describe` lists them, so the README cannot drift from what the engine does.
BASIC_RULES: tuple[BasicRule, ...] = (
    BasicRule(("X", "Z", "X/Z"), Action.DUMMY, "Type 1 attributes of every composite IOD (SOP Class and "
              "Instance UID, Study and Series Instance UID, Modality), never removed or emptied", _guarded),
    BasicRule(("Z",), Action.DUMMY, "attributes a DICOMDIR's study record needs (Study Date, Study Time, "
              "Study ID: Type 1 there, PS3.3 F.5.2): Z allows a dummy value, and an empty one would make the "
              "object unfit for a DICOMDIR", lambda entry: entry.match == "exact" and entry.value in DICOMDIR_NEEDS),
    BasicRule(("X/Z",), Action.REMOVE, "sequences: they are Type 3 in the image IODs, and an empty Type 3 "
              "sequence is invalid (PS3.5 7.5)", _type3_sequence),
    BasicRule(("X/Z",), Action.EMPTY, "Type 2 sequences (Acquisition Context Sequence)",
              lambda entry: entry.vr == "SQ"),
    *(BasicRule((code,), action, "", None) for code, action in COMBINED.items()),
)


def resolve_basic(entry: TableEntry) -> Action:
    """Return the action of a row's Basic Profile code (:data:`BASIC_RULES`, first match)."""
    for rule in BASIC_RULES:
        if entry.basic in rule.codes and (rule.applies is None or rule.applies(entry)):
            return rule.action
    raise KeyError(entry.basic)


def _dictionary_vr(tag: int) -> str:
    entry = DicomDictionary.get(tag)
    return entry[0] if entry else ""


def resolve_vr(ds: Any, btag: Any, vr: str | None) -> str | None:
    """The VR that decides an element's rule, resolving elements stored with VR UN.

    pydicom keeps a raw element exactly as written; a sequence encoded as UN
    (e.g. after an implicit-VR round trip through a system that did not know
    the tag) would otherwise be treated as an opaque value and never descended
    into. Accessing it through the Dataset converts it with the dictionary VR
    (pydicom's ``config.replace_un_with_known_vr``, on by default). Returns
    ``"UN"`` still when the conversion does not happen; callers remove such an
    element when its dictionary VR is SQ (fail closed).
    """
    if vr != "UN":
        return vr
    known = _dictionary_vr(int(btag))
    if not known or known == "UN":
        return vr
    return str(ds[btag].VR)


def decide_entry(entry: TableEntry, options: DeidOptions) -> Decision:
    """Return the decision for a table row under ``options`` (PS3.15 E.1.1, E.3).

    Args:
        entry: the row.
        options: the options in force.

    Returns:
        The concrete action, plus the Basic Profile action to fall back on when cleaning fails.
    """
    basic = resolve_basic(entry)
    enabled = {col: entry.options[col] for name, (col, _) in OPTION_COLUMNS.items()
               if getattr(options, name) and col in entry.options}
    vr = entry.vr
    is_date = _DATE_COLUMN in entry.options
    decision = Decision(basic, basic)
    if "C" in enabled.values():
        c_cols = {col for col, code in enabled.items() if code == "C"}
        if "cleanGraphOpt" in c_cols:
            decision = Decision(Action.REMOVE, basic)
        elif "rtnLongModifDatesOpt" in c_cols:
            if vr in DATE_VRS:
                decision = Decision(Action.SHIFT, basic)
            elif vr in ("TM", "SH"):  # times of day and the UTC offset: a day shift leaves them as they are
                decision = Decision(Action.FORM, basic)
        elif "rtnSafePrivOpt" in c_cols:
            decision = Decision(Action.PRIVATE, basic)
        else:
            decision = Decision(Action.CLEAN, basic)
    elif "K" in enabled.values():
        decision = Decision(Action.KEEP, basic)
    if options.safe_harbor and is_date:
        if vr in DATE_VRS:
            decision = Decision(Action.YEAR, basic)
        elif decision.action is Action.KEEP:
            # Safe Harbor keeps the year only: finer elements of dates follow the Basic Profile.
            decision = Decision(basic, basic)
    if options.safe_harbor and vr == "AS" and decision.action is Action.KEEP:
        decision = Decision(Action.AGE, basic)
    return decision


def decide_unlisted(tag: int, vr: str, options: DeidOptions, keep: KeepLists) -> Decision:
    """Return the decision for a public attribute that Table E.1-1 does not list (fail closed).

    Args:
        tag: the attribute tag (even group).
        vr: its VR (dictionary VR when known, else the VR in the file).
        options: the options in force.
        keep: the ``presets/deid/keep.toml`` allow lists.
    """
    group, elem = tag >> 16, tag & 0xFFFF
    if elem == 0 or group in (0x0000, 0x0002) or (group & 0xFF00) in (0x6000, 0x5000):
        return Decision(Action.REMOVE)
    if vr == "PN":
        return Decision(Action.PN_UNLISTED)
    if vr in TEXT_VRS:
        return Decision(Action.KEEP if tag in keep.free_text else Action.TEXT_UNLISTED)
    if vr == "UI":
        return Decision(Action.KEEP if options.retain_uids or tag in keep.uids else Action.UID)
    if vr in DATE_VRS:
        if options.safe_harbor:
            return Decision(Action.YEAR, Action.DUMMY)
        if options.retain_modified_dates:
            return Decision(Action.SHIFT, Action.DUMMY)
        return Decision(Action.KEEP if options.retain_full_dates else Action.DUMMY)
    if vr in ("UN", ""):
        return Decision(Action.REMOVE)
    if vr == "AS" and options.safe_harbor:
        return Decision(Action.AGE)
    return Decision(Action.KEEP)


class RulePlan:
    """Every decision precomputed or cached by integer tag, built once per options."""

    def __init__(self, options: DeidOptions) -> None:
        """Resolve every exact table row under ``options``."""
        self.options = options
        self.keep = load_keep_lists()
        table = load_table()
        self.exact: dict[int, Decision] = {}
        self.masked: list[tuple[TableEntry, Decision]] = []
        self.private_entry: TableEntry | None = None
        for entry in table.entries:
            if entry.match == "exact":
                # Command (0000) and file meta (0002) elements are not allowed in a stored
                # dataset body (PS3.10 7.1); the file meta copy is handled separately.
                self.exact[entry.value] = (Decision(Action.REMOVE) if entry.group in (0x0000, 0x0002)
                                           else decide_entry(entry, options))
            elif entry.match == "mask":
                self.masked.append((entry, decide_entry(entry, options)))
            else:
                self.private_entry = entry
        self._unlisted: dict[tuple[int, str], Decision] = {}

    def decide(self, tag: int, vr: str | None) -> Decision:
        """Return the decision for a public (even group) tag; ``vr`` is the VR in the file, if any."""
        found = self.exact.get(tag)
        if found is not None:
            return found
        key = (tag, vr or "")
        found = self._unlisted.get(key)
        if found is None:
            for entry, decision in self.masked:
                if entry.matches(tag):
                    found = decision
                    break
            else:
                dvr = _dictionary_vr(tag)
                # The dictionary VR wins over a file's UN; ambiguous ones ("US or SS", "OB or OW")
                # are binary/numeric either way, so the file's VR is good enough there.
                real_vr = dvr if dvr and " or " not in dvr else (vr or dvr)
                found = decide_unlisted(tag, real_vr or "UN", self.options, self.keep)
            self._unlisted[key] = found
        return found


# --- values -------------------------------------------------------------------------------

DUMMY_TEXT = "ANONYMIZED"
#: A person name dummy in the current form: family name component and its delimiter (PS3.5 6.2.1.1).
#: Without the '^' dciodvfy warns "Retired Person Name form" (the pre-1993 single-string form).
DUMMY_PN = DUMMY_TEXT + "^"
DUMMY_DATE = "20000101"  # valid (PS3.5 6.2 DA); never "00010101" which many readers reject
_DUMMIES: dict[str, object] = {
    "DA": DUMMY_DATE, "DT": DUMMY_DATE + "000000", "TM": "000000", "AS": "000D",
    "DS": "0", "IS": "0", "FL": 0.0, "FD": 0.0, "SL": 0, "SS": 0, "UL": 0, "US": 0, "SV": 0, "UV": 0,
    "CS": DUMMY_TEXT, "AE": DUMMY_TEXT, "LO": DUMMY_TEXT, "SH": DUMMY_TEXT, "PN": DUMMY_PN,
    "LT": DUMMY_TEXT, "ST": DUMMY_TEXT, "UT": DUMMY_TEXT, "UC": DUMMY_TEXT, "UR": "",
    "OB": b"", "OW": b"", "OD": b"", "OF": b"", "OL": b"", "OV": b"", "UN": b"", "AT": None,
}


def dummy_value(vr: str) -> object:
    """Return a dummy value valid for ``vr`` (PS3.15 E.1.1 'D'); UI is handled by the UID remap."""
    return _DUMMIES.get(vr)


def _shift_ymd(text: str, days: int) -> str | None:
    """Shift a DA-like ``YYYY[MM[DD]]`` string by ``days`` keeping its precision; None if invalid."""
    if len(text) not in (4, 6, 8) or not text.isdigit():
        return None
    y, m, d = int(text[:4]), int(text[4:6] or 1), int(text[6:8] or 1)
    try:
        shifted = date(y, m, d) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    if shifted.year < 1:
        return None
    return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"[: len(text)]


_DT_SPLIT = re.compile(r"^(\d{4,8})(\d{0,6}(?:\.\d{1,6})?)([+-]\d{4})?$")


def shift_date(value: str, vr: str, days: int) -> str | None:
    """Shift a DA or DT value (one value, ranges ``a-b`` allowed for DA) by ``days``.

    Times and UTC offsets are kept (PS3.15 E.3.6, modified dates). Returns None when the value
    is not a valid DA/DT, so the caller can fall back to a dummy (fail closed).
    """
    value = value.strip()
    if not value:
        return value
    if vr == "DA":
        parts = value.split("-")
        out = [_shift_ymd(p, days) if p else "" for p in parts]
        return None if any(o is None for o in out) or len(parts) > 2 else "-".join(o or "" for o in out)
    m = _DT_SPLIT.match(value)
    if not m:
        return None
    ymd = m.group(1)
    # DT allows YYYY, YYYYMM, YYYYMMDD before the time; a longer head means hours were glued on.
    head_len = 8 if len(ymd) >= 8 else len(ymd)
    shifted = _shift_ymd(ymd[:head_len], days)
    if shifted is None:
        return None
    return shifted + ymd[head_len:] + m.group(2) + (m.group(3) or "")


def year_only(value: str, vr: str) -> str | None:
    """Reduce a DA or DT value to 1 January of its year (``YYYY0101``); None when invalid."""
    value = value.strip()
    if not value:
        return value
    if len(value) < 4 or not value[:4].isdigit() or int(value[:4]) < 1:
        return None
    if vr == "DA" and not (len(value) == 8 and value.isdigit()):
        return None
    return value[:4] + "0101"


def cap_age(value: str) -> str | None:
    """Return ``090Y`` for ages over 89 years, the value itself otherwise; None when invalid (PS3.5 AS)."""
    value = value.strip()
    if not value:
        return value
    if len(value) != 4 or not value[:3].isdigit() or value[3] not in "DWMY":
        return None
    years = int(value[:3]) / {"D": 365.25, "W": 52.1775, "M": 12.0, "Y": 1.0}[value[3]]
    return "090Y" if years > 89 else value


#: PS3.5 6.2: TM is HH[MM[SS[.F{1,6}]]] (seconds up to 60 for a leap second); the UTC offset
#: (0008,0201) is &ZZXX, within -12:00 .. +14:00.
_TM_FORM = re.compile(r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:(?:[0-5]\d|60)(?:\.\d{1,6})?)?)?")
_UTC_OFFSET_FORM = re.compile(r"[+-](?:0\d|1[0-4])[0-5]\d")


def is_well_formed(value: str, vr: str) -> bool:
    """True when ``value`` (one value, padding trimmed) has the form of a time (TM) or a UTC offset (SH).

    Used for the attributes the Modified Dates option marks C but a date shift leaves unchanged:
    Times (TM) and Timezone Offset From UTC (0008,0201, SH). A value of any other form may hold
    free text, so it is not kept (fail closed). An empty value is well formed.
    """
    value = value.strip(" \0")
    if not value:
        return True
    form = _TM_FORM if vr == "TM" else _UTC_OFFSET_FORM if vr == "SH" else None
    return form is not None and form.fullmatch(value) is not None


_WORD = re.compile(r"[A-Za-z]+|\d+")


def is_clean_descriptor(text: str, vocabulary: frozenset[str]) -> bool:
    """True when every word of ``text`` is in ``vocabulary`` and every number has <= 3 digits.

    Used for the 'C' action on text (Clean Descriptors, PS3.15 E.3.5): a dictionary check
    rather than NLP, so a name, ID or date can never pass.
    """
    for tok in _WORD.findall(text):
        if tok.isdigit():
            if len(tok) > 3:
                return False
        elif tok.lower() not in vocabulary:
            return False
    return True
