"""Start-up structure (issue #7): what a command imports, checked in fresh processes.

These tests are about import structure, not timing: a heavy optional module
imported eagerly again (tifffile for a PNG, imageio-ffmpeg for a still, the OCR
or review modules, rich for a quiet run, typer's pydantic adapters) fails here
by name, whatever the machine's speed. ``bench/run.py --only startup`` measures
the time itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.samplegen import make_ct, make_us_gray_cine, write_dataset

#: Imported by no command unless that command needs it.
OPTIONAL = ("tifffile", "imageio_ffmpeg", "dcmexport.mask.ocr", "dcmexport.audit.review", "dcmexport.audit.verify", "pytesseract",
            "dask", "distributed", "dcmexport.executors.dask")
#: Not needed for a quiet run that writes everything (rich draws tables, progress and help only;
#: tomllib parses only presets missing from dcmexport/presets_cache.json, see test_presets.py).
QUIET_UNNEEDED = (
    "rich", "rich.console", "rich.table", "rich.progress", "concurrent.futures.process", "pydantic", "tomllib",
)  # fmt: skip

_RUN = """
import gc, json, runpy, sys
sys.argv = ["dcmexport", *json.loads(sys.argv[1])]
code = 0
try:
    runpy.run_module("dcmexport", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
print("@@" + json.dumps({"code": code, "modules": sorted(sys.modules),
                         "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def run_cli(args: list[str], tmp_path: Path) -> dict[str, object]:
    """Run ``dcmexport ARGS`` in a new interpreter; return its exit code, final sys.modules and GC state."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "DCMEXPORT_KEY": "startup-test-key-0123456789abcdef",
             **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},  # the tree under test
    )  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("@@")), None)
    assert line is not None, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(line[2:])
    return result


def imported(result: dict[str, object], names: tuple[str, ...]) -> list[str]:
    modules = result["modules"]
    assert isinstance(modules, list)
    return [name for name in names if name in modules]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("startup-inputs")
    return {
        "ct": write_dataset(make_ct(), folder / "ct.dcm"),
        "cine": write_dataset(make_us_gray_cine(rows=64, columns=64, frames=4), folder / "cine.dcm"),
    }


def test_importing_the_cli_imports_no_pipeline() -> None:
    code = "import json, sys, dcmexport.cli; print(json.dumps(sorted(sys.modules)))"
    modules = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True, timeout=60).stdout)
    heavy = ("pydicom", "numpy", "PIL", "dcmexport.api", *OPTIONAL, *QUIET_UNNEEDED)
    assert [name for name in heavy if name in modules] == []


def test_export_png_imports_only_what_a_png_needs(inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(["export", str(inputs["ct"]), "--out", str(tmp_path / "out"), "--format", "png", "-q"], tmp_path)
    assert result["code"] == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 1
    assert imported(result, OPTIONAL + QUIET_UNNEEDED) == []


def test_export_mp4_imports_the_video_backend_only(inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(["export", str(inputs["cine"]), "--out", str(tmp_path / "out"), "--format", "mp4", "-q"],
                     tmp_path)
    assert result["code"] == 0
    assert imported(result, ("imageio_ffmpeg",)) == ["imageio_ffmpeg"]
    assert imported(result, OPTIONAL[:1] + OPTIONAL[2:] + QUIET_UNNEEDED) == []


def test_deid_imports_no_encoder(inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(["deid", str(inputs["ct"]), "--out", str(tmp_path / "out"), "-q"], tmp_path)
    assert result["code"] == 0
    assert imported(result, OPTIONAL + QUIET_UNNEEDED) == []


def test_tiff_imports_tifffile_and_a_summary_imports_rich(inputs: dict[str, Path], tmp_path: Path) -> None:
    # The lazy imports still happen where they are needed.
    result = run_cli(["export", str(inputs["ct"]), "--out", str(tmp_path / "out"), "--format", "tiff"], tmp_path)
    assert result["code"] == 0
    assert imported(result, ("tifffile", "rich.table")) == ["tifffile", "rich.table"]


def test_the_collector_runs_again_after_the_imports(inputs: dict[str, Path], tmp_path: Path) -> None:
    # cli.common.collector_paused: paused while the pipeline is imported, then frozen and back on.
    result = run_cli(["export", str(inputs["ct"]), "--out", str(tmp_path / "out"), "-q"], tmp_path)
    assert result["gc_enabled"] is True
    frozen = result["frozen"]
    assert isinstance(frozen, int) and frozen > 10_000


def test_collector_paused_restores_the_collector_on_error() -> None:
    code = """
import gc
from dcmexport.cli.common import collector_paused
try:
    with collector_paused():
        import pydicom
        raise RuntimeError
except RuntimeError:
    pass
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["True", "True"]


class TestInvokedCommand:
    """cli.main builds only the command named on the command line (typer builds every registered one)."""

    def test_a_command_name_selects_it(self) -> None:
        from dcmexport.cli import _invoked_command

        assert _invoked_command(["export", "a.dcm", "--out", "o"]) == "export"
        assert _invoked_command(["deid", "--help"]) == "deid"

    @pytest.mark.parametrize("args", [[], ["--help"], ["exprot"], ["--install-completion"]])
    def test_anything_else_keeps_every_command(self, args: list[str]) -> None:
        from dcmexport.cli import _invoked_command

        assert _invoked_command(args) is None

    def test_shell_completion_keeps_every_command(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from dcmexport.cli import _invoked_command

        monkeypatch.setenv("_DCMEXPORT_COMPLETE", "complete_bash")
        assert _invoked_command(["export"]) is None

    def test_main_restores_the_command_list(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from dcmexport.cli import app, main

        before = list(app.registered_commands)
        monkeypatch.setattr(sys, "argv", ["dcmexport", "presets", "--no-masks"])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code in (0, None)
        assert app.registered_commands == before

    def test_a_typo_still_gets_click_s_message(self, tmp_path: Path) -> None:
        proc = subprocess.run([sys.executable, "-m", "dcmexport", "exprot"], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60, check=False)
        assert proc.returncode == 2 and "No such command" in proc.stderr
