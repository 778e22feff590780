"""README.md stays true: its generated de-identification section, its two commands, and CI calling them."""

from __future__ import annotations

import re
from pathlib import Path

from dcmexport.deid import DeidOptions, render_actions_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_deid_section_equals_engine_description() -> None:
    match = re.search(r"<!-- BEGIN deid-actions -->\n(.*?)\n<!-- END deid-actions -->", README, re.S)
    assert match, "README lost its deid-actions block"
    assert match.group(1).strip() == render_actions_markdown(DeidOptions()).strip()


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert any("dcmexport export samples/" in b for b in blocks)


def test_every_command_is_documented() -> None:
    from dcmexport.cli import app

    names = {c.name for c in app.registered_commands}
    for name in names:
        assert f"dcmexport {name}" in README, f"README does not mention `dcmexport {name}`"
