"""Issue 7 figures: cached get_prompt on SQLite and PostgreSQL; staleness after a sync with LISTEN.

usage: python bench/bench_cache.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_stores import drop_pg, fresh_pg  # noqa: E402
from common import median_us, report  # noqa: E402

from promptgear import PromptManager  # noqa: E402
from promptgear.config import load_config  # noqa: E402
from promptgear.filesystem_backend import FilesystemBackend  # noqa: E402
from promptgear.sync import Syncer  # noqa: E402


def main() -> None:
    root = tempfile.mkdtemp(prefix="pg-bench-cache-")
    files = FilesystemBackend(os.path.join(root, "prompts"))
    for i in range(100):
        files.create_prompt(f"p{i}", "v1", "System\nprompt", "User {{x}}", {"model": "gpt-4", "temperature": 0.2})
    pg_name, pg_url = fresh_pg()
    rows = []
    for kind, url in (("sqlite", f"sqlite:///{root}/m.db"), ("postgres", pg_url)):
        Syncer(files.prompt_dir, url).run()
        with PromptManager(config=load_config(backend=kind, db_url=url)) as pm:
            cached = median_us(lambda: pm.get_prompt("p42"), 20000)
            uncached = median_us(lambda: pm.backend.get_prompt("p42"), 2000)
        rows += [(f"{kind}: cached get_prompt (median)", cached, "us", 10),
                 (f"{kind}: uncached get_prompt, same store (median)", uncached, "us", None)]
    syncer = Syncer(files.prompt_dir, pg_url)
    samples = []
    with PromptManager(config=load_config(backend="postgres", db_url=pg_url), cache_ttl=3600) as pm:
        pm.get_prompt("p7")
        time.sleep(0.5)
        for i in range(30):
            files.update_prompt("p7", "v1", system_prompt=f"edit {i}")
            syncer.run(["p7"])
            committed = time.perf_counter()
            while pm.get_prompt("p7").system_prompt != f"edit {i}":
                pass
            samples.append((time.perf_counter() - committed) * 1000)
    syncer.close()
    drop_pg(pg_name)
    samples.sort()
    rows += [("postgres: staleness after a sync commit, LISTEN (median of 30)", statistics.median(samples), "ms", 100),
             ("postgres: staleness after a sync commit, LISTEN (max of 30)", samples[-1], "ms", 100)]
    report("cache", rows)


if __name__ == "__main__":
    main()
