"""Issue 4 figures: CLI start-up against the original Prompt Gear, measured in the same run.

usage: python bench/bench_cli.py
Installs prompt-gear==0.1.0b2 into bench/.venvs/original (once) and times whole
processes: `promptgear --help` and `promptgear get NAME`, medians of 15 runs each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import process_ms, report  # noqa: E402

HERE = Path(__file__).parent
ORIGINAL = HERE / ".venvs" / "original"
OURS_VENV = HERE / ".venvs" / "ours"
OURS = OURS_VENV / "bin" / "promptgear"


def ours_cli() -> None:
    """A regular (non-editable) install, as users get from pip: editable installs add an
    import hook that costs every process ~15 ms."""
    if not OURS_VENV.exists():
        subprocess.run([sys.executable, "-m", "venv", str(OURS_VENV)], check=True)
    subprocess.run([str(OURS_VENV / "bin" / "pip"), "install", "-q", "--force-reinstall", "--no-deps", str(HERE.parent)],
                   check=True)
    subprocess.run([str(OURS_VENV / "bin" / "pip"), "install", "-q", str(HERE.parent)], check=True)
    subprocess.run([str(OURS_VENV / "bin" / "python"), "-m", "compileall", "-q", str(OURS_VENV / "lib")], check=False)


def original_cli() -> Path:
    exe = ORIGINAL / "bin" / "promptgear"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ORIGINAL)], check=True)
        subprocess.run([str(ORIGINAL / "bin" / "pip"), "install", "-q", "prompt-gear==0.1.0b2"], check=True)
        # pip compiles bytecode at install; make sure both sides start with .pyc files
    subprocess.run([str(ORIGINAL / "bin" / "python"), "-m", "compileall", "-q", str(ORIGINAL / "lib")], check=False)
    return exe


def main() -> None:
    theirs = original_cli()
    ours_cli()
    env = {"PROMPT_GEAR_BACKEND": "filesystem"}
    rows = []
    baseline = process_ms([str(OURS_VENV / "bin" / "python"), "-c", "pass"], 15)
    ours_dir, theirs_dir = tempfile.mkdtemp(prefix="pg-ours-"), tempfile.mkdtemp(prefix="pg-theirs-")
    for exe, folder in ((str(OURS), ours_dir), (str(theirs), theirs_dir)):
        subprocess.run([exe, "create", "greet", "--version", "v1", "--system", "You are kind.", "--user", "Hi {{name}}"],
                       cwd=folder, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    ours_help = process_ms([str(OURS), "--help"], 15, cwd=ours_dir, env=env)
    theirs_help = process_ms([str(theirs), "--help"], 15, cwd=theirs_dir, env=env)
    ours_get = process_ms([str(OURS), "get", "greet"], 15, cwd=ours_dir, env=env)
    theirs_get = process_ms([str(theirs), "get", "greet"], 15, cwd=theirs_dir, env=env)
    heavy = subprocess.run(
        [str(OURS_VENV / "bin" / "python"), "-c", "import sys; from promptgear.cli import cli; "
         "cli.main(['get', 'greet'], standalone_mode=False); "
         "print(sorted(m for m in ('watchdog', 'git', 'psycopg2') if m in sys.modules), file=sys.stderr)"],
        cwd=ours_dir, capture_output=True, text=True).stderr.strip()
    rows += [
        ("python -c pass (baseline, same run)", baseline, "ms", None),
        ("promptgear --help (ours)", ours_help, "ms", 100),
        ("promptgear --help (original 0.1.0b2)", theirs_help, "ms", None),
        ("--help ours / original", ours_help / theirs_help, "x", 0.5),
        ("promptgear get NAME (ours)", ours_get, "ms", 120),
        ("promptgear get NAME (original 0.1.0b2)", theirs_get, "ms", None),
        ("get ours / original", ours_get / theirs_get, "x", 0.5),
        ("promptgear --help over python baseline (ours)", ours_help - baseline, "ms", None),
        ("promptgear get over python baseline (ours)", ours_get - baseline, "ms", None),
    ]
    report("cli", rows)
    print(f"heavy modules imported by `promptgear get`: {heavy}")
    shutil.rmtree(ours_dir)
    shutil.rmtree(theirs_dir)


if __name__ == "__main__":
    main()
