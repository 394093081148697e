"""``promptgear sync --watch`` as a real daemon: editors, folders, git, failures, two daemons."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
import time

import psycopg2
import pytest

from promptgear.filesystem_backend import FilesystemBackend
from sync_helpers import Daemon, Proxy, in_sync, wait_until


@pytest.fixture
def spawn(isolated_env):
    """Start daemons on a URL; every one still running at the end must stop cleanly."""
    started = []

    def start(url, *extra):
        d = Daemon(isolated_env, url, *extra)
        started.append(d)
        d.wait_ready()
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            assert d.stop() == 0, d.output()


@pytest.fixture
def daemon(spawn, tree, target):
    return lambda *extra: spawn(target, *extra)


def converged(tree, url, timeout=10.0):
    return wait_until(lambda: in_sync(tree.prompt_dir, url), timeout)


def system_of(url, name, version):
    from promptgear.backends import backend_from_url

    store = backend_from_url(url)
    try:
        return store.get_prompt(name, version).system_prompt
    except Exception:
        return None
    finally:
        store.close()


def test_promptgear_writes_and_sigterm(daemon, tree, target):
    d = daemon()
    tree.create_prompt("c", "v1", "new", "u")
    tree.update_prompt("a", "v1", system_prompt="edited")
    tree.delete_prompt("b", "v1")
    converged(tree, target)
    assert system_of(target, "a", "v1") == "edited"
    assert d.stop() == 0
    log = d.output()
    assert "first reconcile a, b: 3 added, 0 updated, 0 deleted in" in log  # one line per applied batch
    assert "synced" in log


def vim_save(path, text):
    backup = str(path) + "~"
    os.rename(path, backup)
    with open(path, "w") as handle:
        handle.write(text)
    os.unlink(backup)


def jetbrains_save(path, text):
    tmp, old = str(path) + "___jb_tmp___", str(path) + "___jb_old___"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.rename(path, old)
    os.rename(tmp, path)
    os.unlink(old)


def vscode_save(path, text):
    with open(path, "w") as handle:  # truncate, then write in place
        handle.flush()
        time.sleep(0.02)
        handle.write(text)


def emacs_save(path, text):
    lock = os.path.join(os.path.dirname(path), ".#" + os.path.basename(path))
    os.symlink("user@host.1234:1700000000", lock)  # emacs' dangling lock symlink
    with open(path, "w") as handle:
        handle.write(text)
    os.unlink(lock)


@pytest.mark.parametrize("save", [vim_save, jetbrains_save, vscode_save, emacs_save], ids=lambda f: f.__name__)
def test_editor_saves_converge(daemon, tree, target, isolated_env, save):
    daemon()
    path = isolated_env / "prompts" / "a" / "v1.yaml"
    for i in range(3):
        save(path, f"name: a\nversion: v1\nsystem_prompt: saved {i}\nuser_prompt: u\nconfig: {{}}\n")
        wait_until(lambda: system_of(target, "a", "v1") == f"saved {i}", 10)
    converged(tree, target)


def test_vim_saves_never_show_a_transient_delete(spawn, tree, isolated_env, tmp_path):
    target = f"sqlite:///{tmp_path / 'prompts.db'}"
    spawn(target)
    db = str(tmp_path / "prompts.db")
    missing, reads = [], [0]
    stop = threading.Event()

    def poll():
        conn = sqlite3.connect(db)
        while not stop.is_set():
            row = conn.execute("SELECT 1 FROM prompts WHERE name = 'a' AND version = 'v1'").fetchone()
            reads[0] += 1
            if row is None:
                missing.append(time.monotonic())
            time.sleep(0.001)
        conn.close()

    poller = threading.Thread(target=poll)
    poller.start()
    path = isolated_env / "prompts" / "a" / "v1.yaml"
    try:
        for i in range(200):
            vim_save(path, f"name: a\nversion: v1\nsystem_prompt: save {i}\nuser_prompt: u\n")
            time.sleep(0.005)
        wait_until(lambda: system_of(target, "a", "v1") == "save 199", 10)
    finally:
        stop.set()
        poller.join()
    assert reads[0] > 500 and missing == []


def test_folder_copy_move_and_remove(daemon, tree, target, isolated_env):
    daemon()
    root = isolated_env / "prompts"
    shutil.copytree(root / "b", root / "copy-src")  # a copy: its metadata names 'b', so it is not mirrored
    shutil.rmtree(root / "copy-src")
    other = FilesystemBackend(str(isolated_env / "elsewhere"))
    other.create_prompt("moved", "v1", "s", "u")
    shutil.move(str(isolated_env / "elsewhere" / "moved"), str(root / "moved"))
    shutil.rmtree(root / "b")
    converged(tree, target)
    assert system_of(target, "moved", "v1") == "s" and system_of(target, "b", "v1") is None


def test_sigkill_then_restart_reconciles(daemon, tree, target):
    d = daemon()
    d.kill()
    tree.create_prompt("c", "v1", "while down", "u")
    tree.delete_prompt("b", "v1")
    assert not in_sync(tree.prompt_dir, target)
    daemon()
    converged(tree, target)


def test_two_daemons_one_target_standby_takes_over(daemon, tree, target, isolated_env):
    first = daemon()
    second = Daemon(isolated_env, target)
    wait_until(lambda: "standby" in second.output(), 15)
    first.kill()
    wait_until(lambda: "full reconcile" in second.output(), 15)
    tree.create_prompt("c", "v1", "after takeover", "u")
    converged(tree, target)
    assert second.stop() == 0


def test_killed_connections_and_unreachable_server(tree, isolated_env, pg_url, spawn):
    proxy = Proxy()
    proxy.start()
    url = proxy.url(pg_url)
    d = spawn(url)
    with psycopg2.connect(pg_url) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
    tree.create_prompt("c", "v1", "after kill", "u")
    converged(tree, pg_url)
    proxy.cut()
    tree.create_prompt("d", "v1", "while unreachable", "u")
    tree.update_prompt("a", "v1", system_prompt="edited while unreachable")
    time.sleep(1.5)
    assert not in_sync(tree.prompt_dir, pg_url)
    proxy.start()
    converged(tree, pg_url, timeout=40)
    assert system_of(pg_url, "a", "v1") == "edited while unreachable"
    assert "retrying" in d.output()


def test_git_checkout_of_a_thousand_files(spawn, isolated_env, tmp_path):
    target = f"sqlite:///{tmp_path / 'prompts.db'}"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=isolated_env, check=True)
    (isolated_env / ".gitignore").write_text(".promptgear/\n*.db*\n*.log\n")
    store = FilesystemBackend(str(isolated_env / "prompts"))
    for i in range(250):
        store.create_prompt(f"p{i:03d}", "v1", f"main {i}", "u")
        store.create_prompt(f"p{i:03d}", "v2", f"main {i} v2", "u")
    subprocess.run(git + ["add", "-A"], cwd=isolated_env, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "main"], cwd=isolated_env, check=True)
    subprocess.run(["git", "checkout", "-q", "-b", "other"], cwd=isolated_env, check=True)
    for i in range(250):
        store.update_prompt(f"p{i:03d}", "v1", system_prompt=f"other {i}")
        store.create_prompt(f"p{i:03d}", "v3", f"other {i} v3", "u")
    subprocess.run(git + ["add", "-A"], cwd=isolated_env, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "other"], cwd=isolated_env, check=True)
    spawn(target)
    tree = FilesystemBackend(str(isolated_env / "prompts"))
    subprocess.run(["git", "checkout", "-q", "main"], cwd=isolated_env, check=True)  # ~1,000 files change
    converged(tree, target, timeout=30)
    assert system_of(target, "p100", "v1") == "main 100" and system_of(target, "p100", "v3") is None
    subprocess.run(["git", "checkout", "-q", "other"], cwd=isolated_env, check=True)
    converged(tree, target, timeout=30)
    assert system_of(target, "p100", "v3") == "other 100 v3"


QUEUE_LIMIT = "/proc/sys/fs/inotify/max_queued_events"


def test_inotify_overflow_triggers_a_rescan(spawn, tree, isolated_env, tmp_path):
    """With a tiny kernel queue (set only while the daemon starts), a burst overflows it."""
    try:
        original = open(QUEUE_LIMIT).read()
        open(QUEUE_LIMIT, "w").write("16\n")
    except OSError:
        pytest.skip("cannot lower the inotify queue limit here (needs root)")
    target = f"sqlite:///{tmp_path / 'prompts.db'}"
    try:
        d = spawn(target)
    finally:
        open(QUEUE_LIMIT, "w").write(original)
    for i in range(60):
        tree.create_prompt(f"burst{i}", "v1", f"burst {i}", "u")
    converged(tree, target, timeout=30)
    assert "overflow" in d.output().lower()
