"""A prompt tree as some source holds it: the working tree, the git index, or a commit.

The integrity checks and the history reads are written once, over this small interface.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Entry:
    kind: str  # "file", "symlink" or "dir"
    ref: Any = None  # how the source finds the bytes (a path, a blob sha)


class Snapshot(Protocol):
    label: str  # shown in messages: the prompt folder's path

    def names(self) -> list[str]: ...

    def entries(self, name: str) -> dict[str, Entry]: ...

    def read(self, entry: Entry) -> bytes: ...

    def kind(self, name: str) -> str | None: ...

    def prefetch(self, entries: list[Entry]) -> None: ...

    def cache_key(self, entry: Entry) -> tuple[int, ...] | None: ...


class WorkingTree:
    """The files on disk."""

    def __init__(self, root: str, label: str | None = None) -> None:
        self.root = os.path.abspath(root)
        self.label = label or os.path.relpath(self.root)

    def names(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.name != ".promptgear")
        except FileNotFoundError:
            return []

    def kind(self, name: str) -> str | None:
        try:
            mode = os.lstat(os.path.join(self.root, name)).st_mode
        except FileNotFoundError:
            return None
        return "symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file"

    def entries(self, name: str) -> dict[str, Entry]:
        folder = os.path.join(self.root, name)
        found = {}
        for entry in os.scandir(folder):
            kind = "symlink" if entry.is_symlink() else "dir" if entry.is_dir() else "file"
            found[entry.name] = Entry(kind, entry.path)
        return found

    def prefetch(self, entries: list[Entry]) -> None:
        """Nothing to batch for files on disk."""

    def cache_key(self, entry: Entry) -> tuple[int, ...] | None:
        import time

        from ..filecache import RACY_NS

        st = os.lstat(entry.ref)
        if time.time_ns() - st.st_mtime_ns <= RACY_NS:
            return None  # too fresh to trust a stat key (see filecache)
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def read(self, entry: Entry) -> bytes:
        if entry.kind == "symlink":
            return os.readlink(entry.ref).encode()
        fd = os.open(entry.ref, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()


class GitCli:
    """The git executable, for the commit hook's hot path.

    Importing GitPython costs ~190 ms on this project's machines, more than the whole
    pre-commit budget, so listing the index and reading blobs call git directly (as
    pre-commit itself does); blobs are read in one ``git cat-file --batch`` call.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def run(self, *args: str) -> str:
        import subprocess

        result = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True)
        if result.returncode != 0:
            from ..errors import ValidationError

            raise ValidationError(f"git {' '.join(args[:2])} failed: {result.stderr.strip().splitlines()[-1:]}")
        return result.stdout

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        import subprocess

        if not shas:
            return {}
        unique = sorted(set(shas))
        out = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, input="\n".join(unique).encode() + b"\n",
                             capture_output=True, check=True).stdout
        found, pos = {}, 0
        for sha in unique:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            size = int(header[2])
            found[sha] = out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
        return found


def git_root(path: str) -> str:
    """The working tree root of the repository holding ``path``."""
    from ..errors import ValidationError
    from ..project import find_git_root

    start = os.path.abspath(path)
    while not os.path.exists(start) and os.path.dirname(start) != start:
        start = os.path.dirname(start)
    root = find_git_root(start)
    if root is None:
        raise ValidationError(f"{os.path.abspath(path)} is not inside a git repository")
    return root


class GitTree:
    """The prompt folder as the git index (``rev=None``) or a commit holds it.

    Files are listed with one ``git ls-files``/``git ls-tree`` call; blobs are read in
    batches as the checks ask for them.
    """

    def __init__(self, git: GitCli, prompt_rel: str, rev: str | None = None, names: list[str] | None = None) -> None:
        self.git = git
        self.prompt_rel = prompt_rel.strip("/") if prompt_rel not in (".", "") else ""
        self.label = self.prompt_rel or "."
        self.rev = rev
        prefix = f"{self.prompt_rel}/" if self.prompt_rel else ""
        paths = [f"{prefix}{n}/" for n in names] if names is not None else ([prefix] if prefix else [])
        if names is not None and not names:
            listing = ""
        elif rev is None:
            listing = git.run("ls-files", "-s", "-z", "--", *paths)
        else:
            listing = git.run("ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths)
        self._tree: dict[str, dict[str, Entry]] = {}
        self._blobs: dict[str, bytes] = {}
        self.conflicted: set[str] = set()
        for record in listing.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            fields = meta.split()
            if rev is None:
                mode, sha, stage = fields[0], fields[1], fields[2]
            else:
                mode, sha, stage = fields[0], fields[2], "0"
            rel = path[len(prefix):] if prefix else path
            parts = rel.split("/")
            if stage != "0":
                self.conflicted.add(rel)
                continue
            kind = "symlink" if mode == "120000" else "file"
            if len(parts) == 1:
                self._tree.setdefault("", {})[parts[0]] = Entry(kind, sha)
            elif len(parts) == 2:
                self._tree.setdefault(parts[0], {})[parts[1]] = Entry(kind, sha)
            else:
                self._tree.setdefault(parts[0], {})[parts[1]] = Entry("dir", None)

    def names(self) -> list[str]:
        top = sorted(n for n in self._tree if n)
        return top + sorted(self._tree.get("", {}))

    def kind(self, name: str) -> str | None:
        if name in self._tree and name:
            return "dir"
        entry = self._tree.get("", {}).get(name)
        return entry.kind if entry else None

    def entries(self, name: str) -> dict[str, Entry]:
        return dict(self._tree.get(name, {}))

    def prefetch(self, entries: list[Entry]) -> None:
        """Read these blobs in one git call."""
        wanted = [e.ref for e in entries if e.ref and e.ref not in self._blobs]
        self._blobs.update(self.git.blobs(wanted))

    def read(self, entry: Entry) -> bytes:
        if entry.ref not in self._blobs:
            self._blobs.update(self.git.blobs([entry.ref]))
        return self._blobs[entry.ref]

    def cache_key(self, entry: Entry) -> tuple[int, ...] | None:
        return (int(entry.ref[:15], 16),)  # the blob id: the content itself


def open_repo(path: str) -> Any:
    """The git repository containing ``path``, via GitPython."""
    import git

    from ..errors import ValidationError

    start = os.path.abspath(path)
    while not os.path.exists(start) and os.path.dirname(start) != start:
        start = os.path.dirname(start)  # the prompt folder may not exist yet
    try:
        return git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ValidationError(f"{os.path.abspath(path)} is not inside a git repository") from None


def prompt_rel(repo: Any, prompt_dir: str) -> str:
    """The prompt folder relative to the repository root (``repo``: a GitPython Repo or a root path)."""
    root = os.path.realpath(repo if isinstance(repo, str) else repo.working_tree_dir)
    return os.path.relpath(os.path.realpath(prompt_dir), root).replace(os.sep, "/")
