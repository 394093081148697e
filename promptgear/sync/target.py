"""The database side of the mirror: what it holds, applying a batch, its state and its lock."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..backends import backend_from_url, mask_url, sqlite_path, url_kind
from ..errors import ValidationError
from ..sql_store import COLUMNS, SQLStore, name_chunks
from ..store import PromptRecord, content_hash

# Row identity and bookkeeping, compared with the tree: (hash, sequence, latest, created, updated).
RowState = tuple[str | None, int, bool, datetime | None, datetime | None]


@dataclass
class MirrorState:
    rows: dict[str, dict[str, RowState]]
    labels: dict[str, dict[str, str]]
    next_sequence: dict[str, int]
    digests: dict[str, str | None] = field(default_factory=dict)


class Target:
    """A SQLite or PostgreSQL database that ``sync`` keeps equal to a prompt folder."""

    def __init__(self, url: str) -> None:
        if url_kind(url) == "filesystem":
            raise ValidationError(f"sync writes to a database: use sqlite:///FILE or postgresql://..., not {url}")
        self.url = url
        self.shown = mask_url(url)
        store = backend_from_url(url)
        assert isinstance(store, SQLStore)
        self.store = store
        self.is_postgres = store.backend_name == "postgres"

    def close(self) -> None:
        self.store.close()

    # -- reading ---------------------------------------------------------------------------
    def read(self, names: list[str] | None = None) -> MirrorState:
        store = self.store
        if names is None:
            scopes: list[tuple[str, tuple[str, ...]]] = [("", ())]
        else:
            scopes = [(f" WHERE name IN ({marks})", tuple(chunk)) for chunk, marks in name_chunks(names)]
        state = MirrorState({}, {}, {})
        for where, params in scopes:
            # The hash of what each row holds, not its content_hash column: a row edited
            # behind sync's back is then seen as different, and repaired.
            for row in store._fetch(store._q(f"SELECT {COLUMNS}, '' FROM prompts p" + where), params):
                template = store._row_template(row)
                state.rows.setdefault(template.name, {})[template.version] = (
                    content_hash(template.content()), template.sequence_number or 0, template.is_latest,
                    template.created_at, template.updated_at,
                )
            for name, label, version in store._fetch(store._q("SELECT name, label, version FROM prompt_labels" + where), params):
                state.labels.setdefault(name, {})[label] = version
            state.next_sequence.update(store._fetch(store._q("SELECT name, next_sequence FROM prompt_metadata" + where), params))
        return state

    def digests(self, names: list[str] | None = None) -> dict[str, str | None]:
        """The prompts' digests as sync last wrote them (None where rows changed since)."""
        if names is None:
            return dict(self.store._fetch("SELECT name, digest FROM prompt_metadata"))
        found: dict[str, str | None] = {}
        for chunk, marks in name_chunks(names):
            found.update(self.store._fetch(self.store._q(f"SELECT name, digest FROM prompt_metadata WHERE name IN ({marks})"),
                                           tuple(chunk)))
        return found

    def get_state(self) -> dict[str, str]:
        return dict(self.store._fetch("SELECT key, value FROM promptgear_state"))

    def check_ownership(self, source: str, force: bool) -> None:
        """Refuse to turn a database holding other data into a mirror, unless forced."""
        state = self.get_state()
        owner = state.get("mirror_of")
        if owner == source or force:
            return
        if owner is not None:
            raise ValidationError(f"{self.shown} mirrors {owner}, not {source}; use --force to mirror {source} instead")
        if self.store.list_names():
            raise ValidationError(
                f"{self.shown} holds prompts that are not a mirror of {source}; "
                "use --force to make it one (its prompts will be replaced by the files)"
            )

    # -- writing -----------------------------------------------------------------------------
    def apply(self, source: str, records: list[PromptRecord], deleted: list[str], source_commit: str | None,
              changed: list[str], digests: dict[str, str] | None = None,
              hashes: dict[str, dict[str, str]] | None = None) -> None:
        """Replace the rows of ``records``' prompts, delete ``deleted`` prompts, in one transaction."""
        store = self.store
        now = datetime.now(timezone.utc).isoformat()
        with store._connect(write=True) as cur:
            if deleted:
                store._delete_names(cur, deleted)
            if records:
                store._import(cur, records, overwrite=True, source_commit=source_commit, digests=digests, hashes=hashes)
            self._set(cur, {"mirror_of": source, "last_sync_at": now, "last_error": "",
                            "last_sync_commit": source_commit or ""})
            if self.is_postgres and changed:
                notify(cur, changed)

    def set_digests(self, digests: dict[str, str]) -> None:
        """Record the digests of prompts whose rows already equal the tree."""
        with self.store._connect(write=True) as cur:
            cur.executemany(self.store._q("UPDATE prompt_metadata SET digest = ? WHERE name = ?"),
                            [(digest, name) for name, digest in digests.items()])

    def record_error(self, message: str) -> None:
        with contextlib.suppress(Exception), self.store._connect(write=True) as cur:
            self._set(cur, {"last_error": message, "last_error_at": datetime.now(timezone.utc).isoformat()})

    def mark_synced(self, source: str, source_commit: str | None) -> None:
        with self.store._connect(write=True) as cur:
            self._set(cur, {"mirror_of": source, "last_sync_at": datetime.now(timezone.utc).isoformat(),
                            "last_error": "", "last_sync_commit": source_commit or ""})

    def _set(self, cur: Any, values: dict[str, str]) -> None:
        q = self.store._q(
            "INSERT INTO promptgear_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        cur.executemany(q, list(values.items()))

    # -- one writer per target -------------------------------------------------------------------
    @contextlib.contextmanager
    def writer_lock(self, on_wait: Any = None, poll: float = 1.0) -> Iterator[Any]:
        """Hold the target's writer lock; while another daemon holds it, wait (standby).

        Yields ``held()``: False once the lock was lost (its PostgreSQL session died).
        """
        lock = self._pg_lock if self.is_postgres else self._file_lock
        with lock(on_wait, poll) as held:
            yield held

    def lock_key(self) -> int:
        return int.from_bytes(hashlib.sha256(b"promptgear-sync").digest()[:8], "big", signed=True)

    @contextlib.contextmanager
    def _pg_lock(self, on_wait: Any, poll: float) -> Iterator[Any]:
        import time

        import psycopg2

        conn = None
        while conn is None:
            try:
                conn = psycopg2.connect(self.store._dsn, connect_timeout=10)  # type: ignore[attr-defined]
            except psycopg2.OperationalError as exc:  # the server is down: wait for it
                if on_wait:
                    on_wait(f"cannot reach {self.shown} ({str(exc).strip().splitlines()[0]})")
                time.sleep(poll)
        conn.autocommit = True
        try:
            waited = False
            while True:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key(),))
                    if cur.fetchone()[0]:
                        break
                if not waited and on_wait:
                    on_wait()
                waited = True
                time.sleep(poll)

            def held() -> bool:
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                    return True
                except psycopg2.Error:
                    return False

            yield held
        finally:
            conn.close()  # closing the session releases the advisory lock

    @contextlib.contextmanager
    def _file_lock(self, on_wait: Any, poll: float) -> Iterator[Any]:
        from filelock import FileLock, Timeout

        path = os.path.abspath(sqlite_path(self.url)) + ".sync-lock"
        lock = FileLock(path)
        waited = False
        while True:
            try:
                lock.acquire(timeout=poll)
                break
            except Timeout:
                if not waited and on_wait:
                    on_wait()
                waited = True
        try:
            yield lambda: True  # a lock file held by this process cannot be lost
        finally:
            lock.release()


def notify(cur: Any, names: list[str]) -> None:
    """NOTIFY promptgear with the changed names, comma-separated, in payloads under 8000 bytes.

    Delivered when the transaction commits, so listeners never see a change before it is there.
    """
    chunk: list[str] = []
    size = 0
    for name in sorted(set(names)):
        if size + len(name) + 1 > 7000:
            cur.execute("SELECT pg_notify('promptgear', %s)", (",".join(chunk),))
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        cur.execute("SELECT pg_notify('promptgear', %s)", (",".join(chunk),))
