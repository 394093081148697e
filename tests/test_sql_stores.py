"""What is particular to the SQLite and PostgreSQL stores: schema, pooling, failures."""

from __future__ import annotations

import os
import sqlite3
import threading

import psycopg2
import pytest

from promptgear.backends import backend_from_url, mask_url
from promptgear.errors import BackendUnavailableError, ReadOnlyMirrorError
from promptgear.filesystem_backend import FilesystemBackend
from promptgear.migrate import migrate
from promptgear.postgres_backend import PostgresBackend
from promptgear.sql_store import SCHEMA_VERSION
from promptgear.sqlite_backend import BULK_ROWS, INSERT_TRIGGERS, SQLiteBackend

from conftest import make_store_url, many_records

SEED_INDEXES = {"idx_prompts_name", "idx_prompts_name_version", "idx_prompts_created_at", "idx_prompts_sequence",
                "idx_prompts_latest"}


def test_sqlite_schema_wal_and_idempotence(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    SQLiteBackend(url).close()
    store = SQLiteBackend(url, timeout=30, check_same_thread=False)  # second open: no error, no change
    conn = sqlite3.connect(tmp_path / "p.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"prompts", "prompt_metadata", "prompt_labels", "promptgear_state"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert SEED_INDEXES <= indexes
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM promptgear_state WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(prompts)")]
    assert columns[:11] == ["id", "name", "version", "system_prompt", "user_prompt", "config", "sequence_number",
                            "is_latest", "created_at", "updated_at", "description"]
    store.close()


def test_sqlite_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///rel.db", str(tmp_path / "plain.db"), "sqlite:///:memory:"):
        store = SQLiteBackend(url)
        store.create_prompt("p", "v1", "s", "u")
        assert store.get_prompt("p").version == "v1"
        store.close()
    assert (tmp_path / "rel.db").exists() and (tmp_path / "plain.db").exists()
    with pytest.raises(BackendUnavailableError, match="folder .* does not exist"):
        SQLiteBackend(f"sqlite:///{tmp_path}/missing/x.db")


def test_sqlite_threads_share_one_store(tmp_path):
    store = SQLiteBackend(f"sqlite:///{tmp_path / 'p.db'}", check_same_thread=False)
    errors = []

    def work(n):
        try:
            for i in range(20):
                store.create_prompt("t", f"v{n}-{i}", "s", "u")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(t.sequence_number for t in store.history("t")) == list(range(1, 81))


def test_postgres_schema(pg_url):
    PostgresBackend(pg_url).close()
    PostgresBackend(pg_url).close()  # idempotent
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'prompts'")
        indexes = {r[0] for r in cur.fetchall()}
        assert SEED_INDEXES | {"idx_prompts_config", "idx_prompts_search"} <= indexes
        cur.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'prompts' AND column_name = 'config'")
        assert cur.fetchone()[0] == "jsonb"
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgname = 'update_prompts_updated_at'")
        assert cur.fetchone()
        cur.execute("SELECT value FROM promptgear_state WHERE key = 'schema_version'")
        assert cur.fetchone()[0] == str(SCHEMA_VERSION)


def test_postgres_schema_1_is_upgraded_to_statement_level_digest_triggers(pg_url):
    PostgresBackend(pg_url).close()
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:  # the triggers schema 1 had
        cur.execute("UPDATE promptgear_state SET value = '1' WHERE key = 'schema_version'")
        for table in ("prompts", "prompt_labels"):
            for event in ("insert", "update", "delete"):
                cur.execute(f"DROP TRIGGER {table}_clear_digest_{event} ON {table}")
            cur.execute(f"CREATE TRIGGER {table}_clear_digest AFTER INSERT OR UPDATE OR DELETE ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()")
    PostgresBackend(pg_url).close()
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%clear_digest%' ORDER BY tgname")
        assert [r[0] for r in cur.fetchall()] == sorted(
            f"{table}_clear_digest_{event}" for table in ("prompts", "prompt_labels") for event in ("insert", "update", "delete")
        )
        cur.execute("SELECT value FROM promptgear_state WHERE key = 'schema_version'")
        assert cur.fetchone()[0] == str(SCHEMA_VERSION)


def test_postgres_trigger_bumps_updated_at_for_raw_sql_but_not_latest_flips(pg_url):
    store = PostgresBackend(pg_url)
    v1 = store.create_prompt("p", "v1", "s", "u")
    store.create_prompt("p", "v2", "s", "u")
    assert store.get_prompt("p", "v1").updated_at == v1.updated_at  # flipping is_latest moved nothing
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE prompts SET user_prompt = 'raw edit' WHERE name = 'p' AND version = 'v1'")
    assert store.get_prompt("p", "v1").updated_at > v1.updated_at
    store.close()


def test_postgres_config_filter_uses_jsonb_containment(pg_url):
    store = PostgresBackend(pg_url)
    store.create_prompt("a", "v1", "s", "u", {"model": "gpt-4", "tools": [{"name": "search", "enabled": True}]})
    store.create_prompt("b", "v1", "s", "u", {"model": "gpt-3"})
    found = store.list_prompts(config_filter={"tools": [{"name": "search"}]})
    assert [t.name for t in found] == ["a"]
    store.close()


def test_postgres_pool_is_bounded_and_lazy(pg_url):
    store = PostgresBackend(pg_url, pool_size=2, max_connections=3)
    store.create_prompt("p", "v1", "s", "u")
    pool = store._get_pool()
    assert pool.maxconn == 3 and pool.minconn == 2
    results = []

    def read():
        for _ in range(30):
            results.append(store.get_prompt("p").version)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["v1"] * 90
    assert len(pool._pool) <= 2  # idle connections kept
    store.close()


def test_postgres_recovers_from_killed_connections(pg_url):
    store = PostgresBackend(pg_url, pool_size=2)
    store.create_prompt("p", "v1", "s", "u")
    with psycopg2.connect(pg_url) as admin, admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    assert store.get_prompt("p").version == "v1"  # the dead pooled connection is replaced
    store.create_prompt("p", "v2", "s", "u")
    assert store.get_prompt("p").version == "v2"
    store.close()


def test_postgres_down_is_one_clear_error_without_the_password():
    url = "postgresql://alice:s3cret-pw@127.0.0.1:1/prompts"
    with pytest.raises(BackendUnavailableError) as info:
        PostgresBackend(url, timeout=2, retry_attempts=2)
    message = str(info.value)
    assert "cannot reach PostgreSQL at postgresql://alice:***@127.0.0.1:1/prompts after 2 attempt(s)" in message
    assert "s3cret-pw" not in message


def test_passwords_are_masked_everywhere(pg_url):
    assert mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    store = PostgresBackend(pg_url.replace("postgres@", "postgres:hunter2@"))
    assert "hunter2" not in repr(store) and "hunter2" not in store.describe()
    assert "hunter2" not in str(store.health_check())
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_mirror_refuses_writes(backend, tmp_path, request):
    store = backend_from_url(make_store_url(backend, tmp_path, request))
    store.create_prompt("p", "v1", "s", "u")
    with store._connect(write=True) as cur:
        cur.execute(store._q("INSERT INTO promptgear_state (key, value) VALUES (?, ?)"), ("mirror_of", "/repo/prompts"))
    with pytest.raises(ReadOnlyMirrorError, match="mirrors the prompt files in /repo/prompts .* edit the files instead"):
        store.create_prompt("p", "v2", "s", "u")
    with pytest.raises(ReadOnlyMirrorError):
        store.delete_prompt("p", "v1")
    assert store.get_prompt("p").version == "v1"  # reads still work
    store.close()


def _tree_bytes(root):
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".promptgear"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            files[rel] = ("link", os.readlink(path)) if os.path.islink(path) else open(path, "rb").read()
    return files


def test_files_to_sqlite_to_postgres_to_files_is_identical(tmp_path, pg_url):
    source = FilesystemBackend(str(tmp_path / "a"))
    source.create_prompt("chatbot", "v1", "Line one\nLine two", "Hi {{name}}", {"model": "gpt-4", "t": 0.5, "nested": {"z": 1, "a": [1, 2]}})
    source.create_prompt("chatbot", "v2", "s2", "u2", description="second", tags=["x"])
    source.create_prompt("chatbot", "v3", "s3", "u3")
    source.delete_prompt("chatbot", "v2")
    source.promote_prompt("chatbot", "v1")
    source.set_label("chatbot", "v3", "staging")
    for i in range(5):
        source.create_prompt(f"p{i}", "v1", f"system {i}", "user")
    sqlite = SQLiteBackend(f"sqlite:///{tmp_path / 'm.db'}")
    postgres = PostgresBackend(pg_url)
    back = FilesystemBackend(str(tmp_path / "b"))
    seen = []
    assert migrate(source, sqlite, progress=lambda done, total: seen.append((done, total))) == 7
    assert seen[-1] == (6, 6)
    assert migrate(sqlite, postgres) == 7
    assert migrate(postgres, back) == 7
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    assert back.create_prompt("chatbot", "v4", "s", "u").sequence_number == 4
    sqlite.close()
    postgres.close()


def _triggers(path):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    finally:
        conn.close()


def test_sqlite_bulk_import_loads_search_once_and_keeps_its_triggers(tmp_path):
    path = str(tmp_path / "bulk.db")
    store = SQLiteBackend(f"sqlite:///{path}")
    store.create_prompt("early", "v1", "needle0x early", "u")  # a row from before: indexed once, not twice
    triggers = _triggers(path)
    assert set(INSERT_TRIGGERS) <= triggers
    records = many_records(BULK_ROWS // 3 + 1)
    assert store.import_prompts(records) >= BULK_ROWS
    assert _triggers(path) == triggers
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO prompts_fts(prompts_fts, rank) VALUES ('integrity-check', 1)")  # raises unless each row is indexed once
    conn.close()
    assert [t.name for t in store.search_prompts("needle17x")] == ["bulk0017"] * 3
    assert {t.name for t in store.search_prompts("needle0x")} == {"early", "bulk0000"}
    store.create_prompt("late", "v1", "latecomer arrives", "u")  # the insert trigger is back
    assert [t.name for t in store.search_prompts("latecomer")] == ["late"]

    # A bulk insert that fails half-way rolls back whole, its trigger changes included.
    clash = many_records(BULK_ROWS // 3 + 1, word="other")
    clash[-1].ledger.versions["v2"].sequence_number = 1  # UNIQUE(name, sequence_number) fails on the last rows
    with pytest.raises(sqlite3.IntegrityError), store._connect(write=True) as cur:
        store._import(cur, clash, overwrite=True)
    assert _triggers(path) == triggers
    assert store.search_prompts("other5x") == [] and len(store.search_prompts("needle5x")) == 3
    store.close()
