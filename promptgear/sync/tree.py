"""The prompt tree as the mirror should show it: registered, valid versions only.

A scan reads metadata and version files through a stat index (like git's index: path,
size, mtime_ns, inode -> content hash or parsed ledger), so a restart with no changes
reads no file and parses nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from ..filecache import RACY_NS, FileCache
from ..filesystem_backend import METADATA, STATE_DIR, prompt_names
from ..ledger import Ledger
from ..metadata import ledger_from_dict, ledger_to_dict
from ..versionfile import parse_version

INDEX_FILE = os.path.join(STATE_DIR, "cache", "sync-files.json")  # per file: hash or parsed ledger
DIGEST_FILE = os.path.join(STATE_DIR, "cache", "sync-prompts.json")  # per prompt: digest of all its files


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of the mirrored content fields in canonical JSON."""
    canonical = json.dumps(
        [content["system_prompt"], content["user_prompt"], content.get("config") or {},
         content.get("description"), list(content.get("tags") or [])],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class PromptState:
    """One prompt as the mirror should hold it.

    ``digest`` sums up the ledger and every version's content hash. A prompt whose files
    are unchanged since the last scan comes from the index with its digest only
    (``ledger`` and ``hashes`` None) until :meth:`Tree.scan` is asked for it in full.
    """

    digest: str
    versions: int
    ledger: Ledger | None = None
    hashes: dict[str, str] | None = None


def prompt_digest(ledger: Ledger, hashes: dict[str, str]) -> str:
    data = json.dumps([ledger_to_dict(ledger), hashes], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass
class TreeState:
    prompts: dict[str, PromptState] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # prompts with a problem: their rows stay as they are
    problems: list[str] = field(default_factory=list)  # "path: why it is not mirrored"
    files: int = 0


class Tree:
    """Scans ``prompt_dir``; keeps its stat index in memory and in ``.promptgear/cache``."""

    def __init__(self, prompt_dir: str, file_extension: str = ".yaml") -> None:
        self.root = os.path.abspath(prompt_dir)
        self.ext = file_extension
        self.index = FileCache(os.path.join(self.root, INDEX_FILE))  # loaded when a prompt is read in full
        self.digests = FileCache(os.path.join(self.root, DIGEST_FILE))
        # Contents parsed during the current scan, by path and stat key: the rows that must
        # be written then need no second parse.
        self._parsed: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def names(self) -> list[str]:
        return prompt_names(self.root)

    def scan(self, names: Iterable[str] | None = None, progress: Any = None, full: bool = False) -> TreeState:
        """The desired state of ``names`` (all prompts when None).

        A name with no folder is simply absent from the result (its rows go). Unless
        ``full``, prompts whose files did not change come as digests only.
        """
        self.digests.load()
        state = TreeState()
        wanted = self.names() if names is None else sorted(set(names))
        if names is None and not full and len(self.digests) < len(wanted) // 2:
            self._parse_in_parallel(wanted)  # a cold start: most files were never seen
        for done, name in enumerate(wanted, 1):
            self._scan_prompt(name, state, full)
            if progress:
                progress(done, len(wanted))
        return state

    def forget_parsed(self) -> None:
        """Drop the contents kept from earlier scans (call before planning anew)."""
        self._parsed.clear()

    def save_index(self) -> None:
        if os.path.isdir(os.path.join(self.root, STATE_DIR)):
            with contextlib.suppress(OSError):
                self.index.save()
                self.digests.save()

    def content(self, name: str, version: str) -> tuple[dict[str, Any], bool]:
        """A version's content (for rows that must be written), and whether it is exactly
        what the scan parsed (else it was read now, and may have changed since the scan)."""
        path = os.path.join(self.root, name, version + self.ext)
        parsed = self._parsed.get(path)
        if parsed is not None:
            st = os.lstat(path)
            if (st.st_size, st.st_mtime_ns, st.st_ino) == parsed[0]:
                return parsed[1], True
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return parse_version(handle.read(), path, name, version), False

    def _parse_in_parallel(self, names: list[str], minimum: int = 2000) -> None:
        """Parse and hash the files the index does not know, in worker processes.

        Parsing dominates a cold start (the YAML constructor runs in Python), so the work
        is spread over the cores by forked workers. Only a single-threaded process forks
        (forking beside other threads can deadlock the child); spawning instead would
        re-import the caller's ``__main__``, a trap for scripts. Files that fail are left
        for the scan, which reports them as usual.
        """
        import threading

        cpus = os.cpu_count() or 1
        if cpus < 2 or threading.active_count() > 1:
            return
        self.index.load()
        cold = []
        for name in names:
            folder = os.path.join(self.root, name)
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    file_name = entry.name
                    if not file_name.endswith(self.ext) or file_name.startswith(".") or file_name == "latest" + self.ext:
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    key = (st.st_size, st.st_mtime_ns, st.st_ino)
                    if self.index.lookup(entry.path, key) is None:
                        cold.append((entry.path, name, file_name[: -len(self.ext)], key))
        if len(cold) < minimum:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        workers = min(cpus, 8)
        size = max(200, len(cold) // (workers * 4))
        chunks = [cold[i : i + size] for i in range(0, len(cold), size)]
        now = time.time_ns()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for results in pool.map(_parse_files, chunks):
                for path, key, content, digest in results:
                    self._parsed[path] = (key, content)
                    if now - key[1] > RACY_NS:
                        self.index.store(path, key, digest)

    # -- one prompt ----------------------------------------------------------------------
    def _scan_prompt(self, name: str, state: TreeState, full: bool = False) -> None:
        folder = os.path.join(self.root, name)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            if stat.S_ISLNK(st.st_mode):
                state.problems.append(f"{folder}: a symlink, not a prompt folder (not followed)")
            return
        entries = {}
        with contextlib.suppress(FileNotFoundError):
            entries = {entry.name: entry for entry in os.scandir(folder)}
        meta_entry = entries.get(METADATA)
        version_files = sorted(
            n for n in entries if n.endswith(self.ext) and not n.startswith(".") and n != "latest" + self.ext
        )
        state.files += len(version_files)
        key = self._prompt_key(entries, [METADATA, *version_files])
        if key is not None and not full:
            cached = self.digests.lookup(folder, key)
            if cached is not None:  # no file of this prompt changed since it was last scanned
                digest, versions, problems = cached
                state.problems += problems
                state.prompts[name] = PromptState(digest, versions)
                return
        problems_before = len(state.problems)
        self.index.load()
        if meta_entry is None:
            if version_files:
                state.held.add(name)
                state.problems.append(f"{os.path.join(folder, METADATA)}: missing; run 'promptgear fix {name}'")
            return
        try:
            ledger = self._ledger(name, meta_entry)
        except IntegrityError as exc:
            state.held.add(name)
            state.problems.append(str(exc))
            return
        for file_name in version_files:
            version = file_name[: -len(self.ext)]
            if version not in ledger.versions:
                state.problems.append(f"{os.path.join(folder, file_name)}: not registered in {METADATA}; "
                                      f"run 'promptgear fix {name}' (not mirrored)")
        hashes = {}
        for version in ledger.ordered():
            entry = entries.get(version + self.ext)
            path = os.path.join(folder, version + self.ext)
            if entry is None:
                state.held.add(name)
                state.problems.append(f"{path}: registered but missing; the mirror keeps the last good copy")
                return
            try:
                hashes[version] = self._hash(name, version, entry)
            except (IntegrityError, OSError) as exc:
                state.held.add(name)
                state.problems.append(f"{exc}; the mirror keeps the last good copy" if isinstance(exc, IntegrityError)
                                      else f"{path}: unreadable ({exc.strerror})")
                return
        if ledger.versions:
            digest = prompt_digest(ledger, hashes)
            state.prompts[name] = PromptState(digest, len(ledger.versions), ledger, hashes)
            if key is not None:
                self.digests.store(folder, key, [digest, len(ledger.versions), state.problems[problems_before:]])

    def _prompt_key(self, entries: dict[str, os.DirEntry[str]], files: list[str]) -> tuple[int, ...] | None:
        """A key that changes when any of ``files`` changes; None while one is too fresh to trust."""
        now = time.time_ns()
        parts = []
        for file_name in files:
            entry = entries.get(file_name)
            if entry is None:
                continue
            st = entry.stat(follow_symlinks=False)
            if now - st.st_mtime_ns <= RACY_NS:
                return None
            parts.append(f"{file_name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
        digest = hashlib.sha1("|".join(parts).encode()).digest()
        return (len(parts), int.from_bytes(digest[:8], "big"))

    def _ledger(self, name: str, entry: os.DirEntry[str]) -> Ledger:
        st = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{entry.path}: must be a regular file, not a symlink")

        def load(path: str) -> dict[str, Any]:
            with open(path, "rb") as handle:
                text = handle.read()
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise IntegrityError(f"{path}: not valid JSON ({exc}); run 'promptgear fix {name}'") from None
            return ledger_to_dict(ledger_from_dict(data, name, path))

        data = self.index.get(entry.path, st, load)
        return ledger_from_dict(data, name, entry.path)

    def _hash(self, name: str, version: str, entry: os.DirEntry[str]) -> str:
        st = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{entry.path}: must be a regular file, not a symlink")

        def load(path: str) -> str:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                content = parse_version(handle.read(), path, name, version)
            self._parsed[path] = ((st.st_size, st.st_mtime_ns, st.st_ino), content)
            return content_hash(content)

        value: str = self.index.get(entry.path, st, load)
        return value


def _parse_files(items: list[tuple[str, str, str, tuple[int, int, int]]]) -> list[tuple[str, Any, dict[str, Any], str]]:
    """Worker: parse and hash version files; ones that fail are skipped (the scan reports them)."""
    done = []
    for path, name, version, key in items:
        try:
            with open(path, "rb") as handle:
                content = parse_version(handle.read(), path, name, version)
        except (OSError, IntegrityError):
            continue
        done.append((path, key, content, content_hash(content)))
    return done
