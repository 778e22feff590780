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
