"""The one place where dcmexport uses pydicom's private API.

Each name here wraps one private attribute or module of pydicom 3 and says why
the public API is not enough (always speed: de-identification runs at a few
milliseconds per object, and the public accessors convert keys and values on
every call). ``tests/test_pydicom_adapter.py`` pins each pydicom behaviour
relied on, so an upgrade of pydicom that changes one fails there first, by name.

Hot paths fetch a mapping once through this module and then loop over it: the
functions are one attribute access each and are never called per element
where a loop can hold the mapping instead.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import DicomDictionary
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

#: A dataset's elements as pydicom stores them: raw (undecoded) or converted.
ElementMap = MutableMapping[BaseTag, DataElement | RawDataElement]

#: Well-known UIDs (SOP classes, transfer syntaxes, coding schemes, ...): the keys of
#: pydicom's private UID table. Why private: pydicom has no public set of the UIDs it
#: knows (``UID.name`` looks one up at a time); a frozenset makes the engine's
#: "never remap a well-known UID" test one hash lookup per UID value.
WELL_KNOWN_UIDS: frozenset[str] = frozenset(UID_dictionary)


def elements(ds: Dataset) -> ElementMap:
    """Return the live tag -> element mapping of ``ds`` (``Dataset._dict``).

    Reading it gives each element as pydicom holds it: a :class:`RawDataElement`
    (value bytes not converted) until something reads it through the Dataset,
    then a :class:`DataElement`. Deleting or assigning a key changes ``ds``
    itself. Keys are :class:`~pydicom.tag.BaseTag` (an ``int``), so plain ints
    look them up.

    Why private: ``Dataset.__getitem__``, ``get_item`` and ``__delitem__`` run
    ``Tag()`` on the key and convert raw elements on every call, which
    dominated the de-identification profile; decisions on tags and VRs need
    neither. Fetch the mapping once per dataset, then loop over it.
    """
    return ds._dict


def replace_elements(ds: Dataset, mapping: ElementMap) -> None:
    """Make ``mapping`` the element store of ``ds`` (``Dataset._dict``), without validation.

    Used on a shallow :func:`copy.copy` of a dataset, to give the copy its own
    elements while the original keeps its own (a shallow copy shares the store).
    Why private: ``Dataset.__setattr__`` would treat the name as an attribute of
    the dataset; the public way (``Dataset(mapping)``) builds a new dataset and
    loses the encoding the original was read with, which decides whether raw
    bytes can be copied to the output as they are.
    """
    object.__setattr__(ds, "_dict", mapping)


def forget_private_blocks(ds: Dataset) -> None:
    """Drop the cached private creator blocks of ``ds`` (``Dataset._private_blocks``).

    pydicom caches :meth:`Dataset.private_block` lookups and clears that cache
    only when a private creator is deleted through ``Dataset.__delitem__``;
    elements deleted through :func:`elements` bypass it, so a later
    ``private_block`` call could return a block whose creator is gone.
    """
    if getattr(ds, "_private_blocks", None):
        ds._private_blocks = {}


def character_set(ds: Dataset) -> str | list[str]:
    """The Python encoding(s) pydicom will write the text of ``ds`` in (``Dataset._character_set``).

    Compared with ``ds.original_character_set``: when they differ, pydicom
    re-encodes text on writing and raw text bytes may not be copied as they are.
    Why private: it is the value pydicom's writer itself uses (Specific Character
    Set resolved, or inherited from a parent dataset); recomputing it here could
    disagree with the writer.
    """
    return ds._character_set


def dictionary_vr(tag: int) -> str:
    """The VR of a tag in pydicom's data dictionary; ``""`` when the tag is not in it.

    Only exact tags are looked up: repeating-group tags (``60xx,3000`` ...) and
    private tags give ``""``. Ambiguous VRs come back as pydicom spells them
    (``"US or SS"``, ``"OB or OW"``).

    Why not :func:`pydicom.datadict.dictionary_VR`: it raises ``KeyError`` for an
    unknown tag and then searches the repeaters table; this is one dict lookup,
    called for elements read with VR UN or implicit VR in the engine's loop.
    ``DicomDictionary`` is re-exported by ``pydicom.datadict`` but defined in the
    private ``pydicom._dicom_dict``.
    """
    entry = DicomDictionary.get(tag)
    return entry[0] if entry else ""
