"""Helpers for the benchmarks: whole-process timings and medians."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

OUT = Path(__file__).parent / "out"


def median_us(fn: Callable[[], Any], repeat: int = 2000, warmup: int = 50) -> float:
    """Median of ``repeat`` single calls, in microseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def process_ms(args: list[str], runs: int = 10, cwd: str | None = None, env: dict[str, str] | None = None) -> float:
    """Median wall time of a whole process, in milliseconds."""
    samples = []
    full_env = {**os.environ, **(env or {})}
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=full_env, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples[1:])  # the first run warms the page cache


def python_baseline_ms(runs: int = 10) -> float:
    return process_ms([sys.executable, "-c", "pass"], runs)


def report(name: str, rows: list[tuple[str, float, str, float | None]]) -> None:
    """Print ``metric value unit target`` rows and save them as JSON under bench/out/."""
    OUT.mkdir(exist_ok=True)
    print(f"\n== {name}")
    for metric, value, unit, target in rows:
        verdict = "" if target is None else ("  ok" if value <= target else f"  MISSED (target <= {target:g} {unit})")
        print(f"{metric:<58} {value:10.2f} {unit}{verdict}")
    (OUT / f"{name}.json").write_text(json.dumps([dict(zip(("metric", "value", "unit", "target"), r)) for r in rows], indent=2))
