"""``promptgear sync --watch``: keep the database equal to the tree as files change.

A watchdog observer marks prompt names dirty; the loop below applies each batch of dirty
names in one transaction once they have been quiet for a moment (or waited long enough).
Nothing is lost: a failed batch stays dirty and is retried with backoff, deletes wait out
a grace period and are confirmed, an inotify overflow or a timer triggers a full rescan.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from ..errors import BackendUnavailableError, PromptGearError
from .reconcile import Plan, Syncer, SyncResult

log = logging.getLogger("promptgear.sync")

# Names editors use for temporary files, swap files and backups: never content.
TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", "___jb_tmp___", "___jb_old___", ".bak", ".deleted")


def is_noise(filename: str) -> bool:
    if filename == ".metadata.json":
        return False
    return (filename.startswith((".", "#")) or filename.endswith(TEMP_SUFFIXES) or filename == "4913"
            or filename in ("latest.yaml", "latest.yml"))


class _OverflowWatch(logging.Handler):
    """watchdog only logs an inotify queue overflow; this turns the log line into a rescan."""

    def __init__(self, daemon: Daemon) -> None:
        super().__init__(logging.WARNING)
        self.daemon = daemon

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.daemon.request_full()


class Daemon:
    def __init__(
        self,
        syncer: Syncer,
        quiet: float = 0.005,
        max_delay: float = 0.1,
        full_interval: float = 300.0,
        grace: float = 0.3,
        max_backoff: float = 30.0,
    ) -> None:
        self.syncer = syncer
        self.root = syncer.source
        self.quiet, self.max_delay, self.full_interval, self.grace = quiet, max_delay, full_interval, grace
        self.max_backoff = max_backoff
        self._cond = threading.Condition()
        self._dirty: dict[str, tuple[float, float]] = {}  # name -> (first event, last event)
        self._pending_deletes: dict[str, float] = {}  # name -> when the delete was first seen
        self._full = True  # the first pass is a full reconcile
        self._started = False
        self._index_saved = 0.0
        self._stop = False
        self._backoff = 0.0
        self._retry_at = 0.0
        self._next_full = 0.0

    # -- events ----------------------------------------------------------------------------
    def mark(self, path: str) -> None:
        rel = os.path.relpath(path, self.root)
        parts = rel.split(os.sep)
        if parts[0] in (".", ".."):
            self.request_full()
            return
        if parts[0].startswith(".") or (len(parts) > 1 and is_noise(parts[-1])):
            return
        now = time.monotonic()
        with self._cond:
            first = self._dirty.get(parts[0], (now, now))[0]
            self._dirty[parts[0]] = (first, now)
            self._cond.notify()

    def request_full(self) -> None:
        with self._cond:
            self._full = True
            self._cond.notify()

    def stop(self, *_: Any) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    # -- the loop ----------------------------------------------------------------------------
    def run(self, ready: Any = None) -> None:
        """Run until SIGINT/SIGTERM (or :meth:`stop`); the current batch always finishes."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        target = self.syncer.target

        def waiting(reason: str | None = None) -> None:
            if reason:
                log.warning("%s; retrying", reason)
            else:
                log.info("another sync holds %s; waiting on standby", target.shown)

        while not self._stop:
            with target.writer_lock(on_wait=waiting) as held:
                if self._stop:
                    return
                log.info("watching %s -> %s", self.root, target.shown)
                if not self._started:
                    self._first_pass()
                observer = self._observe()
                overflow = _OverflowWatch(self)
                logging.getLogger("watchdog").addHandler(overflow)
                try:
                    if ready:
                        ready()
                    self._loop(held)
                    self._save_index(now=True)
                finally:
                    logging.getLogger("watchdog").removeHandler(overflow)
                    observer.stop()
                    observer.join(timeout=5)
            if not self._stop:
                log.warning("lost the writer lock on %s; back to standby", target.shown)
                with self._cond:
                    self._full = True

    def _first_pass(self) -> None:
        """Reconcile before the observer's threads start, so a cold start can parse in
        worker processes; the loop's first full pass then catches what changed meanwhile."""
        start = time.perf_counter()
        try:
            result = self.syncer.run(None, save_index=False)
        except PromptGearError as exc:
            log.warning("first reconcile failed (%s); retrying", exc)
            return
        self._report(result, "first reconcile", start)

    def _observe(self) -> Any:
        from watchdog import events
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        # Only events that change content. Opens and read-only closes would flood the
        # inotify queue whenever anything (this daemon's own scans included) reads the tree.
        wanted = [events.FileCreatedEvent, events.DirCreatedEvent, events.FileModifiedEvent, events.FileMovedEvent,
                  events.DirMovedEvent, events.FileDeletedEvent, events.DirDeletedEvent, events.FileClosedEvent]

        daemon = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type in ("opened", "closed_no_write", "closed"):
                    return
                if event.is_directory and event.event_type == "modified":
                    return  # a folder's entries changed: the entries' own events say which
                daemon.mark(event.src_path if isinstance(event.src_path, str) else event.src_path.decode())
                dest = getattr(event, "dest_path", "")
                if dest:
                    daemon.mark(dest if isinstance(dest, str) else dest.decode())

        os.makedirs(self.root, exist_ok=True)
        observer = Observer()
        observer.schedule(Handler(), self.root, recursive=True, event_filter=wanted)
        observer.start()
        return observer

    def _take_batch(self) -> tuple[bool, list[str]] | None:
        """Wait until there is work; None when asked to stop."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                now = time.monotonic()
                timeout = None
                if now >= self._retry_at:
                    if self._full or now >= self._next_full:
                        self._full = False
                        self._dirty.clear()
                        return True, []
                    ready = [n for n, (first, last) in self._dirty.items()
                             if now - last >= self.quiet or now - first >= self.max_delay]
                    due = [n for n, seen in self._pending_deletes.items() if now - seen >= self.grace]
                    if ready or due:
                        for name in ready:
                            del self._dirty[name]
                        return False, sorted(set(ready) | set(due))
                    wakeups = [min(last + self.quiet, first + self.max_delay) for first, last in self._dirty.values()]
                    wakeups += [seen + self.grace for seen in self._pending_deletes.values()]
                    wakeups.append(self._next_full)
                    timeout = max(min(wakeups) - now, 0.0005)
                else:
                    timeout = self._retry_at - now
                self._cond.wait(timeout)

    def _defer(self, plan: Plan) -> set[str]:
        """Hold deletes for a grace period, then apply them only if they are still deletes."""
        now = time.monotonic()
        held = set()
        for name in plan.deleting:
            seen = self._pending_deletes.setdefault(name, now)
            if now - seen < self.grace:
                held.add(name)
            else:
                del self._pending_deletes[name]
        for name in list(self._pending_deletes):
            if name not in plan.deleting and name in set(plan.write) | set(plan.remove) | set(plan.held):
                del self._pending_deletes[name]  # it came back: no delete
        return held

    def _loop(self, held: Any) -> None:
        """Apply batches until stopped, or until the writer lock is lost (then return)."""
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            full, names = batch
            if not held():
                with self._cond:  # keep the work for whoever writes next
                    for name in names:
                        self._dirty.setdefault(name, (time.monotonic(), time.monotonic()))
                return
            start = time.perf_counter()
            try:
                if full:
                    # The first pass mirrors a tree at rest; later ones may race an editor, so
                    # their deletes wait out the grace period like any other.
                    result = self.syncer.run(None, defer=self._defer if self._started else None, save_index=False)
                    self._started = True
                    self._next_full = time.monotonic() + self.full_interval
                else:
                    result = self.syncer.run(names, defer=self._defer, save_index=False)
            except (BackendUnavailableError, OSError) as exc:
                self._failed(full, names, exc)
                continue
            except PromptGearError as exc:
                log.error("sync failed: %s", exc)
                self._failed(full, names, exc)
                continue
            self._backoff = 0.0
            self._save_index(full)
            self._report(result, "full reconcile" if full else "synced", start, always=full)

    def _report(self, result: SyncResult, what: str, start: float, always: bool = True) -> None:
        """One line per applied batch (and per full pass): prompts, counts, latency."""
        plan = result.plan
        for problem in plan.problems:
            log.warning("not mirrored: %s", problem)
        if result.applied or always:
            latency = (time.perf_counter() - start) * 1000
            touched = sorted(set(plan.write) | set(plan.remove))
            shown = ", ".join(touched[:10]) + (f" and {len(touched) - 10} more" if len(touched) > 10 else "")
            log.info("%s %s: %d added, %d updated, %d deleted in %.1f ms", what, shown or "-",
                     len(plan.added), len(plan.updated), len(plan.deleted), latency)

    def _save_index(self, now: bool = False) -> None:
        """The stat index is megabytes on a large tree: write it after a full pass, else at
        most every 30 s (a restart without it only reads more files, it loses nothing)."""
        if now or time.monotonic() - self._index_saved > 30:
            self.syncer.tree.save_index()
            self._index_saved = time.monotonic()

    def _failed(self, full: bool, names: list[str], exc: Exception) -> None:
        """Keep the work, try again later with backoff; never lose a dirty name."""
        self._backoff = min(max(self._backoff * 2, 0.25), self.max_backoff)
        now = time.monotonic()
        with self._cond:
            if full:
                self._full = True
            for name in names:
                first, last = self._dirty.get(name, (now, now))
                self._dirty[name] = (first, last)
            self._retry_at = now + self._backoff
        log.warning("sync to %s failed (%s); retrying in %.2f s", self.syncer.target.shown, exc, self._backoff)
        self.syncer.target.record_error(str(exc))
