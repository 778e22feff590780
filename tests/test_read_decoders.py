"""Decode failures say which case they are (issue #19 item 10): no decoder, no plugin installed, or plugins failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import MPEG2MPML, JPEGBaseline8Bit

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.read.decoders import describe_decode_failure

KEY = Key(b"decoders-test-key-0123456789abcd")


class TestDescribeDecodeFailure:
    def test_no_decoder_for_the_syntax(self) -> None:
        line = describe_decode_failure(NotImplementedError("x"), MPEG2MPML)
        assert "no decoder exists" in line and "MPEG2" in line and "pylibjpeg" not in line

    def test_no_plugin_installed_names_what_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pydicom.pixels.decoders.base import Decoder

        monkeypatch.setattr(Decoder, "available_plugins", property(lambda self: ()))
        monkeypatch.setattr(Decoder, "missing_dependencies", property(lambda self: ["pylibjpeg - requires pylibjpeg"]))
        line = describe_decode_failure(RuntimeError("x"), JPEGBaseline8Bit)
        assert "no installed plugin decodes transfer syntax JPEG Baseline" in line
        assert "install one of: pylibjpeg - requires pylibjpeg" in line

    def test_installed_plugins_are_named_not_asked_about(self) -> None:
        line = describe_decode_failure(RuntimeError("secret value"), JPEGBaseline8Bit)
        assert "installed plugins tried: " in line and "pylibjpeg" in line
        assert "is the pylibjpeg plugin" not in line and "secret value" not in line


def test_real_file_no_installed_plugin_decodes(tmp_path: Path) -> None:
    src = Path(get_testdata_file("JPEG-lossy.dcm"))  # type: ignore[arg-type]
    result = api.export(src, tmp_path / "o", key=KEY, accept_burned_in=True).results[0]
    if result.status == "written":
        pytest.skip("an installed plugin decodes JPEG-lossy.dcm here")
    reason = result.reason or ""
    assert result.status == "failed" and "JPEG Extended" in reason and "installed plugins tried" in reason, reason
    assert "is the pylibjpeg plugin" not in reason
