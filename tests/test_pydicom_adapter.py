"""dcmexport.read.pydicom_adapter: the pydicom behaviours behind each private API use, pinned.

A pydicom release that changes one of these fails here, by name, before the
engine or the writer silently does something else.
"""

from __future__ import annotations

from copy import copy
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundMultiFrameImageStorage,
)

from dcmexport.read.pydicom_adapter import (
    WELL_KNOWN_UIDS,
    character_set,
    dictionary_vr,
    elements,
    forget_private_blocks,
    replace_elements,
)

PATIENT_NAME, PATIENT_ID, ROWS = 0x00100010, 0x00100020, 0x00280010


@pytest.fixture
def ct() -> Dataset:
    """CT_small.dcm as read from disk: its elements still raw."""
    return pydicom.dcmread(Path(get_testdata_file("CT_small.dcm")))


class TestElements:
    def test_is_the_live_store_keyed_by_basetag(self, ct: Dataset) -> None:
        elems = elements(ct)
        assert elems is elements(ct)  # no copy: one fetch per dataset, then loop
        assert len(elems) == len(ct)
        assert all(type(tag) is BaseTag for tag in elems)
        assert list(elems) == list(ct.keys())

    def test_values_are_raw_until_read_through_the_dataset(self, ct: Dataset) -> None:
        elems = elements(ct)
        # dcmread converts only Specific Character Set (it needs it to decode text)
        converted = [int(tag) for tag, e in elems.items() if not isinstance(e, RawDataElement)]
        assert converted == [0x00080005]
        raw = elems[BaseTag(PATIENT_NAME)]
        assert isinstance(raw.value, bytes) and raw.VR == "PN"
        # iterating and looking up through the store converts nothing
        assert isinstance(elements(ct)[BaseTag(PATIENT_NAME)], RawDataElement)
        ct[PATIENT_NAME]  # the Dataset converts on access and stores the result
        assert isinstance(elems[BaseTag(PATIENT_NAME)], DataElement)

    def test_plain_int_keys_look_up(self, ct: Dataset) -> None:
        elems = elements(ct)
        assert PATIENT_ID in elems
        assert elems[PATIENT_ID] is elems[BaseTag(PATIENT_ID)]  # type: ignore[index]

    def test_delete_removes_the_element_from_the_dataset(self, ct: Dataset, tmp_path: Path) -> None:
        del elements(ct)[BaseTag(PATIENT_NAME)]
        assert PATIENT_NAME not in ct and "PatientName" not in ct
        ct.save_as(tmp_path / "out.dcm", enforce_file_format=True)
        assert "PatientName" not in pydicom.dcmread(tmp_path / "out.dcm")

    def test_assigned_element_is_what_the_dataset_returns(self, ct: Dataset) -> None:
        new = DataElement(BaseTag(PATIENT_NAME), "PN", "ANON^X")
        elements(ct)[BaseTag(PATIENT_NAME)] = new
        assert ct[PATIENT_NAME] is new and ct.PatientName == "ANON^X"

    def test_deferred_value_is_a_raw_element_with_no_value(self) -> None:
        path = Path(get_testdata_file("CT_small.dcm"))
        ds = pydicom.dcmread(path, defer_size=256)
        pixel = elements(ds)[BaseTag(0x7FE00010)]
        assert isinstance(pixel, RawDataElement)
        assert pixel.value is None and pixel.length == 128 * 128 * 2 and pixel.value_tell > 0


class TestReplaceElements:
    def test_a_shallow_copy_gets_its_own_store(self, ct: Dataset) -> None:
        clone = copy(ct)
        assert elements(clone) is elements(ct)  # what a shallow copy shares, hence the need
        replace_elements(clone, dict(elements(ct)))
        del elements(clone)[BaseTag(PATIENT_NAME)]
        assert PATIENT_NAME in ct and PATIENT_NAME not in clone
        assert clone.original_encoding == ct.original_encoding  # the read encoding is kept

    def test_replaced_store_is_read_by_the_dataset(self, ct: Dataset) -> None:
        clone = copy(ct)
        replace_elements(clone, {BaseTag(ROWS): elements(ct)[BaseTag(ROWS)]})
        assert len(clone) == 1 and clone.Rows == 128


class TestForgetPrivateBlocks:
    def test_pydicom_caches_blocks_and_a_store_delete_leaves_the_cache(self) -> None:
        ds = Dataset()
        ds.private_block(0x0009, "FAKE 1.0", create=True).add_new(0x01, "LO", "x")
        assert ds.private_block(0x0009, "FAKE 1.0").block_start == 0x1000
        del elements(ds)[BaseTag(0x00090010)]  # the creator, removed behind pydicom's back
        assert ds.private_block(0x0009, "FAKE 1.0").block_start == 0x1000  # stale: the cache answered
        forget_private_blocks(ds)
        with pytest.raises(KeyError):
            ds.private_block(0x0009, "FAKE 1.0")

    def test_a_dataset_without_blocks_is_left_alone(self) -> None:
        ds = Dataset()
        forget_private_blocks(ds)
        assert len(ds) == 0


class TestCharacterSet:
    def test_default_and_declared(self) -> None:
        ds = Dataset()
        assert character_set(ds) == "iso8859"  # pydicom's name for the default repertoire
        ds.SpecificCharacterSet = "ISO_IR 100"
        assert character_set(ds) == ["latin_1"]

    def test_equal_to_the_read_one_until_changed(self) -> None:
        ds = pydicom.dcmread(Path(get_testdata_file("CT_small.dcm")))
        assert ds.original_character_set == character_set(ds)
        ds.SpecificCharacterSet = "ISO_IR 192"
        assert ds.original_character_set != character_set(ds)


class TestDictionaryVr:
    @pytest.mark.parametrize(
        ("tag", "vr"),
        [
            (PATIENT_NAME, "PN"),
            (0x00081110, "SQ"),  # Referenced Study Sequence
            (0x00280106, "US or SS"),  # Smallest Image Pixel Value: ambiguous, as pydicom spells it
            (0x7FE00010, "OB or OW"),
            (0x00090010, ""),  # private: not in the dictionary
            (0x60003000, ""),  # Overlay Data: a repeating group, not an exact entry
            (0x00000000, "UL"),  # Command Group Length
            (0x0011FFFF, ""),
        ],
    )
    def test_vr(self, tag: int, vr: str) -> None:
        assert dictionary_vr(tag) == vr

    def test_agrees_with_pydicoms_public_lookup_on_exact_entries(self) -> None:
        from pydicom.datadict import DicomDictionary, dictionary_VR

        for tag in list(DicomDictionary)[::97]:
            assert dictionary_vr(tag) == dictionary_VR(tag)


class TestWellKnownUids:
    def test_holds_sop_classes_and_transfer_syntaxes(self) -> None:
        for uid in (CTImageStorage, UltrasoundMultiFrameImageStorage, ExplicitVRLittleEndian,
                    ImplicitVRLittleEndian, JPEGBaseline8Bit, "1.2.840.10008.1.1"):
            assert uid in WELL_KNOWN_UIDS

    def test_is_a_frozenset_of_plain_uid_strings(self) -> None:
        assert isinstance(WELL_KNOWN_UIDS, frozenset) and len(WELL_KNOWN_UIDS) > 400
        assert all(isinstance(uid, str) and uid[0].isdigit() for uid in WELL_KNOWN_UIDS)

    def test_names_come_from_the_same_table(self) -> None:
        # pydicom's UID.name reads the table the set is built from: a named UID is well known.
        assert pydicom.uid.UID(CTImageStorage).name == "CT Image Storage"
        assert "2.25.1234" not in WELL_KNOWN_UIDS
