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
    table = README.split("| command |")[1].split("\n\n")[0]
    first_column = " ".join(line.split("|")[1] for line in table.splitlines()[2:] if line.startswith("|"))
    named = set(re.findall(r"`(?:promptgear )?([a-z-]+)(?: [^`]*)?`", first_column))
    assert named and named <= set(cli.commands), named - set(cli.commands)
    shell = "\n".join(re.findall(r"```(?:bash|console)\n(.*?)```", README, re.S))
    used = re.findall(r"(?:^|\$ |&& |/bin/)promptgear ([a-z-]+)", shell, re.M)
    assert len(used) > 10
    for command in used:
        assert command in cli.commands, command
