"""The README stays true: its Python runs, and the commands it names exist."""

from __future__ import annotations

import re
from pathlib import Path

from promptgear.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_python_runs(isolated_env):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (isolated_env / "prompts" / "support" / "v1.yaml").exists()


def test_readme_commands_exist():
    named = set(re.findall(r"`(?:promptgear )?([a-z]+)(?: [^`]*)?`", README.split("| command |")[1].split("\n\n")[0]))
    assert named and named <= set(cli.commands), named - set(cli.commands)
    for command in re.findall(r"^\$ promptgear ([a-z]+)", README, re.M):
        assert command in cli.commands
