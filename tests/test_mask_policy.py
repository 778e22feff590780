"""The refusal rule (dcmexport.mask.policy): which objects may carry burned-in text."""

from __future__ import annotations

import pytest

from dcmexport.mask.policy import may_carry_burned_in
from tests.maskdata import synthetic


class TestMayCarryBurnedIn:
    @pytest.mark.parametrize("modality", ["US", "SC", "XA", "RF", "ES", "OT"])
    def test_text_prone_modalities(self, modality: str) -> None:
        reason = may_carry_burned_in(synthetic(modality))
        assert reason is not None and "(0008,0060)" in reason

    def test_yes_always_and_no_clears(self) -> None:
        assert "(0028,0301)" in str(may_carry_burned_in(synthetic("CT", BurnedInAnnotation="YES")))
        assert may_carry_burned_in(synthetic("US", BurnedInAnnotation="NO")) is None
        assert may_carry_burned_in(synthetic("CT")) is None

    def test_secondary_capture_classes(self) -> None:
        for uid in ("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.4"):
            reason = may_carry_burned_in(synthetic("CT", SOPClassUID=uid))
            assert reason is not None and "(0008,0016)" in reason and uid not in reason
