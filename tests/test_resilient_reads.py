"""Reads that survive a blinking database: cache, stale-while-revalidate, fallback, LISTEN."""

from __future__ import annotations

import logging
import threading
import time

import psycopg2
import pytest

from promptgear import PromptManager
from promptgear.backends import backend_from_url
from promptgear.config import load_config
from promptgear.errors import BackendUnavailableError
from promptgear.filesystem_backend import FilesystemBackend
from promptgear.sync import Syncer
from sync_helpers import Proxy, wait_until


def manager(url, **kwargs):
    backend = "postgres" if url.startswith("postgres") else "sqlite"
    return PromptManager(config=load_config(backend=backend, db_url=url), **kwargs)


def test_cache_serves_repeated_reads_and_sees_own_writes(target):
    with manager(target, cache_ttl=60) as pm:
        pm.create_prompt("p", "v1", "s1", "u")
        assert pm.get_prompt("p").system_prompt == "s1"
        pm.create_prompt("p", "v2", "s2", "u")
        assert pm.get_prompt("p").version == "v2"  # a write through the manager drops its cached reads
        first = pm.get_prompt("p")
        first.config["x"] = 1
        assert pm.get_prompt("p").config == {}  # callers get copies


def test_other_writers_are_seen_within_the_ttl(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    writer = backend_from_url(url)
    writer.create_prompt("p", "v1", "old", "u")
    with manager(url, cache_ttl=0.3) as pm:
        assert pm.get_prompt("p").system_prompt == "old"
        writer.update_prompt("p", "v1", system_prompt="new")
        assert pm.get_prompt("p").system_prompt == "old"  # cached
        took = wait_until(lambda: pm.get_prompt("p").system_prompt == "new", timeout=5)
        assert 0.2 <= took <= 2.0
    with manager(url, cache_ttl=0) as pm:  # 0 disables the cache
        writer.update_prompt("p", "v1", system_prompt="newer")
        assert pm.get_prompt("p").system_prompt == "newer"


def test_listen_sees_a_sync_commit_at_once(tree, pg_url):
    syncer = Syncer(tree.prompt_dir, pg_url)
    syncer.run()
    with manager(pg_url, cache_ttl=3600) as pm:
        assert pm.get_prompt("a").version == "v2"
        time.sleep(0.5)  # the listener is connected
        tree.create_prompt("a", "v3", "third", "u")
        start = time.monotonic()
        syncer.run(["a"])
        took = wait_until(lambda: pm.get_prompt("a").version == "v3", timeout=5, interval=0.001)
        assert took < 0.5, took
    syncer.close()


def test_killed_connections_and_a_stopped_server_never_raise_while_cached(tree, pg_url, caplog):
    proxy = Proxy()
    proxy.start()
    url = proxy.url(pg_url)
    store = backend_from_url(pg_url)
    store.create_prompt("p", "v1", "s", "u")
    errors, reads = [], [0]
    stop = threading.Event()
    with manager(url, cache_ttl=0.05) as pm:
        pm.get_prompt("p")

        def reader():
            while not stop.is_set():
                try:
                    assert pm.get_prompt("p").version == "v1"
                    reads[0] += 1
                except Exception as exc:  # pragma: no cover - the assertion below reports it
                    errors.append(exc)
                time.sleep(0.002)

        thread = threading.Thread(target=reader)
        with caplog.at_level(logging.WARNING, logger="promptgear.cache"):
            thread.start()
            time.sleep(0.3)
            with psycopg2.connect(pg_url) as admin, admin.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()")
            time.sleep(0.3)
            proxy.cut()  # the server becomes unreachable
            time.sleep(1.5)
            proxy.start()
            time.sleep(0.5)
            stop.set()
            thread.join()
    store.close()
    assert errors == [] and reads[0] > 100
    outage = [r for r in caplog.records if "last good copies" in r.getMessage()]
    assert len(outage) == 1  # one warning for the outage, not one per read


def test_fallback_dir_when_the_database_was_never_reachable(isolated_env, caplog):
    files = FilesystemBackend(str(isolated_env / "prompts"))
    files.create_prompt("p", "v1", "from the files", "u")
    url = "postgresql://postgres:secret@127.0.0.1:1/nothing"
    with pytest.raises(BackendUnavailableError):
        manager(url)
    with caplog.at_level(logging.WARNING, logger="promptgear.cache"):
        with manager(url, fallback_dir="prompts") as pm:
            assert pm.get_prompt("p").system_prompt == "from the files"
            assert pm.get_prompt("p", "v1").version == "v1"
    assert any("reading the prompt files instead" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() for r in caplog.records)
