"""Options coerced once at the boundary: ``parse_*`` and ``build_options`` refuse what cannot apply (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app
from dcmexport.errors import UsageError
from dcmexport.options import Window, parse_window
from tests.samplegen import make_ct, write_dataset

runner = CliRunner()


class TestParseWindow:
    def test_plain_window(self) -> None:
        assert parse_window("40,400") == Window(40.0, 400.0)
        assert parse_window("-600,1500") == Window(-600.0, 1500.0)

    @pytest.mark.parametrize("text", ["nan,400", "inf,400", "-inf,400", "40,inf", "40,1e308", "40,nan",
                                      "1e308,400", "1e39,10"])
    def test_non_finite_windows_are_usage_errors(self, text: str) -> None:
        with pytest.raises(UsageError, match="finite"):
            parse_window(text)

    @pytest.mark.parametrize("text", ["nan,400", "40,inf", "40,1e308", "40,nan"])
    def test_cli_exits_2_before_anything_is_written(self, tmp_path: Path, text: str) -> None:
        src = write_dataset(make_ct(), tmp_path / "ct.dcm")
        res = runner.invoke(app, ["export", str(src), "--out", str(tmp_path / "o"), "--window", text])
        assert res.exit_code == 2, res.output
        assert "--window" in res.output and len(res.output.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()
