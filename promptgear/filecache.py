"""Parsed file contents cached by stat, in memory and (for cold bulk reads) on disk.

Like git's index, an entry is keyed by (size, mtime_ns, inode) and trusted only if the
file's mtime was already older than the clock granularity when the entry was made, so an
in-place edit with the same size in the same clock tick is never missed ("racy" entries
are re-read until they age).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

# Linux updates mtime from a coarse clock (one jiffy, up to 10 ms); stay well above it.
RACY_NS = 50_000_000

StatKey = tuple[int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class FileCache:
    """Maps a path to the value ``loader(path)`` returned, while the file is unchanged."""

    def __init__(self, persist_path: str | None = None) -> None:
        self._entries: dict[str, tuple[StatKey, Any]] = {}
        self._persist_path = persist_path
        self._persist_loaded = False
        self._dirty = False
        self._fresh: set[str] | None = None  # paths stored since track_fresh(), while tracking

    def get(self, path: str, st: os.stat_result, loader: Callable[[str], Any]) -> Any:
        key = stat_key(st)
        hit = self._entries.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = loader(path)
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            self._entries[path] = (key, value)
            self._dirty = True
            if self._fresh is not None:
                self._fresh.add(path)
        else:
            self._entries.pop(path, None)
        return value

    def lookup(self, path: str, key: tuple[int, ...]) -> Any:
        """The value stored under an explicit key (see :meth:`store`), or None."""
        hit = self._entries.get(path)
        return hit[1] if hit is not None and tuple(hit[0]) == key else None

    def store(self, path: str, key: tuple[int, ...], value: Any) -> None:
        """Keep a value derived from several files; the caller applies the racy rule."""
        self._entries[path] = (key, value)  # type: ignore[assignment]
        self._dirty = True
        if self._fresh is not None:
            self._fresh.add(path)

    def track_fresh(self) -> None:
        """Start noting new entries (a worker process hands them back with :meth:`take_fresh`)."""
        self._fresh = set()

    def take_fresh(self) -> dict[str, tuple[StatKey, Any]]:
        """The entries made since :meth:`track_fresh` or the last call."""
        fresh = {path: self._entries[path] for path in self._fresh or () if path in self._entries}
        self._fresh = set()
        return fresh

    def update(self, entries: dict[str, tuple[StatKey, Any]]) -> None:
        """Adopt entries another cache made (see :meth:`take_fresh`)."""
        if entries:
            self._entries.update(entries)
            self._dirty = True

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dirty(self) -> bool:
        return self._dirty

    # -- persistence, for bulk reads in a fresh process --------------------------------
    def load(self) -> None:
        """Merge the on-disk cache (once); a missing or unreadable one is ignored."""
        if self._persist_loaded or not self._persist_path:
            return
        self._persist_loaded = True
        try:
            with open(self._persist_path, "rb") as handle:
                stored = json.load(handle)
            entries = stored["entries"] if stored.get("format") == 1 else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        for path, item in entries.items():
            self._entries.setdefault(path, (tuple(item[:-1]), item[-1]))  # type: ignore[arg-type]

    def save(self) -> None:
        """Write the cache if it gained entries; best effort (read-only trees are fine)."""
        if not (self._persist_path and self._dirty):
            return
        entries = {path: [*key, value] for path, (key, value) in self._entries.items()}
        try:
            text = json.dumps({"format": 1, "entries": entries})
        except (TypeError, ValueError):  # values with YAML-only types (dates) are not persisted
            text = json.dumps({"format": 1, "entries": {path: item for path, item in entries.items() if _plain(item)}})
        from .atomic import write_atomic

        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(self._persist_path), exist_ok=True)
            write_atomic(self._persist_path, text, durable=False)
            self._dirty = False


def _plain(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
