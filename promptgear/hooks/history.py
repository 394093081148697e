"""Reading prompts as they were at a git revision, without touching the working tree."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..errors import IntegrityError, PromptNotFoundError, ValidationError
from ..ledger import Ledger, RemoveResult
from ..metadata import ledger_from_dict
from ..names import validate_name
from ..store import BackendBase, PromptRecord, make_template
from ..template import PromptTemplate
from ..versionfile import parse_version
from .snapshot import GitCli, GitTree, open_repo, prompt_rel


class GitRevisionStore(BackendBase):
    """A read-only store over the prompt folder at a git revision.

    >>> from promptgear import PromptManager
    >>> old = PromptManager(backend=GitRevisionStore("prompts", "HEAD~3"))  # doctest: +SKIP
    """

    backend_name = "git"

    def __init__(self, prompt_dir: str, rev: str = "HEAD", file_extension: str = ".yaml") -> None:
        import git

        self.repo = open_repo(prompt_dir)
        self.rel = prompt_rel(self.repo, prompt_dir)
        self.ext = file_extension
        try:
            self.rev = self.repo.commit(rev).hexsha
        except (git.BadName, ValueError):
            raise ValidationError(f"unknown git revision {rev!r}") from None
        self.shown = rev
        self.tree = GitTree(GitCli(str(self.repo.working_tree_dir)), self.rel, self.rev)

    def describe(self) -> str:
        return f"{self.rel}@{self.shown}"

    def peek_ledger(self, name: str) -> Ledger | None:
        entry = self.tree.entries(validate_name(name)).get(".metadata.json")
        if entry is None:
            return None
        where = f"{self.rel}/{name}/.metadata.json@{self.shown}"
        try:
            return ledger_from_dict(json.loads(self.tree.read(entry)), name, where)
        except ValueError as exc:
            raise IntegrityError(f"{where}: not valid JSON ({exc})") from None

    def _ledger(self, name: str) -> Ledger:
        ledger = self.peek_ledger(name)
        if ledger is None:
            raise PromptNotFoundError(f"prompt {name} not found at {self.shown}")
        return ledger

    def _content(self, name: str, version: str) -> dict[str, Any]:
        entry = self.tree.entries(name).get(version + self.ext)
        where = f"{self.rel}/{name}/{version}{self.ext}@{self.shown}"
        if entry is None or entry.kind != "file":
            raise IntegrityError(f"{where}: missing at this revision")
        return parse_version(self.tree.read(entry), where, name, version)

    def get_prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> PromptTemplate:
        ledger = self._ledger(name)
        try:
            resolved = ledger.resolve(version, label)
        except PromptNotFoundError as exc:
            raise PromptNotFoundError(f"{exc} at {self.shown}") from None
        return make_template(ledger, resolved, self._content(name, resolved))

    def list_names(self) -> list[str]:
        return [n for n in self.tree.names() if self.tree.kind(n) == "dir"]

    def history(self, name: str) -> list[PromptTemplate]:
        ledger = self._ledger(name)
        return [make_template(ledger, v, self._content(name, v)) for v in ledger.ordered()]

    def export_prompt(self, name: str) -> PromptRecord:
        ledger = self._ledger(name)
        return PromptRecord(ledger, {v: self._content(name, v) for v in ledger.versions})

    # -- a revision is history: it cannot be written ---------------------------------------
    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValidationError(f"{self.describe()} is a git revision: read-only")

    def create_prompt(self, *args: Any, **kwargs: Any) -> PromptTemplate:
        self._read_only()

    def update_prompt(self, *args: Any, **kwargs: Any) -> PromptTemplate:
        self._read_only()

    def delete_prompt(self, *args: Any, **kwargs: Any) -> RemoveResult:
        self._read_only()

    def promote_prompt(self, *args: Any, **kwargs: Any) -> PromptTemplate:
        self._read_only()

    def set_label(self, *args: Any, **kwargs: Any) -> PromptTemplate:
        self._read_only()

    def remove_label(self, *args: Any, **kwargs: Any) -> str:
        self._read_only()

    def import_prompts(self, records: Iterable[PromptRecord], overwrite: bool = False) -> int:
        self._read_only()


@dataclass
class LogEntry:
    sha: str
    date: str
    author: str
    subject: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def prompt_log(prompt_dir: str, name: str, file_extension: str = ".yaml", limit: int | None = None) -> list[LogEntry]:
    """The commits that touched a prompt, newest first, with the versions each added or changed."""
    repo = open_repo(prompt_dir)
    path = f"{prompt_rel(repo, prompt_dir)}/{validate_name(name)}/".lstrip("./") or f"{name}/"
    args = ["--format=%x1e%H%x1f%aI%x1f%an%x1f%s", "--name-status", "--no-renames"]
    if limit:
        args.append(f"-n{limit}")
    out = repo.git.log(*args, "--", path)
    entries = []
    for block in out.split("\x1e")[1:]:
        head, _, files = block.partition("\n")
        sha, date, author, subject = head.split("\x1f")
        entry = LogEntry(sha, date, author, subject)
        for line in files.splitlines():
            if "\t" not in line:
                continue
            status, file_path = line.split("\t", 1)
            base = file_path.rsplit("/", 1)[-1]
            if not base.endswith(file_extension) or base.startswith((".", "latest")):
                continue
            version = base[: -len(file_extension)]
            {"A": entry.added, "M": entry.changed, "D": entry.removed}.get(status[:1], entry.changed).append(version)
        entries.append(entry)
    return entries
