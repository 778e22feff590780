"""The echo guard: a kept text value that repeats a value the profile took away goes too.

The allow lists keep some text attributes that the table does not list (Code Meaning,
Position Reference Indicator, ...), and in real files they sometimes repeat a value the
profile removed: Position Reference Indicator equal to Study Description, the Code Meaning
of a procedure code equal to Performed Procedure Step Description. Kept, they would carry
the removed text into the output.

During one :meth:`Deidentifier.deidentify` pass the engine notes the original value of every
attribute it removes, empties or replaces (:meth:`EchoGuard.note_original`) and every text
element it keeps (:meth:`EchoGuard.note_kept`). Afterwards, :meth:`EchoGuard.apply` replaces
each kept value equal (trimmed, case-insensitively; as a whole or one of its values) to one
of those originals by the dummy value of its VR, anywhere in the object, and counts it as
``echo:<Keyword>``. A dummy, not a removal: a Code Meaning is Type 1 in its code item.

Not compared: values inside removed sequences and private elements (not decoded), binary values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

#: VRs whose values are text that a kept attribute could repeat.
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
                        "UI", "UR", "UT"})
#: Label prefix of the counts (``echo:PositionReferenceIndicator``).
ECHO_PREFIX = "echo:"
#: What the guard does, in plain English (the README lists it, generated).
DESCRIPTION = ("Echo guard: a kept text value (allow-listed free text, clean descriptors) that equals, trimmed and "
               "case-insensitively, as a whole or one of its values, the original value of any attribute removed, "
               "emptied or replaced in the same object is replaced by its dummy value too, and counted as "
               "echo:<Keyword> in the manifest (values inside removed sequences and private elements are not "
               "compared).")


class EchoGuard:
    """The originals taken away and the text kept during one de-identification pass."""

    __slots__ = ("_encodings", "_kept", "_originals")

    def __init__(self, charset: object = None) -> None:
        """Start a pass; ``charset`` is the object's Specific Character Set value (for non-ASCII bytes)."""
        self._originals: list[Any] = []
        self._kept: list[tuple[Dataset, Any, str]] = []
        self._encodings: Any = charset

    def note_original(self, elem: Any, vr: str | None) -> None:
        """Remember the value of ``elem`` (raw or converted) before it is removed, emptied or replaced."""
        if vr in STRING_VRS:
            value = elem.value
            if value:
                self._originals.append(value)

    def note_kept(self, ds: Dataset, tag: Any, vr: str) -> None:
        """Remember a text element that stays as it is: ``ds[tag]`` with VR ``vr``."""
        self._kept.append((ds, tag, vr))

    def apply(self, count: Callable[[str], None], dummy: Callable[[str], object]) -> None:
        """Replace every kept value that echoes an original; ``count`` gets ``echo:<Keyword>`` per element."""
        if not self._kept or not self._originals:
            return
        originals: set[str] = set()
        for value in self._originals:
            originals.update(self._forms(value))
        originals.discard("")
        if not originals:
            return
        for ds, tag, vr in self._kept:
            elems: Any = ds._dict
            elem = elems.get(tag)
            if elem is None or not elem.value:
                continue
            if not originals.isdisjoint(self._forms(elem.value)):
                elems[tag] = DataElement(tag, vr, dummy(vr))
                count(ECHO_PREFIX + (keyword_for_tag(tag) or f"({int(tag) >> 16:04X},{int(tag) & 0xFFFF:04X})"))

    def _forms(self, value: Any) -> set[str]:
        """The normalised forms of a value: the whole value and each of its values, trimmed, case-folded."""
        if isinstance(value, bytes):
            value = self._decode(value)
        if isinstance(value, MultiValue | list | tuple):
            parts = [str(v) for v in value]
            whole = "\\".join(parts)
        else:
            whole = str(value)
            parts = whole.split("\\")
        forms = {_norm(whole)}
        if len(parts) > 1:
            forms.update(_norm(p) for p in parts)
        return forms

    def _decode(self, data: bytes) -> str:
        if data.isascii():
            return data.decode("ascii")
        if not isinstance(self._encodings, list):
            self._encodings = convert_encodings(_charset_value(self._encodings))
        return str(decode_bytes(data, self._encodings, set()))


def _norm(text: str) -> str:
    return text.strip(" \0\t\r\n").casefold()


def _charset_value(elem: Any) -> Any:
    """Specific Character Set as pydicom's convert_encodings takes it (default: ISO_IR 6)."""
    value = getattr(elem, "value", elem)
    if isinstance(value, bytes):
        value = [v.strip().decode("ascii", "replace") for v in value.split(b"\\")]
    return value or "ISO_IR 6"
