"""Issue 2 figures: filesystem store reads, writes, listing, and import cost.

usage: python bench/bench_filesystem.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import median_us, process_ms, python_baseline_ms, report  # noqa: E402

from promptgear.filesystem_backend import FilesystemBackend  # noqa: E402

LIST_SCRIPT = """
import sys, time
t = time.perf_counter()
from promptgear.filesystem_backend import FilesystemBackend
n = len(FilesystemBackend(sys.argv[1]).list_prompts())
print((time.perf_counter() - t) * 1000, n)
"""


def main() -> None:
    root = tempfile.mkdtemp(prefix="pg-bench-")
    store = FilesystemBackend(os.path.join(root, "prompts"))
    system = "You are a helpful assistant.\nAnswer briefly.\nUse {{tone}} tone."
    for i in range(1000):
        for v in range(1, 4):
            store.create_prompt(f"prompt{i:04d}", f"v{v}", system, "Question: {{q}}", {"model": "gpt-4", "temperature": 0.3})
    time.sleep(0.1)  # past the racy window, as any real tree is

    get_latest = median_us(lambda: store.get_prompt("prompt0500"), 5000)
    get_version = median_us(lambda: store.get_prompt("prompt0500", "v2"), 5000)
    # A realistic create: v1..v3 of 100 fresh prompts (new folders and existing ones alike).
    writer = FilesystemBackend(os.path.join(root, "writes"))
    creates = []
    for i in range(100):
        for v in range(1, 4):
            start = time.perf_counter()
            writer.create_prompt(f"w{i}", f"v{v}", system, "u {{x}}", {"m": 1})
            creates.append((time.perf_counter() - start) * 1000)
    create = statistics.median(creates)
    create_existing = statistics.median(creates[1::3] + creates[2::3])

    repeated = FilesystemBackend(os.path.join(root, "prompts"))
    repeated.list_prompts()
    list_repeated = median_us(lambda: repeated.list_prompts(), 10, 1) / 1000

    fresh_in_process, fresh_process = [], []
    cache = os.path.join(root, "prompts", ".promptgear", "cache", "contents.json")
    cold_first = None
    for run in range(6):
        if run == 0 and os.path.exists(cache):
            os.unlink(cache)  # first run: no persistent cache at all
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", LIST_SCRIPT, os.path.join(root, "prompts")],
                             capture_output=True, text=True, check=True).stdout.split()
        wall = (time.perf_counter() - start) * 1000
        assert out[1] == "3000", out
        if run == 0:
            cold_first = wall
        else:
            fresh_in_process.append(float(out[0]))
            fresh_process.append(wall)

    baseline = python_baseline_ms()
    import_ms = process_ms([sys.executable, "-c", "import promptgear"])
    import_sdk_ms = process_ms([sys.executable, "-c", "from promptgear import PromptManager"])
    heavy = subprocess.run([sys.executable, "-c", "import sys, promptgear; from promptgear import PromptManager; "
                            "print(sorted(m for m in ('watchdog','git','psycopg2') if m in sys.modules))"],
                           capture_output=True, text=True).stdout.strip()

    report("filesystem", [
        ("get_prompt(name) latest, in process (median)", get_latest, "us", 30),
        ("get_prompt(name, version), in process (median)", get_version, "us", None),
        ("create_prompt, fsync'd and locked (median)", create, "ms", 3),
        ("create_prompt of an existing prompt (median)", create_existing, "ms", None),
        ("list_prompts() 3,000 versions, fresh process, call only", statistics.median(fresh_in_process), "ms", 500),
        ("list_prompts() 3,000 versions, fresh process, whole process", statistics.median(fresh_process), "ms", 500),
        ("list_prompts() 3,000 versions, fresh process, no cache file", cold_first, "ms", None),
        ("list_prompts() 3,000 versions, repeated (median)", list_repeated, "ms", 50),
        ("python -c pass (baseline)", baseline, "ms", None),
        ("python -c 'import promptgear', whole process", import_ms, "ms", None),
        ("import promptgear, over baseline", import_ms - baseline, "ms", 60),
        ("from promptgear import PromptManager, over baseline", import_sdk_ms - baseline, "ms", 60),
    ])
    print(f"heavy modules imported by the SDK: {heavy}")


if __name__ == "__main__":
    main()
