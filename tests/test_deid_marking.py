"""deid.marking: what the marking may claim about the pixels (issue #20 item 1), and its README text."""

from __future__ import annotations

import re

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage

from dcmexport.deid import Deidentifier, DeidOptions, Key, render_actions_markdown
from dcmexport.deid.marking import (
    METHOD_PREFIX,
    PixelEvidence,
    PixelState,
    decide_marking,
    describe_marking,
    evidence_from_method,
)
from dcmexport.mask import MaskPlan

KEY = Key(b"marking-test-key-0123456789abcdef")

#: One state per case; the test below proves each falls under its case.
SAMPLES: dict[PixelEvidence, PixelState] = {
    PixelEvidence.NO_PIXELS: PixelState(has_pixels=False, source_burned_in="YES", suspect=True),
    PixelEvidence.SOURCE_NO: PixelState(source_burned_in="NO", changed=True),
    PixelEvidence.NOT_SUSPECTED: PixelState(),
    PixelEvidence.MASKED_AND_CHECKED: PixelState(source_burned_in="YES", suspect=True, changed=True,
                                                 outside_regions=True, ocr_clean=True),
    PixelEvidence.OCR_CHECKED: PixelState(source_burned_in="YES", suspect=True, ocr_clean=True),
    PixelEvidence.MASKED_NOT_CHECKED: PixelState(source_burned_in="YES", suspect=True, outside_regions=True),
    PixelEvidence.ACCEPTED: PixelState(source_burned_in="YES", suspect=True, accepted=True),
    PixelEvidence.NOT_CLEANED: PixelState(suspect=True),
}


def us_object(burned_in: str | None) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.1", "1.2.3.2", "1.2.3.3"
    ds.Modality, ds.PatientID, ds.Rows, ds.Columns = "US", "P1", 100, 200
    ds.PixelData = b"\0" * 100 * 200
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    return ds


def test_every_case_has_a_sample_and_a_readme_line() -> None:
    assert set(SAMPLES) == set(PixelEvidence)
    readme = render_actions_markdown(DeidOptions())
    for line in describe_marking():
        assert f"- {line}\n" in readme


@pytest.mark.parametrize("evidence", list(PixelEvidence), ids=str)
def test_each_case_does_what_its_description_says(evidence: PixelEvidence) -> None:
    state = SAMPLES[evidence]
    assert state.evidence is evidence
    ds = us_object(state.source_burned_in or None)
    if not state.has_pixels:
        del ds.PixelData
    Deidentifier(DeidOptions(), KEY).deidentify(ds, pixels=state)
    text = evidence.description
    removed = re.search(r"Patient Identity Removed (YES|NO)", text)
    assert removed and ds.PatientIdentityRemoved == removed.group(1)
    if "Burned In Annotation NO." in text or "stays NO" in text:
        assert ds.BurnedInAnnotation == "NO"
    else:
        assert "left as it was" in text and ds.get("BurnedInAnnotation") == (state.source_burned_in or None)
    assert decide_marking(state).clean_pixel_data is state.changed
    assert evidence_from_method(ds.DeidentificationMethod) is evidence
    assert all(len(v) <= 64 for v in ds.DeidentificationMethod)
    assert any(v.startswith(METHOD_PREFIX) for v in ds.DeidentificationMethod)


class TestFromPlan:
    def test_ultrasound_regions_only(self) -> None:
        plan = MaskPlan(keep=((10, 10, 190, 90),), sources=("us-regions",))
        state = PixelState.from_plan(us_object("YES"), plan, suspect=True, accept_burned_in=True)
        assert state == PixelState(source_burned_in="YES", suspect=True, changed=True, outside_regions=True)
        assert state.evidence is PixelEvidence.MASKED_NOT_CHECKED

    def test_region_covering_the_whole_frame_changes_nothing(self) -> None:
        plan = MaskPlan(keep=((0, 0, 200, 100),))
        state = PixelState.from_plan(us_object(None), plan, suspect=True)
        assert not state.changed and state.outside_regions and not state.accepted

    def test_accepted_only_when_nothing_is_masked(self) -> None:
        assert PixelState.from_plan(us_object(None), MaskPlan(), suspect=True, accept_burned_in=True).accepted
        assert not PixelState.from_plan(us_object(None), MaskPlan(), suspect=False, accept_burned_in=True).accepted
        rects = MaskPlan(blank=((0, 0, 10, 10),))
        assert not PixelState.from_plan(us_object(None), rects, suspect=True, accept_burned_in=True).accepted

    def test_without_pixels(self) -> None:
        ds = us_object("YES")
        del ds.PixelData
        assert PixelState.from_plan(ds, MaskPlan(), suspect=True).evidence is PixelEvidence.NO_PIXELS
        assert PixelState.from_dataset(ds).evidence is PixelEvidence.NO_PIXELS
