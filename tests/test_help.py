"""Every command has --help with examples, and shell completion is available (typer)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dcmexport.cli import app

runner = CliRunner()
COMMANDS = sorted(c.name for c in app.registered_commands if c.name)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command: str) -> None:
    res = runner.invoke(app, [command, "--help"])
    assert res.exit_code == 0
    assert "Examples" in res.output and f"dcmexport {command}" in res.output


def test_all_commands_registered() -> None:
    assert {"export", "deid", "inspect", "presets", "review", "verify"} <= set(COMMANDS)


def test_shell_completion_is_offered() -> None:
    res = runner.invoke(app, ["--help"])
    assert "--install-completion" in res.output and "--show-completion" in res.output


# --------------------------------------------------------------------------- readable at 80 columns (issue #18 item 12)

PANELS = {
    "export": ["Output", "Rendering", "Clips", "Burned-in text", "De-identification", "Batch and audit", "Figures",
               "Network"],
    "deid": ["Output", "De-identification", "Burned-in text", "Batch and audit", "Network"],
}


def _options(command: str) -> list[str]:
    """Every option name of ``command`` (long and short, both sides of a --x/--no-x flag)."""
    import typer.main

    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return [name for p in click_command.params for name in (*p.opts, *p.secondary_opts)]


@pytest.mark.parametrize("command", sorted(PANELS))
@pytest.mark.parametrize("width", [80, 120])
def test_options_are_grouped_in_panels_most_used_first(command: str, width: int) -> None:
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": str(width), "TERMINAL_WIDTH": str(width)})
    assert res.exit_code == 0
    titles = [line.split("\u2500 ", 1)[1].split(" \u2500", 1)[0] for line in res.output.splitlines()
              if line.startswith("\u256d\u2500 ")]  # fmt: skip
    assert titles == ["Arguments", "Options", *PANELS[command]]
    options_panel = res.output.split("\u256d\u2500 Options")[1].split("\u2570")[0]
    assert "--help" in options_panel and "--out" not in options_panel  # only --help is left ungrouped
    assert "\u2026" not in res.output  # no option name (or anything else) cut with an ellipsis
    for name in _options(command):
        assert name in res.output, name
    assert max(len(line) for line in res.output.splitlines()) <= width
