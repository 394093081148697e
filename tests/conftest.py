"""Shared fixtures: an isolated environment per test, real PostgreSQL, a store per backend."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("PROMPT_GEAR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["filesystem", "sqlite", "postgres"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test touches the home folder, the real environment or the repository's files."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for key in list(os.environ):
        if key.startswith("PROMPT_GEAR_") and key != "PROMPT_GEAR_TEST_PG":
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    import promptgear.config

    monkeypatch.setattr(promptgear.config, "_config", None)
    yield work


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A fresh database for this test session, dropped afterwards. Yields its URL."""
    name = f"promptgear_test_{secrets.token_hex(4)}"
    conn = _admin_connect()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The session database, emptied of promptgear's tables before each test."""
    conn = _admin_connect()
    conn.close()
    import psycopg2

    with psycopg2.connect(pg_server) as db, db.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS prompt_labels, prompts, prompt_metadata, promptgear_state CASCADE")
    yield pg_server


def make_store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "filesystem":
        return str(tmp_path / "prompts")
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'prompts.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_store_url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    from promptgear.backends import backend_from_url

    backend = backend_from_url(store_url)
    yield backend
    backend.close()


@pytest.fixture
def fs_store(tmp_path: Path) -> Iterator[object]:
    from promptgear.filesystem_backend import FilesystemBackend

    backend = FilesystemBackend(str(tmp_path / "prompts"))
    yield backend


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m promptgear ARGS`` as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "promptgear", *args],
        cwd=cwd, env=full_env, input=input, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL to sync into, for each database backend."""
    return make_store_url(request.param, tmp_path, request)


@pytest.fixture
def tree(isolated_env: Path) -> object:
    """A small prompt tree: a (v1, v2), b (v1)."""
    from promptgear.filesystem_backend import FilesystemBackend

    store = FilesystemBackend(str(isolated_env / "prompts"))
    store.create_prompt("a", "v1", "System a1\nline two", "User {{x}}", {"model": "gpt-4"})
    store.create_prompt("a", "v2", "System a2", "User")
    store.create_prompt("b", "v1", "System b1", "User")
    return store


def many_records(count: int, versions: int = 3, word: str = "needle") -> list:
    """``count`` prompts of ``versions`` versions; system prompts hold the word ``{word}{i}x``."""
    from promptgear.ledger import Ledger
    from promptgear.store import PromptRecord, new_content

    records = []
    for i in range(count):
        ledger = Ledger(f"bulk{i:04d}")
        contents = {}
        for v in range(1, versions + 1):
            ledger.add(f"v{v}")
            contents[f"v{v}"] = new_content(ledger.name, f"v{v}", f"System {word}{i}x {v}", "User {{q}}", {"t": v})
        records.append(PromptRecord(ledger, contents))
    return records
