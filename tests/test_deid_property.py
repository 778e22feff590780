"""Property: no planted token survives de-identification, anywhere in the written bytes.

Tokens go into random Table E.1-1 attributes (VR-appropriate values), unlisted PN and free-text
attributes, private blocks (creators included) and private sequences, at sequence depth up to 4.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from io import BytesIO

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from dcmexport.deid import Deidentifier, DeidOptions, Key
from dcmexport.deid.table import load_keep_lists, load_table

TEXT_VRS = ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE", "UR")
PLANTABLE = {*TEXT_VRS, "UI", "DA", "DT", "TM", "OB", "SQ"}
_TABLE = [e for e in load_table().entries if e.match == "exact" and e.vr in PLANTABLE]
TABLE_LEAF = [(e.value, e.vr) for e in _TABLE if e.vr != "SQ"]
TABLE_SQ = [e.value for e in _TABLE if e.vr == "SQ"]
_LISTED = {e.value for e in load_table().entries if e.match == "exact"}
_KEEP = load_keep_lists()
UNLISTED_PN = sorted(t for t, v in DicomDictionary.items() if v[0] == "PN" and t not in _LISTED)
UNLISTED_TEXT = sorted(
    (t, v[0]) for t, v in DicomDictionary.items()
    if v[0] in ("LO", "SH", "LT", "ST", "UT", "UC") and t not in _LISTED and t not in _KEEP.free_text
    and (t >> 16) not in (0x0000, 0x0002, 0x0004, 0xFFFE) and (t >> 16) & 0xFF00 not in (0x5000, 0x6000)
    and "x" not in v[4].lower()
)
UNLISTED_SQ = sorted(t for t, v in DicomDictionary.items() if v[0] == "SQ" and t not in _LISTED)
BASE_DATE = dt.date(1975, 6, 1)
KEY = Key(b"property-test-key-0123456789abcd")
#: In CI the examples are derived from the test itself (no random seed, no example database), so a
#: run is repeatable; locally hypothesis keeps exploring new examples.
REPEATABLE: dict[str, object] = {"derandomize": True, "database": None} if os.environ.get("CI") else {}


class Planter:
    """Makes unique tokens valid for each VR and remembers them."""

    def __init__(self, salt: int, draw: st.DrawFn) -> None:
        self.salt, self.draw, self.counter, self.tokens = salt, draw, itertools.count(), []

    def value(self, vr: str) -> object:
        n = next(self.counter)
        if vr == "UI":
            tok = f"1.2.826.0.1.3680043.10.{self.salt}.{n}"
        elif vr in ("DA", "DT"):
            # All dates of one example lie within 300 days: a shift (>= 365 days) can never
            # turn one planted date into another.
            day = BASE_DATE + dt.timedelta(days=self.draw(st.integers(0, 300)))
            tok = day.strftime("%Y%m%d") + (f"{n % 24:02d}{self.salt % 60:02d}17.{n:06d}" if vr == "DT" else "")
        elif vr == "TM":
            tok = f"{n % 24:02d}{self.salt % 60:02d}{n % 60:02d}.{self.salt:06d}"
        elif vr == "UR":
            tok = f"http://QZ{self.salt:05X}{n:05X}.example"
        else:
            tok = f"QZ{self.salt:05X}{n:05X}"
        self.tokens.append(tok)
        return tok.encode() if vr == "OB" else tok


def build_item(p: Planter, draw: st.DrawFn, depth: int, keep_times: bool) -> Dataset:
    ds = Dataset()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["table", "table", "pn", "text", "private", "sq"]))
        if kind == "table":
            tag, vr = draw(st.sampled_from(TABLE_LEAF))
            if (vr == "TM" and keep_times) or tag in ds:
                continue
            ds.add_new(tag, vr, p.value(vr))
        elif kind == "pn":
            tag = draw(st.sampled_from(UNLISTED_PN))
            if tag not in ds:
                ds.add_new(tag, "PN", p.value("PN"))
        elif kind == "text":
            tag, vr = draw(st.sampled_from(UNLISTED_TEXT))
            if tag not in ds:
                ds.add_new(tag, vr, p.value(vr))
        elif kind == "private":
            group = draw(st.sampled_from([0x0009, 0x0019, 0x0029, 0x7FD1]))
            block = draw(st.integers(0x10, 0x12))
            if (group << 16) | block in ds:
                continue
            ds.add_new((group << 16) | block, "LO", p.value("LO"))
            for _ in range(draw(st.integers(1, 3))):
                elem = (block << 8) | draw(st.integers(0, 0xFF))
                if (group << 16) | elem in ds:
                    continue
                if depth < 4 and draw(st.booleans()):
                    ds.add_new((group << 16) | elem, "SQ", Sequence([build_item(p, draw, depth + 1, keep_times)]))
                else:
                    ds.add_new((group << 16) | elem, "LO", p.value("LO"))
        elif depth < 4:
            tag = draw(st.sampled_from(TABLE_SQ + UNLISTED_SQ))
            if tag in ds:
                continue
            items = [build_item(p, draw, depth + 1, keep_times) for _ in range(draw(st.integers(1, 2)))]
            ds.add_new(tag, "SQ", Sequence(items))
    return ds


@st.composite
def planted(draw: st.DrawFn) -> tuple[Dataset, list[str], DeidOptions]:
    options = draw(st.sampled_from([
        DeidOptions(), DeidOptions(clean_descriptors=True, clean_graphics=True, clean_structured_content=True),
        DeidOptions(retain_modified_dates=True), DeidOptions(safe_harbor=True),
    ]))
    p = Planter(draw(st.integers(0, 0xFFFFF)), draw)
    ds = build_item(p, draw, 0, keep_times=options.retain_modified_dates)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SOPClassUID = SecondaryCaptureImageStorage
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientID", "PatientName"):
        if keyword in ds:  # planted at random above, overwritten below: its token is no longer in the object
            p.tokens.remove(str(ds[keyword].value))
    ds.SOPInstanceUID = p.value("UI")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = p.value("UI"), p.value("UI")
    ds.PatientID, ds.PatientName = p.value("LO"), p.value("PN")
    if options.safe_harbor:
        # Safe Harbor keeps the year by design: plant only the full date as the secret.
        p.tokens = [t for t in p.tokens if not (t[:4].isdigit() and len(t) >= 8 and t[4:8].isdigit())] + [
            t[:8] for t in p.tokens if t[:4].isdigit() and len(t) >= 8 and t[4:8].isdigit() and t[4:8] != "0101"]
    return ds, p.tokens, options


def _minimal(options: DeidOptions, **planted_values: str) -> tuple[Dataset, list[str], DeidOptions]:
    """One hand-made case: the identifying attributes plus ``planted_values`` (keyword -> token)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.7.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.7.2", "1.2.826.0.1.3680043.10.7.3"
    ds.PatientID, ds.PatientName = "QZ00007A0001", "QZ00007A0002"
    for keyword, value in planted_values.items():
        setattr(ds, keyword, value)
    tokens = [ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID, "QZ00007A0002",
              *planted_values.values()]
    return ds, tokens, options


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          **REPEATABLE)  # type: ignore[arg-type]
@given(planted())
# The case that once made this test flaky: Modified Dates keep a UTC offset, never free text in it.
@example(_minimal(DeidOptions(retain_modified_dates=True), TimezoneOffsetFromUTC="QZ00007A0003"))
def test_no_planted_token_survives(case: tuple[Dataset, list[str], DeidOptions]) -> None:
    ds, tokens, options = case
    Deidentifier(options, KEY).deidentify(ds)
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out = buf.getvalue()
    survivors = [t for t in tokens if t.encode() in out]
    assert not survivors, f"{len(survivors)} planted tokens survived"


def test_strategy_really_plants_everywhere() -> None:
    """Guard against a vacuous property: the planted file, undeidentified, contains the tokens."""
    @settings(max_examples=20, deadline=None, **REPEATABLE)  # type: ignore[arg-type]
    @given(planted())
    def check(case: tuple[Dataset, list[str], DeidOptions]) -> None:
        ds, tokens, _ = case
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_dataset(fp, ds)  # the body as-is (command/meta elements included)
        assert all(t.encode() in fp.getvalue() for t in tokens)

    check()
