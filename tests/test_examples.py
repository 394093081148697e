"""Every script in examples/ runs, as a user would run it, in an empty folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, isolated_env):
    result = subprocess.run([sys.executable, str(script)], cwd=isolated_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_quickstart_output(isolated_env):
    script = Path(__file__).parent.parent / "examples" / "quickstart.py"
    out = subprocess.run([sys.executable, str(script)], cwd=isolated_env, capture_output=True, text=True).stdout
    assert out.splitlines() == [
        "latest: v2 (sequence 2)",
        "variables: language, message",
        "Customer: My order is late.",
        "after rollback: v1",
        "versions: ['v1', 'v2']",
    ]
