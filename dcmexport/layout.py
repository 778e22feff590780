"""``--layout TEMPLATE``: output paths built from the de-identified dataset.

A template is Python format-string syntax over DICOM keywords, e.g.
``{PatientID}/{StudyInstanceUID}/{SeriesNumber:03d}_{Modality}/{InstanceNumber:05d}``.
It is parsed once, at the options boundary (:func:`parse_layout`: unknown keywords,
conversions, absolute or ``..`` parts are usage errors), and checked against the
de-identification profile at start-up (:func:`check_layout`: a keyword the profile
removes, empties or replaces with a dummy would name every file alike, or leak).

Per object, :func:`fill_layout` fills it from the DE-IDENTIFIED dataset only; each
value is sanitised into one path component (no ``/``, ``..``, control characters or
reserved device names). A value missing on an object fails that object (fail closed).
Every name ends with ``_`` and 8 hex digits of the object's output stem (a keyed
digest of the SOP Instance UID pseudonym and the input bytes): two objects that fill
the template alike never share a path, and the name does not depend on the order in
which objects finish (``--jobs``, Dask, shards). The format's suffix (and the
``_fNNNN`` of a frame) follows, as for the default names.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydicom.datadict import dictionary_VR, tag_for_keyword

from dcmexport.errors import DcmexportError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from dcmexport.deid import DeidOptions

#: Hex digits of the output stem appended to every layout name (order-independent collision guard).
SUFFIX_DIGITS = 8
#: Longest path component written (bytes of UTF-8); longer values are cut.
_MAX_COMPONENT = 120
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
_INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})
_FLOAT_VRS = frozenset({"DS", "FL", "FD"})


class LayoutError(DcmexportError):
    """An object's de-identified dataset cannot fill the ``--layout`` template (missing value, bad format)."""

    reason = "layout"


@dataclass(frozen=True)
class LayoutField:
    """One ``{Keyword:spec}`` of a template."""

    keyword: str
    spec: str = ""


@dataclass(frozen=True)
class Layout:
    """A parsed ``--layout`` template: literal text and fields, in order (``template`` as given)."""

    template: str
    parts: tuple[str | LayoutField, ...] = ()

    @property
    def fields(self) -> tuple[LayoutField, ...]:
        """The template's fields, in order."""
        return tuple(p for p in self.parts if isinstance(p, LayoutField))


def parse_layout(text: str) -> Layout:
    """Parse a ``--layout`` template (Python format-string syntax over DICOM keywords).

    Raises:
        UsageError: malformed braces, a field that is not a DICOM keyword, a conversion (``!r``),
            an attribute or index (``{a.b}``, ``{a[0]}``), a nested spec, no field at all, or a
            literal part that is absolute or holds ``..``, a backslash or a control character.
    """
    template = text.strip()
    if not template:
        raise UsageError("--layout must not be empty")
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"--layout {template!r}: {exc} (use {{Keyword}} or {{Keyword:spec}})") from None
    parts: list[str | LayoutField] = []
    for literal, name, spec, conversion in pieces:
        if literal:
            _check_literal(template, literal)
            parts.append(literal)
        if name is None:
            continue
        if conversion is not None or not name.isidentifier():
            raise UsageError(f"--layout {template!r}: {{{name}}} must be a DICOM keyword such as "
                             "{PatientID}, with an optional format spec ({InstanceNumber:05d})")
        vr = dictionary_VR(name) if tag_for_keyword(name) is not None else None
        if vr is None:
            raise UsageError(f"--layout {template!r}: {name!r} is not a DICOM keyword (e.g. PatientID, "
                             "StudyInstanceUID, SeriesNumber, Modality, InstanceNumber)")
        if spec and "{" in spec:
            raise UsageError(f"--layout {template!r}: nested fields in a format spec are not supported")
        parts.append(LayoutField(name, spec or ""))
    if not any(isinstance(p, LayoutField) for p in parts):
        raise UsageError(f"--layout {template!r} names no field: every object would get the same path")
    if template.endswith("/"):
        raise UsageError(f"--layout {template!r} ends with '/': the last part is the file name")
    return Layout(template, tuple(parts))


def _check_literal(template: str, literal: str) -> None:
    if template.startswith("/") or "\\" in literal or any(unicodedata.category(c)[0] == "C" for c in literal):
        raise UsageError(f"--layout {template!r}: a path relative to --out, without backslashes or control "
                         "characters")
    if any(part == ".." for part in literal.split("/")) or "//" in literal:
        raise UsageError(f"--layout {template!r}: '..' and empty parts are not allowed (paths stay in --out)")


def check_layout(layout: Layout, options: DeidOptions) -> None:
    """Refuse, at start-up, fields whose de-identified value would be empty, a dummy or PHI.

    The decision is the engine's own (:func:`dcmexport.deid.fate.naming_refusal`).

    Raises:
        UsageError: naming the keyword and what the profile does to it, and the option that keeps it.
    """
    from dcmexport.deid.fate import naming_refusal

    for item in layout.fields:
        tag = tag_for_keyword(item.keyword)
        assert tag is not None  # parse_layout checked it
        why = naming_refusal(tag, options)
        if why is not None:
            raise UsageError(f"--layout field {{{item.keyword}}} is refused under the '{options.profile}' profile: "
                             f"{why}, so a path would be empty, a dummy or PHI; drop it, or use a profile "
                             "option that keeps it (dates: --retain dates or --retain full-dates)")


def _value(ds: Dataset, item: LayoutField) -> Any:
    elem = ds.get(item.keyword)
    value = None if elem is None else elem
    if value is None or value == "" or (hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 0):
        raise LayoutError(f"--layout: ({item.keyword}) is missing or empty in the de-identified object; "
                          "no output is written (choose a field every object has)")
    values = list(value) if not isinstance(value, str | bytes) and hasattr(value, "__iter__") else [value]
    vr = dictionary_VR(item.keyword)
    try:
        if vr in _INTEGER_VRS:
            values = [int(v) for v in values]
        elif vr in _FLOAT_VRS:
            values = [float(v) for v in values]
        else:
            values = [str(v).strip() for v in values]
    except (TypeError, ValueError):
        raise LayoutError(f"--layout: ({item.keyword}) does not hold a valid {vr} value; no output is written") \
            from None
    try:
        return "-".join(format(v, item.spec) for v in values)
    except (TypeError, ValueError):
        raise LayoutError(f"--layout: the format spec ':{item.spec}' does not apply to ({item.keyword}) "
                          f"(VR {vr}); no output is written") from None


def sanitise_component(text: str) -> str:
    """One path component from a value: unsafe characters become ``_``, no ``.``/``..``, no device names.

    Returns ``""`` when nothing usable is left (the caller fails the object).
    """
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub("_", "".join(c if unicodedata.category(c)[0] != "C" else "_" for c in text))
    text = text.strip(" .")
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")[:_MAX_COMPONENT]
    return encoded.decode("utf-8", "ignore")


def fill_layout(layout: Layout, ds: Dataset, stem: str) -> str:
    """The relative output name (POSIX, no suffix) of an object under ``layout``.

    Args:
        layout: the parsed template.
        ds: the DE-IDENTIFIED dataset (never the original).
        stem: the object's default output stem (:func:`dcmexport.pipeline.frames.output_stem`);
            its first :data:`SUFFIX_DIGITS` hex digits end the name.

    Raises:
        LayoutError: a field is missing, empty, not valid for its VR, or sanitises to nothing.
    """
    text = ""
    for part in layout.parts:
        if isinstance(part, str):
            text += part
            continue
        value = sanitise_component(_value(ds, part))
        if not value:
            raise LayoutError(f"--layout: ({part.keyword}) has no character usable in a file name; "
                              "no output is written")
        text += value
    components = [sanitise_component(c) for c in PurePosixPath(text).parts]
    if not components or any(c in ("", ".", "..") for c in components):
        raise LayoutError("--layout: the filled template has an empty or '..' part; no output is written")
    components[-1] = f"{components[-1]}_{stem[:SUFFIX_DIGITS]}"
    return "/".join(components)


def layout_path(out_dir: Path, name: str) -> Path:
    """``out_dir / name`` (a :func:`fill_layout` name plus suffix), checked to lie inside ``out_dir``.

    Raises:
        LayoutError: the path would leave ``out_dir`` (a symlinked folder inside it).
    """
    from dcmexport.paths import resolve_child

    path = resolve_child(out_dir, name)
    if path is None or path.parent == out_dir.parent:
        raise LayoutError("--layout: the output path would leave --out (a linked folder); no output is written")
    return path
