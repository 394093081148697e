"""The PostgreSQL store: the seed's schema (JSONB, GIN, full-text, trigger), a pooled client."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from .backends import mask_url
from .errors import BackendUnavailableError
from .sql_store import SCHEMA_VERSION, SQLStore

# Statement-level: one UPDATE per statement, however many rows it touched.
DIGEST_TRIGGERS = "".join(
    f"""DROP TRIGGER IF EXISTS {table}_clear_digest_{event} ON {table};
CREATE TRIGGER {table}_clear_digest_{event} AFTER {event.upper()} ON {table}
    REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION promptgear_clear_digest();
"""
    for table in ("prompts", "prompt_labels")
    for event, transition in (
        ("insert", "NEW TABLE AS new_rows"),
        ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "OLD TABLE AS old_rows"),
    )
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    version VARCHAR(100) NOT NULL,
    system_prompt TEXT NOT NULL,
    user_prompt TEXT NOT NULL,
    config JSONB NOT NULL DEFAULT '{}',
    sequence_number INTEGER NOT NULL DEFAULT 1,
    is_latest BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    description TEXT,
    tags JSONB NOT NULL DEFAULT '[]',
    content_hash TEXT,
    source_commit TEXT,
    UNIQUE(name, version),
    UNIQUE(name, sequence_number)
);
CREATE TABLE IF NOT EXISTS prompt_metadata (
    name VARCHAR(255) PRIMARY KEY,
    next_sequence INTEGER DEFAULT 1,
    digest TEXT
);
CREATE TABLE IF NOT EXISTS prompt_labels (
    name VARCHAR(255) NOT NULL,
    label VARCHAR(128) NOT NULL,
    version VARCHAR(100) NOT NULL,
    PRIMARY KEY (name, label)
);
CREATE TABLE IF NOT EXISTS promptgear_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- sync's per-prompt digest is only trusted while no row of the prompt changed since it was set.
CREATE OR REPLACE FUNCTION promptgear_clear_digest() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE prompt_metadata SET digest = NULL
        WHERE digest IS NOT NULL AND name IN (SELECT name FROM old_rows);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE prompt_metadata SET digest = NULL
        WHERE digest IS NOT NULL AND name IN (SELECT name FROM new_rows);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS prompts_clear_digest ON prompts;
DROP TRIGGER IF EXISTS prompt_labels_clear_digest ON prompt_labels;  -- schema 1: row-level
""" + DIGEST_TRIGGERS + """CREATE INDEX IF NOT EXISTS idx_prompts_name ON prompts(name);
CREATE INDEX IF NOT EXISTS idx_prompts_name_version ON prompts(name, version);
CREATE INDEX IF NOT EXISTS idx_prompts_created_at ON prompts(created_at);
CREATE INDEX IF NOT EXISTS idx_prompts_sequence ON prompts(name, sequence_number);
CREATE INDEX IF NOT EXISTS idx_prompts_latest ON prompts(name, is_latest);
CREATE INDEX IF NOT EXISTS idx_prompts_config ON prompts USING GIN(config);
CREATE INDEX IF NOT EXISTS idx_prompts_search ON prompts USING GIN(
    to_tsvector('english', name || ' ' || system_prompt || ' ' || user_prompt)
);
-- The queries match word prefixes without stemming, as the other stores do.
CREATE INDEX IF NOT EXISTS idx_prompts_search_simple ON prompts USING GIN(
    to_tsvector('simple', name || ' ' || system_prompt || ' ' || user_prompt)
);
-- The seed's trigger, refined: a content change that does not set updated_at gets the
-- current time; an explicit updated_at (promptgear's own writes, migrations) is kept, and
-- flipping is_latest does not move the timestamps of other versions.
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at
       AND (NEW.system_prompt, NEW.user_prompt, NEW.config)
           IS DISTINCT FROM (OLD.system_prompt, OLD.user_prompt, OLD.config) THEN
        NEW.updated_at = CURRENT_TIMESTAMP;
    END IF;
    RETURN NEW;
END;
$$ language 'plpgsql';
DROP TRIGGER IF EXISTS update_prompts_updated_at ON prompts;
CREATE TRIGGER update_prompts_updated_at
    BEFORE UPDATE ON prompts
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();
"""

class _Connection(psycopg2.extensions.connection):
    """A connection that remembers which statements it has prepared on the server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


# Errors after which the connection is gone and the operation may be retried on a new one.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class PostgresBackend(SQLStore):
    """``PostgresBackend(connection_string, pool_size=5, max_connections=20, timeout=30, retry_attempts=3)``.

    Connections come from a ``ThreadedConnectionPool`` that keeps up to ``pool_size`` idle
    and opens at most ``max_connections``. A lost connection is replaced and the operation
    retried; an unreachable server is one :class:`BackendUnavailableError` after
    ``retry_attempts`` tries, never a hang. The password never appears in a message.
    """

    backend_name = "postgres"
    labels_sql = "(SELECT string_agg(label, ',') FROM prompt_labels l WHERE l.name = p.name AND l.version = p.version)"

    def __init__(
        self,
        connection_string: str,
        pool_size: int = 5,
        max_connections: int = 20,
        timeout: float = 30,
        retry_attempts: int = 3,
    ) -> None:
        self._dsn = connection_string
        self.connection_string = mask_url(connection_string)
        self.pool_size = pool_size
        self.max_connections = max(max_connections, pool_size)
        self.timeout = timeout
        self.retry_attempts = max(1, retry_attempts)
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._create_schema()

    def __repr__(self) -> str:
        return f"PostgresBackend({self.connection_string!r})"

    def describe(self) -> str:
        return self.connection_string

    # -- connections ------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with contextlib.suppress(Exception):
            password = psycopg2.extensions.parse_dsn(self._dsn).get("password")
            if password:
                reason = reason.replace(password, "***")
        return BackendUnavailableError(
            f"cannot reach PostgreSQL at {self.connection_string} after {self.retry_attempts} attempt(s): {reason}"
        )

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                pool = psycopg2.pool.ThreadedConnectionPool(
                    1, self.max_connections, self._dsn, connect_timeout=max(1, int(self.timeout)),
                    connection_factory=_Connection,
                )
                # Open one connection now and keep up to pool_size idle ones later:
                # psycopg2 keeps exactly ``minconn`` idle and would open them all at once.
                pool.minconn = self.pool_size
                self._pool = pool
            return self._pool

    def _checkout(self, attempt: int) -> Any:
        """A pooled connection, or None after a connection error (slept with backoff).

        Pooled connections stay in autocommit: a one-statement read then costs one round
        trip, and a transaction starts with an explicit BEGIN.
        """
        try:
            conn = self._get_pool().getconn()
            if not conn.autocommit:
                conn.autocommit = True
            return conn
        except CONNECTION_ERRORS:
            if attempt + 1 == self.retry_attempts:
                raise
            time.sleep(min(0.2 * 2**attempt, 2.0))
            return None
        except psycopg2.pool.PoolError as exc:
            raise BackendUnavailableError(
                f"no free PostgreSQL connection (max_connections={self.max_connections}): {exc}"
            ) from None

    def _release(self, conn: Any, broken: bool = False) -> None:
        with contextlib.suppress(Exception):
            self._get_pool().putconn(conn, close=broken or bool(conn.closed))

    def _connect(self, write: bool = False) -> contextlib.AbstractContextManager[Any]:
        return _Transaction(self)

    def _fetch(self, sql: str, params: tuple[Any, ...] = (), one: bool = False, key: str | None = None) -> Any:
        """One read statement, retried on a fresh connection if the pooled one was dead.

        A ``key``ed statement is prepared once per connection: planning it every time
        costs more than running it.
        """
        def read(conn: Any) -> Any:
            with conn.cursor() as cur:
                if key is None:
                    cur.execute(sql, params)
                else:
                    if key not in conn.prepared:
                        numbered = sql
                        for n in range(1, len(params) + 1):
                            numbered = numbered.replace("%s", f"${n}", 1)
                        cur.execute(f"PREPARE pg_{key} AS {numbered}")
                        conn.prepared.add(key)
                    cur.execute(f"EXECUTE pg_{key} ({', '.join(['%s'] * len(params))})", params)
                return cur.fetchone() if one else cur.fetchall()

        conn, result = self._on_connection(read)
        self._release(conn)
        return result

    def _on_connection(self, first: Any) -> tuple[Any, Any]:
        """A pooled connection and what ``first(conn)`` returned. A dead connection (found
        by ``first``, which must be safe to repeat) is replaced and ``first`` run again."""
        last: BaseException = ConnectionError("no connection")
        for attempt in range(self.retry_attempts):
            try:
                conn = self._checkout(attempt)
            except CONNECTION_ERRORS as exc:
                raise self._unavailable(exc) from None
            if conn is None:
                continue
            try:
                return conn, first(conn)
            except CONNECTION_ERRORS as exc:
                last = exc
                self._release(conn, broken=True)
            except BaseException:
                self._release(conn)
                raise
        raise self._unavailable(last)

    def _changed(self, cur: Any, names: list[str]) -> None:
        from .sync.target import notify

        notify(cur, names)

    def _lock_name(self, cur: Any, name: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("promptgear:" + name,))

    def _create_schema(self) -> None:
        with self._connect(write=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('promptgear:schema'))")
            cur.execute("SELECT to_regclass('promptgear_state')")
            if cur.fetchone()[0] is not None:
                cur.execute("SELECT value FROM promptgear_state WHERE key = 'schema_version'")
                row = cur.fetchone()
                if row and int(row[0]) >= SCHEMA_VERSION:
                    return
            cur.execute(SCHEMA)
            cur.execute(
                "INSERT INTO promptgear_state (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    def initialize(self) -> None:
        self._create_schema()

    # -- dialect --------------------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _dump_config(self, config: dict[str, Any]) -> Any:
        return psycopg2.extras.Json(config)

    def _stamp(self, value: Any) -> Any:
        return value

    def _config_filter_sql(self, config_filter: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        return "config @> ?::jsonb", (json.dumps(config_filter),)

    def _search_sql(self, terms: list[str]) -> tuple[str, tuple[Any, ...]]:
        query = " & ".join(f"{term}:*" for term in terms)
        return (
            "to_tsvector('simple', name || ' ' || system_prompt || ' ' || user_prompt) @@ to_tsquery('simple', ?)",
            (query,),
        )

    def _insert_many(self, cur: Any, rows: list[tuple[Any, ...]], metas: list[tuple[Any, ...]], labels: list[tuple[Any, ...]]) -> None:
        execute_values = psycopg2.extras.execute_values
        execute_values(
            cur,
            "INSERT INTO prompts (name, version, system_prompt, user_prompt, config, description, tags, "
            "sequence_number, is_latest, created_at, updated_at, content_hash, source_commit) VALUES %s",
            rows,
            page_size=1000,
        )
        if labels:
            execute_values(cur, "INSERT INTO prompt_labels (name, label, version) VALUES %s", labels, page_size=1000)
        # Last, digests included: the digest-clearing triggers on the rows above found nothing to clear.
        execute_values(cur, "INSERT INTO prompt_metadata (name, next_sequence, digest) VALUES %s", metas, page_size=1000)

    def get_statistics(self) -> dict[str, Any]:
        stats = super().get_statistics()
        stats.update(pool_size=self.pool_size, max_connections=self.max_connections)
        return stats

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None and not self._pool.closed:
                self._pool.closeall()
            self._pool = None


class _Transaction:
    """One transaction on a pooled connection, committed on success.

    Getting a working connection is retried (a dead pooled connection is found by the
    ``BEGIN`` and replaced); a connection lost in the middle of the work cannot be
    retried safely and becomes one BackendUnavailableError.
    """

    def __init__(self, store: PostgresBackend) -> None:
        self.store = store
        self.conn: Any = None
        self.cur: Any = None

    def __enter__(self) -> Any:
        def begin(conn: Any) -> Any:
            cur = conn.cursor()
            cur.execute("BEGIN")  # also finds a dead pooled connection before any work
            return cur

        self.conn, self.cur = self.store._on_connection(begin)
        return self.cur

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        broken = False
        try:
            self.cur.execute("COMMIT" if exc_type is None else "ROLLBACK")
            self.cur.close()
        except CONNECTION_ERRORS as error:
            broken = True
            if exc_type is None:
                raise self.store._unavailable(error) from None
        finally:
            self.store._release(self.conn, broken=broken)
        if exc_type is not None and issubclass(exc_type, CONNECTION_ERRORS):
            raise self.store._unavailable(exc) from None
