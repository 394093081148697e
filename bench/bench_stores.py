"""Issue 3 figures: the three stores side by side, and migrations of 10,000 versions.

usage: python bench/bench_stores.py [POSTGRES_ADMIN_URL]
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
from common import median_us, report  # noqa: E402

from promptgear.filesystem_backend import FilesystemBackend  # noqa: E402
from promptgear.migrate import migrate  # noqa: E402
from promptgear.postgres_backend import PostgresBackend  # noqa: E402
from promptgear.sqlite_backend import SQLiteBackend  # noqa: E402

ADMIN = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
SYSTEM = "You are a helpful assistant for {{team}}.\nAnswer briefly and cite sources."


def fresh_pg() -> tuple[str, str]:
    name = f"promptgear_bench_{secrets.token_hex(4)}"
    conn = psycopg2.connect(ADMIN)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name, ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_pg(name: str) -> None:
    conn = psycopg2.connect(ADMIN)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def fill(store, names: int, versions: int) -> None:
    from promptgear.ledger import Ledger
    from promptgear.store import PromptRecord, new_content

    records = []
    for i in range(names):
        ledger = Ledger(f"prompt{i:05d}")
        contents = {}
        for v in range(1, versions + 1):
            ledger.add(f"v{v}")
            contents[f"v{v}"] = new_content(ledger.name, f"v{v}", SYSTEM + f" #{i}", "Question: {{q}}",
                                            {"model": "gpt-4" if i % 2 else "gpt-3.5", "temperature": 0.2})
        records.append(PromptRecord(ledger, contents))
    store.import_prompts(records)


def main() -> None:
    root = tempfile.mkdtemp(prefix="pg-bench-stores-")
    pg_names = []
    rows = []
    stores = {}
    name, url = fresh_pg()
    pg_names.append(name)
    stores["filesystem"] = FilesystemBackend(os.path.join(root, "fs"))
    stores["sqlite"] = SQLiteBackend(f"sqlite:///{root}/s.db")
    stores["postgres"] = PostgresBackend(url)
    targets = {"sqlite": 50, "postgres": 300, "filesystem": 30}
    for kind, store in stores.items():
        fill(store, 1000, 3)
        time.sleep(0.1)
        rows.append((f"{kind}: get latest (median)", median_us(lambda: store.get_prompt("prompt00500"), 3000), "us", targets[kind]))
        rows.append((f"{kind}: get version (median)", median_us(lambda: store.get_prompt("prompt00500", "v2"), 3000), "us", None))
        counter = iter(range(10**9))
        rows.append((f"{kind}: create (median)",
                     median_us(lambda: store.create_prompt(f"new{next(counter) // 3}", f"v{next(counter)}", SYSTEM, "u"), 200, 5) / 1000,
                     "ms", None))
        rows.append((f"{kind}: list 3,000 versions (median)", median_us(lambda: store.list_prompts(), 10, 2) / 1000, "ms", None))
        rows.append((f"{kind}: search 'helpful sources' (median)", median_us(lambda: store.search_prompts("helpful sources #5"), 20, 2) / 1000, "ms", None))

    source = FilesystemBackend(os.path.join(root, "src"))
    fill(source, 3334, 3)  # 10,002 versions
    source.list_prompts()  # warm the read cache: the figure is the copy, not YAML parsing
    for kind in ("sqlite", "postgres"):
        if kind == "sqlite":
            target = SQLiteBackend(f"sqlite:///{root}/migrate.db")
        else:
            name, url = fresh_pg()
            pg_names.append(name)
            target = PostgresBackend(url)
        start = time.perf_counter()
        count = migrate(source, target)
        elapsed = time.perf_counter() - start
        assert count == 10002
        rows.append((f"migrate 10,002 versions files -> {kind}", elapsed, "s", 2 if kind == "sqlite" else 4))
        target.close()
    for store in stores.values():
        store.close()
    for name in pg_names:
        drop_pg(name)
    report("stores", rows)


if __name__ == "__main__":
    main()
