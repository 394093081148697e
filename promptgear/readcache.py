"""Resilient reads for applications on a database store.

Reads of ``get_prompt`` are cached for ``ttl`` seconds; an entry past its TTL is still
served while a background thread fetches it again (stale-while-revalidate). When the
database cannot be reached, the last good copy is served with one warning per outage;
with nothing cached, the ``fallback`` store (the prompt files) answers. On PostgreSQL a
``LISTEN promptgear`` connection drops the entries of every prompt ``sync`` changed, so a
change is seen at once rather than after the TTL.
"""

from __future__ import annotations

import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import BackendUnavailableError
from .store import BackendBase, plain_copy
from .template import PromptTemplate

log = logging.getLogger("promptgear.cache")

Key = tuple[str, "str | None", "str | None"]


def _copy(template: PromptTemplate) -> PromptTemplate:
    """A copy callers may change freely, made without dataclasses.replace's overhead."""
    clone = object.__new__(PromptTemplate)
    clone.__dict__.update(template.__dict__)
    clone.config = plain_copy(template.config)
    clone.tags = list(template.tags)
    clone.labels = list(template.labels)
    return clone


class ReadCache:
    def __init__(self, backend: Callable[[], BackendBase], ttl: float, fallback: BackendBase | None = None,
                 listen_dsn: str | None = None) -> None:
        self._backend = backend
        self.ttl = ttl
        self.fallback = fallback
        self._entries: dict[Key, tuple[float, PromptTemplate]] = {}
        self._lock = threading.Lock()
        self._pending: set[Key] = set()
        self._queue: queue.Queue[Key | None] = queue.Queue()
        self._outage = False
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._revalidate_loop, name="promptgear-revalidate", daemon=True)
        self._worker.start()
        self._listener: threading.Thread | None = None
        if listen_dsn:
            self._listener = threading.Thread(target=self._listen_loop, args=(listen_dsn,), name="promptgear-listen",
                                              daemon=True)
            self._listener.start()

    # -- reads ------------------------------------------------------------------------------
    def get(self, name: str, version: str | None, label: str | None) -> PromptTemplate:
        key = (name, version, label)
        entry = self._entries.get(key)
        if entry is not None:
            if time.monotonic() - entry[0] >= self.ttl and key not in self._pending:
                with self._lock:
                    self._pending.add(key)
                self._queue.put(key)  # serve the stale copy now, refresh it in the background
            return _copy(entry[1])
        return _copy(self._fetch(key))

    def _fetch(self, key: Key) -> PromptTemplate:
        try:
            template = self._backend().get_prompt(key[0], key[1], label=key[2])
        except BackendUnavailableError as exc:
            entry = self._entries.get(key)
            if entry is not None:
                self._warn(exc)
                return entry[1]
            if self.fallback is not None:
                self._warn(exc, "reading the prompt files instead")
                return self.fallback.get_prompt(key[0], key[1], label=key[2])
            raise
        if self._outage:
            log.warning("the prompt database answers again")
            self._outage = False
        self._entries[key] = (time.monotonic(), template)
        return template

    def _warn(self, exc: BaseException, what: str = "serving the last good copies") -> None:
        if not self._outage:  # one warning per outage, not one per read
            self._outage = True
            log.warning("%s; %s until it answers again", exc, what)

    def _revalidate_loop(self) -> None:
        while True:
            key = self._queue.get()
            if key is None:
                return
            try:
                self._fetch(key)
            except Exception as exc:  # the stale copy stays; the next read past the TTL tries again
                log.debug("revalidating %s failed: %s", key, exc)
                entry = self._entries.get(key)
                if entry is not None:  # do not hammer a database that is down: wait one TTL
                    self._entries[key] = (time.monotonic(), entry[1])
            finally:
                with self._lock:
                    self._pending.discard(key)

    # -- invalidation ---------------------------------------------------------------------------
    def invalidate(self, names: set[str] | None = None) -> None:
        """Drop the entries of ``names`` (every entry when None); the next read fetches."""
        with self._lock:
            for key in list(self._entries):
                if names is None or key[0] in names:
                    self._entries.pop(key, None)

    def _listen_loop(self, dsn: str) -> None:
        import psycopg2

        backoff = 0.5
        while not self._closed.is_set():
            try:
                conn = psycopg2.connect(dsn, connect_timeout=5)
            except psycopg2.Error:
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 30)
                continue
            backoff = 0.5
            try:
                conn.autocommit = True
                conn.cursor().execute("LISTEN promptgear")
                self.invalidate()  # notifications may have been missed while not listening
                while not self._closed.is_set():
                    if select.select([conn], [], [], 1.0)[0]:
                        conn.poll()
                        names: set[str] = set()
                        while conn.notifies:
                            names.update(n for n in conn.notifies.pop(0).payload.split(",") if n)
                        if names:
                            self.invalidate(names)
            except (psycopg2.Error, OSError, ValueError):
                pass  # the connection broke: reconnect
            finally:
                try:
                    conn.close()
                except Exception:
                    pass

    def close(self) -> None:
        self._closed.set()
        self._queue.put(None)
