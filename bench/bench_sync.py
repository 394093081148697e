"""Issue 5 figures: initial reconcile, restart, save-to-row latency, deletes, git checkout.

usage: python bench/bench_sync.py [--prompts 10000] [--runs 3] [--drop-caches] [POSTGRES_ADMIN_URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
from bench_stores import drop_pg, fresh_pg  # noqa: E402
from common import report  # noqa: E402

from promptgear.filesystem_backend import FilesystemBackend  # noqa: E402
from promptgear.ledger import Ledger  # noqa: E402
from promptgear.store import PromptRecord, new_content  # noqa: E402
from promptgear.sync import Syncer  # noqa: E402


def build_tree(root: str, prompts: int) -> FilesystemBackend:
    store = FilesystemBackend(root)
    batch = []
    for i in range(prompts):
        ledger = Ledger(f"p{i:05d}")
        contents = {}
        for v in (1, 2, 3):
            ledger.add(f"v{v}")
            contents[f"v{v}"] = new_content(ledger.name, f"v{v}", f"System {i}.{v}\nBe brief.", "Q: {{q}}", {"t": v})
        batch.append(PromptRecord(ledger, contents))
        if len(batch) == 1000:
            store.import_prompts(batch)
            batch = []
    store.import_prompts(batch)
    return store


def whole_process_sync(cwd: str, url: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "promptgear", "sync", "--to", url], cwd=cwd,
                         capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out.strip()


def forget_caches(root: str) -> None:
    """Nothing known about the files: what a fresh clone looks like to promptgear."""
    cache = os.path.join(root, ".promptgear", "cache")
    for stale in ("sync-files.json", "sync-prompts.json", "contents.json"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(cache, stale))


def drop_page_cache() -> None:
    """Evict every file from the kernel's page cache (root only): a tree read from disk."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")


def cold_runs(cwd: str, root: str, kind: str, command: list[str], runs: int,
              from_disk: bool = False) -> tuple[list[float], str, str]:
    """Whole-process times of ``promptgear COMMAND`` ({url} filled in), each into a fresh
    database with no caches; returns the times, the last output and the last database's URL."""
    samples, out, url = [], "", ""
    for run in range(runs):
        if kind == "sqlite":
            url = f"sqlite:///{cwd}/{command[0]}-{run}.db"  # named after the command
        else:
            name, url = fresh_pg()
            PG_NAMES.append(name)
        forget_caches(root)
        if from_disk:
            drop_page_cache()
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "promptgear", *[a.format(url=url) for a in command]], cwd=cwd,
                             capture_output=True, text=True, check=True).stdout.strip()
        samples.append(time.perf_counter() - start)
    return samples, out, url


PG_NAMES: list[str] = []


class Reader:
    def __init__(self, url: str) -> None:
        self.pg = url.startswith("postgres")
        if self.pg:
            self.conn = psycopg2.connect(url)
            self.conn.autocommit = True
        else:
            self.conn = sqlite3.connect(url[len("sqlite:///"):])

    def system(self, name: str, version: str) -> str | None:
        q = "SELECT system_prompt FROM prompts WHERE name = %s AND version = %s"
        if self.pg:
            with self.conn.cursor() as cur:
                cur.execute(q, (name, version))
                row = cur.fetchone()
        else:
            row = self.conn.execute(q.replace("%s", "?"), (name, version)).fetchone()
        return row[0] if row else None


def wait_for(check, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
    return time.perf_counter() - start


def latency(cwd: str, root: str, url: str, victim: str, saves: int = 200) -> tuple[list[float], float]:
    env = {**os.environ, "PROMPT_GEAR_PROMPT_DIR": root}
    daemon = subprocess.Popen([sys.executable, "-m", "promptgear", "sync", "--watch", "--to", url], cwd=cwd, env=env,
                              stderr=subprocess.PIPE, text=True)
    while "full reconcile" not in daemon.stderr.readline():
        pass
    reader = Reader(url)
    samples = []
    path = os.path.join(root, "p00042", "v2.yaml")
    for i in range(saves):
        text = f"name: p00042\nversion: v2\nsystem_prompt: save {i}\nuser_prompt: u\nconfig: {{}}\n"
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(text)
        start = time.perf_counter()
        os.replace(tmp, path)
        wait_for(lambda: reader.system("p00042", "v2") == f"save {i}")
        samples.append((time.perf_counter() - start) * 1000)
        time.sleep(0.01)
    store = FilesystemBackend(root)
    start = time.perf_counter()
    store.delete_prompt(victim, "v1")
    delete_s = (time.perf_counter() - start) + wait_for(lambda: reader.system(victim, "v1") is None)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=20)
    return samples, delete_s


def checkout(cwd: str, url: str) -> float:
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    root = os.path.join(cwd, "prompts")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=cwd, check=True)
    with open(os.path.join(cwd, ".gitignore"), "w") as handle:
        handle.write(".promptgear/\n*.db*\n")
    store = build_tree(root, 500)
    subprocess.run(git + ["add", "-A"], cwd=cwd, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "main"], cwd=cwd, check=True)
    subprocess.run(["git", "checkout", "-q", "-b", "other"], cwd=cwd, check=True)
    for i in range(500):  # 1,000 files differ: v1 edited and v4 added in 500 prompts (+ their metadata)
        store.update_prompt(f"p{i:05d}", "v1", system_prompt=f"other {i}")
    subprocess.run(git + ["add", "-A"], cwd=cwd, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "other"], cwd=cwd, check=True)
    env = {**os.environ, "PROMPT_GEAR_PROMPT_DIR": root}
    daemon = subprocess.Popen([sys.executable, "-m", "promptgear", "sync", "--watch", "--to", url], cwd=cwd, env=env,
                              stderr=subprocess.PIPE, text=True)
    while "full reconcile" not in daemon.stderr.readline():
        pass
    start = time.perf_counter()
    subprocess.run(["git", "checkout", "-q", "main"], cwd=cwd, check=True)
    syncer = Syncer(root, url)
    wait_for(lambda: syncer.plan().in_sync, 60)
    elapsed = time.perf_counter() - start
    syncer.close()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=20)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3, help="cold runs per initial-reconcile figure")
    parser.add_argument("--drop-caches", action="store_true",
                        help="also time an initial reconcile with the page cache dropped (needs root)")
    parser.add_argument("admin", nargs="?", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    import bench_stores

    bench_stores.ADMIN = args.admin
    cwd = tempfile.mkdtemp(prefix="pg-bench-sync-")
    root = os.path.join(cwd, "prompts")
    start = time.perf_counter()
    build_tree(root, args.prompts)
    print(f"built {args.prompts * 3} version files in {time.perf_counter() - start:.1f} s", flush=True)
    rows = []
    for kind in ("sqlite", "postgres"):
        # Baseline, same run: the plain copy of every prompt into the same kind of database.
        baseline, _, _ = cold_runs(cwd, root, kind, ["migrate", "--from", root, "--to", "{url}"], args.runs)
        initial, out, url = cold_runs(cwd, root, kind, ["sync", "--to", "{url}"], args.runs)
        print(kind, out, [round(t, 2) for t in initial], "baseline", [round(t, 2) for t in baseline], flush=True)
        restarts = [whole_process_sync(cwd, url)[0] for _ in range(5)]
        samples, delete_s = latency(cwd, root, url, "p00043" if kind == "sqlite" else "p00044")
        samples.sort()
        rows += [
            (f"{kind}: initial reconcile {args.prompts} x 3 (whole process, median of {args.runs})",
             statistics.median(initial), "s", 5 if kind == "sqlite" else 10),
            (f"{kind}:   baseline: migrate files -> {kind} (median of {args.runs})", statistics.median(baseline), "s", None),
            (f"{kind}:   ratio initial reconcile / migrate", statistics.median(initial) / statistics.median(baseline), "x", None),
            (f"{kind}: start with no changes (whole process, median of 5)", statistics.median(restarts), "s", 1),
            (f"{kind}: save -> row visible p50 (200 saves)", samples[len(samples) // 2], "ms", 25),
            (f"{kind}: save -> row visible p99 (200 saves)", samples[int(len(samples) * 0.99) - 1], "ms", 100),
            (f"{kind}: delete -> row gone", delete_s, "s", 1),
        ]
        print(rows[-7:], flush=True)
    if args.drop_caches:  # informational: no target is set for a tree that is not in memory
        from_disk, _, _ = cold_runs(cwd, root, "sqlite", ["sync", "--to", "{url}"], args.runs, from_disk=True)
        rows.append((f"sqlite: initial reconcile, page cache dropped first (median of {args.runs})",
                     statistics.median(from_disk), "s", None))
    git_dir = tempfile.mkdtemp(prefix="pg-bench-git-")
    rows.append(("git checkout changing 1,000 files -> database equal (sqlite)",
                 checkout(git_dir, f"sqlite:///{git_dir}/m.db"), "s", 2))
    for name in PG_NAMES:
        drop_pg(name)
    report("sync", rows)


if __name__ == "__main__":
    main()
