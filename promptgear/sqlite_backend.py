"""The SQLite store: the seed's schema, WAL mode, FTS5 search, one connection per store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from .backends import sqlite_path
from .errors import BackendUnavailableError
from .sql_store import SCHEMA_VERSION, SQLStore

# sync's per-prompt digest is only trusted while no row of the prompt changed since it was set.
_CLEARED = {"insert": "name = new.name", "update": "name IN (old.name, new.name)", "delete": "name = old.name"}
DIGEST_TRIGGERS = {
    f"{table}_digest_{event}": f"""CREATE TRIGGER IF NOT EXISTS {table}_digest_{event} AFTER {event.upper()} ON {table} BEGIN
    UPDATE prompt_metadata SET digest = NULL WHERE {cleared} AND digest IS NOT NULL;
END;"""
    for table in ("prompts", "prompt_labels")
    for event, cleared in _CLEARED.items()
}
FTS_INSERT_TRIGGER = """CREATE TRIGGER IF NOT EXISTS prompts_fts_insert AFTER INSERT ON prompts BEGIN
    INSERT INTO prompts_fts(rowid, name, system_prompt, user_prompt)
    VALUES (new.id, new.name, new.system_prompt, new.user_prompt);
END;"""
# The per-row insert triggers. A bulk insert suspends them (see SQLiteBackend._insert_many).
INSERT_TRIGGERS = {
    **{name: sql for name, sql in DIGEST_TRIGGERS.items() if name.endswith("_insert")},
    "prompts_fts_insert": FTS_INSERT_TRIGGER,
}
BULK_ROWS = 1000  # from this many rows, an insert loads the search index once instead of row by row

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    user_prompt TEXT NOT NULL,
    config TEXT NOT NULL,
    sequence_number INTEGER NOT NULL DEFAULT 1,
    is_latest BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT,
    source_commit TEXT,
    UNIQUE(name, version),
    UNIQUE(name, sequence_number)
);
CREATE TABLE IF NOT EXISTS prompt_metadata (
    name TEXT PRIMARY KEY,
    next_sequence INTEGER DEFAULT 1,
    digest TEXT
);
CREATE TABLE IF NOT EXISTS prompt_labels (
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (name, label)
);
CREATE TABLE IF NOT EXISTS promptgear_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""" + "\n".join(DIGEST_TRIGGERS.values()) + """
CREATE INDEX IF NOT EXISTS idx_prompts_name ON prompts(name);
CREATE INDEX IF NOT EXISTS idx_prompts_name_version ON prompts(name, version);
CREATE INDEX IF NOT EXISTS idx_prompts_created_at ON prompts(created_at);
CREATE INDEX IF NOT EXISTS idx_prompts_sequence ON prompts(name, sequence_number);
CREATE INDEX IF NOT EXISTS idx_prompts_latest ON prompts(name, is_latest);
CREATE VIRTUAL TABLE IF NOT EXISTS prompts_fts USING fts5(
    name, system_prompt, user_prompt,
    content='prompts', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS prompts_fts_delete AFTER DELETE ON prompts BEGIN
    INSERT INTO prompts_fts(prompts_fts, rowid, name, system_prompt, user_prompt)
    VALUES ('delete', old.id, old.name, old.system_prompt, old.user_prompt);
END;
CREATE TRIGGER IF NOT EXISTS prompts_fts_update AFTER UPDATE OF name, system_prompt, user_prompt ON prompts BEGIN
    INSERT INTO prompts_fts(prompts_fts, rowid, name, system_prompt, user_prompt)
    VALUES ('delete', old.id, old.name, old.system_prompt, old.user_prompt);
    INSERT INTO prompts_fts(rowid, name, system_prompt, user_prompt)
    VALUES (new.id, new.name, new.system_prompt, new.user_prompt);
END;
""" + FTS_INSERT_TRIGGER


class SQLiteBackend(SQLStore):
    """``SQLiteBackend("sqlite:///prompts.db", timeout=30, check_same_thread=False)``.

    Also takes a plain file path or ``sqlite:///:memory:``. Concurrent writers (threads or
    processes) wait for each other up to ``timeout`` seconds instead of failing.
    """

    backend_name = "sqlite"
    labels_sql = "(SELECT group_concat(label) FROM prompt_labels l WHERE l.name = p.name AND l.version = p.version)"

    def __init__(self, db_url: str = "sqlite:///prompts.db", timeout: float = 30, check_same_thread: bool = False) -> None:
        self.db_url = db_url
        self.path = sqlite_path(db_url)
        self.timeout = timeout
        memory = self.path in (":memory:", "")
        if not memory:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise BackendUnavailableError(f"cannot open SQLite database {self.path}: folder {folder} does not exist")
        try:
            self._conn = sqlite3.connect(
                ":memory:" if memory else self.path,
                timeout=timeout,
                isolation_level=None,  # explicit BEGIN/COMMIT below
                check_same_thread=check_same_thread,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from None
        self._mutex = threading.RLock()
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not memory:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL mode
        self._create_schema()

    def describe(self) -> str:
        return self.path

    def _create_schema(self) -> None:
        with self._mutex:
            row = None
            with contextlib.suppress(sqlite3.OperationalError):
                row = self._conn.execute("SELECT value FROM promptgear_state WHERE key = 'schema_version'").fetchone()
            if row and int(row[0]) >= SCHEMA_VERSION:
                return
            # executescript commits a pending transaction first, so the whole change is one
            # script: concurrent first uses create the schema once, atomically.
            script = (
                "BEGIN IMMEDIATE;" + SCHEMA
                + "INSERT INTO promptgear_state (key, value) VALUES ('schema_version', '%d') "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value; COMMIT;" % SCHEMA_VERSION
            )
            try:
                self._conn.executescript(script)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise BackendUnavailableError(f"cannot create the schema in {self.path}: {exc}") from None

    def initialize(self) -> None:
        self._create_schema()

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[Any]:
        with self._mutex:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.OperationalError as exc:
                raise BackendUnavailableError(f"SQLite database {self.path} is unavailable: {exc}") from None
            try:
                yield cur
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                cur.close()

    def _fetch(self, sql: str, params: tuple[Any, ...] = (), one: bool = False, key: str | None = None) -> Any:
        """One statement is atomic on its own: no BEGIN/COMMIT around single reads.

        (sqlite3 caches prepared statements by itself, so ``key`` is not needed.)
        """
        with self._mutex:
            try:
                cur = self._conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                raise BackendUnavailableError(f"SQLite database {self.path} is unavailable: {exc}") from None
            return cur.fetchone() if one else cur.fetchall()

    def _lock_name(self, cur: Any, name: str) -> None:
        """BEGIN IMMEDIATE already holds the database's write lock."""

    def _insert_many(self, cur: Any, rows: list[tuple[Any, ...]], metas: list[tuple[Any, ...]], labels: list[tuple[Any, ...]]) -> None:
        """Large batches (an initial sync, a migration) load the search index in one statement,
        an order of magnitude faster than FTS5 row by row through the trigger.

        The insert triggers are dropped and re-created inside the transaction (SQLite's DDL
        is transactional, so a rollback brings them back); the digest-clearing ones have
        nothing to clear here, since :meth:`SQLStore._import` writes ``prompt_metadata`` last.
        """
        if len(rows) < BULK_ROWS:
            super()._insert_many(cur, rows, metas, labels)
            return
        first_new = cur.execute("SELECT COALESCE(MAX(id), 0) FROM prompts").fetchone()[0]  # AUTOINCREMENT: new ids are above
        for trigger in INSERT_TRIGGERS:
            cur.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        super()._insert_many(cur, rows, metas, labels)
        cur.execute(
            "INSERT INTO prompts_fts(rowid, name, system_prompt, user_prompt) "
            "SELECT id, name, system_prompt, user_prompt FROM prompts WHERE id > ?", (first_new,)
        )
        for sql in INSERT_TRIGGERS.values():
            cur.execute(sql)

    def _config_filter_sql(self, config_filter: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        clauses, params = [], []
        for key, value in config_filter.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                clauses.append("json_extract(config, ?) = ?")
                params += ['$."' + key.replace('"', '""') + '"', value]
            else:
                clauses.append("json_type(config, ?) IS NOT NULL")
                params.append('$."' + key.replace('"', '""') + '"')
        return " AND ".join(clauses) or "TRUE", tuple(params)

    def _search_sql(self, terms: list[str]) -> tuple[str, tuple[Any, ...]]:
        query = " AND ".join(f'"{term}"*' for term in terms)
        return "id IN (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?)", (query,)

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
