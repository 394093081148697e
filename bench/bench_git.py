"""Issue 6 figures: check --staged in a repository of 10,000 prompts; a full check of 30,000 files.

usage: python bench/bench_git.py [--prompts 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_cli import OURS_VENV, ours_cli  # noqa: E402
from bench_sync import build_tree  # noqa: E402
from common import report  # noqa: E402

from promptgear.filesystem_backend import FilesystemBackend  # noqa: E402

GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]


def timed(args: list[str], cwd: str, runs: int, expect: int = 0) -> float:
    samples = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        assert result.returncode == expect, result.stderr[-2000:]
    return statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=10000)
    args = parser.parse_args()
    cwd = tempfile.mkdtemp(prefix="pg-bench-git-")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=cwd, check=True)
    with open(os.path.join(cwd, ".gitignore"), "w") as handle:
        handle.write(".promptgear/\n")
    build_tree(os.path.join(cwd, "prompts"), args.prompts)
    subprocess.run(GIT + ["add", "-A"], cwd=cwd, check=True)
    subprocess.run(GIT + ["commit", "-q", "-m", "tree"], cwd=cwd, check=True)
    FilesystemBackend(os.path.join(cwd, "prompts")).create_prompt("p00042", "v4", "new", "u")
    subprocess.run(GIT + ["add", "-A"], cwd=cwd, check=True)
    ours_cli()  # a regular install, as the hook runs it (an editable install adds an import hook)
    python = str(OURS_VENV / "bin" / "python")
    cli = [python, "-m", "promptgear"]
    baseline = timed([python, "-c", "pass"], cwd, 5)
    staged = timed(cli + ["check", "--staged"], cwd, 10)
    full_tree = timed(cli + ["check"], cwd, 3)
    full_staged = timed(cli + ["check", "--staged", "--all"], cwd, 3)
    report("git", [
        ("python -c pass (baseline)", baseline * 1000, "ms", None),
        (f"check --staged, one prompt touched, {args.prompts} prompts (median of 10)", staged * 1000, "ms", 300),
        (f"check (working tree) over {args.prompts * 3} version files (median of 3)", full_tree, "s", 5),
        (f"check --staged --all over {args.prompts * 3} version files (median of 3)", full_staged, "s", 5),
    ])


if __name__ == "__main__":
    main()
