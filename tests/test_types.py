"""The package type-checks (STYLE.md: typed public API, mypy clean)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_mypy_is_clean():
    root = Path(__file__).parent.parent
    result = subprocess.run([sys.executable, "-m", "mypy", "promptgear"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
