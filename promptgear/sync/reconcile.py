"""Make the database equal to the tree: compare by content hash and bookkeeping, apply once."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from ..project import find_git_root
from ..store import PromptRecord, content_hash
from .target import MirrorState, RowState, Target
from .tree import Tree, TreeState

log = logging.getLogger("promptgear.sync")


@dataclass
class Plan:
    """What a sync would change, per prompt."""

    added: list[str] = field(default_factory=list)  # name:version
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    write: list[str] = field(default_factory=list)  # prompts whose rows are replaced
    remove: list[str] = field(default_factory=list)  # prompts whose rows all go
    deleting: set[str] = field(default_factory=set)  # prompts losing versions (held for a grace period when watching)
    stale_digests: dict[str, str] = field(default_factory=dict)  # rows already equal: only their digest is rewritten
    problems: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.updated) + len(self.deleted)

    @property
    def in_sync(self) -> bool:
        return not (self.write or self.remove)


@dataclass
class SyncResult:
    plan: Plan
    seconds: float
    applied: bool

    def summary(self) -> str:
        p = self.plan
        return (f"{len(p.added)} added, {len(p.updated)} updated, {len(p.deleted)} deleted, "
                f"{p.unchanged} unchanged in {self.seconds:.2f} s")


def diff(tree: TreeState, mirror: MirrorState, names: Iterable[str]) -> Plan:
    plan = Plan(problems=list(tree.problems), held=sorted(tree.held))
    for name in sorted(set(names)):
        rows = mirror.rows.get(name, {})
        if name in tree.held:
            plan.unchanged += len(rows)
            continue
        desired = tree.prompts.get(name)
        if desired is not None and desired.digest == mirror.digests.get(name):
            plan.unchanged += desired.versions
            continue
        if desired is None:
            if rows or name in mirror.next_sequence:
                plan.deleted += [f"{name}:{v}" for v in sorted(rows)]
                plan.remove.append(name)
                plan.deleting.add(name)
            continue
        ledger, hashes = desired.ledger, desired.hashes
        assert ledger is not None and hashes is not None, "diff needs the full state of a prompt that differs"
        want: dict[str, RowState] = {
            v: (hashes[v], e.sequence_number, e.is_latest, e.created_at, e.updated_at)
            for v, e in ledger.versions.items()
        }
        changed = False
        for version, state in want.items():
            have = rows.get(version)
            if have is None:
                plan.added.append(f"{name}:{version}")
                changed = True
            elif have != state:
                plan.updated.append(f"{name}:{version}")
                changed = True
            else:
                plan.unchanged += 1
        gone = sorted(set(rows) - set(want))
        if gone:
            plan.deleted += [f"{name}:{v}" for v in gone]
            plan.deleting.add(name)
            changed = True
        if ledger.labels != mirror.labels.get(name, {}) or ledger.next_sequence != mirror.next_sequence.get(name):
            changed = True
        if changed:
            plan.write.append(name)
        else:  # equal rows under a stale digest (rows touched behind sync's back)
            plan.stale_digests[name] = desired.digest
    return plan


class Syncer:
    """Keeps one database equal to one prompt folder."""

    def __init__(self, prompt_dir: str, target_url: str, file_extension: str = ".yaml", force: bool = False) -> None:
        self.source = os.path.abspath(prompt_dir)
        self.tree = Tree(self.source, file_extension)
        self.target = Target(target_url)
        self.force = force
        self._repo: Any = False

    def close(self) -> None:
        self.target.close()

    def commit(self) -> str | None:
        """The git commit the tree is at, if it is inside a repository."""
        if self._repo is False:
            self._repo = None
            root = find_git_root(self.source)
            if root is not None:  # GitPython is imported only inside a repository
                with contextlib.suppress(Exception):  # a broken .git: no commit to record
                    import git

                    self._repo = git.Repo(root)
        if self._repo is None:
            return None
        try:
            return str(self._repo.head.commit.hexsha)
        except Exception:  # an unborn branch, a broken HEAD: no commit to record
            return None

    def plan(self, names: Iterable[str] | None = None, progress: Callable[[int, int], None] | None = None) -> Plan:
        """What would change, for ``names`` (everything when None)."""
        return self._plan(names, progress)[0]

    def _plan(self, names: Iterable[str] | None, progress: Callable[[int, int], None] | None) -> tuple[Plan, TreeState]:
        """Compare digests first; read files and rows in full only for prompts that differ."""
        self.tree.forget_parsed()
        scoped = None if names is None else sorted(set(names))
        tree = self.tree.scan(scoped, progress=progress)
        digests = self.target.digests(scoped)
        scope = set(tree.prompts) | tree.held | (set(digests) if scoped is None else set(scoped))
        differ = sorted(n for n in scope if n not in tree.prompts or tree.prompts[n].digest != digests.get(n))
        stale = [n for n in differ if n in tree.prompts and tree.prompts[n].ledger is None]
        if stale:  # known only by digest: read these prompts in full
            full = self.tree.scan(stale, full=True)
            tree.prompts.update(full.prompts)
            tree.held |= full.held
            tree.problems += [p for p in full.problems if p not in tree.problems]
        mirror = self.target.read(differ)
        mirror.digests = digests
        return diff(tree, mirror, scope), tree

    def run(
        self,
        names: Iterable[str] | None = None,
        dry_run: bool = False,
        defer: Callable[[Plan], set[str]] | None = None,
        progress: Callable[[int, int], None] | None = None,
        save_index: bool = True,
    ) -> SyncResult:
        """Plan and (unless ``dry_run``) apply in one transaction.

        ``defer(plan)`` may name prompts to leave alone this time (deletes in a grace period).
        ``save_index=False`` leaves writing the stat index to the caller (the daemon batches it).
        """
        start = time.perf_counter()
        if names is None and not dry_run:
            self.target.check_ownership(self.source, self.force)
        plan, tree = self._plan(names, progress)
        skip = defer(plan) if defer else set()
        write = [n for n in plan.write if n not in skip]
        remove = [n for n in plan.remove if n not in skip]
        applied = False
        if not dry_run and plan.stale_digests:  # else every later scan reads these prompts in full
            self.target.set_digests(plan.stale_digests)
        if not dry_run and (write or remove):
            records = []
            for name in write:
                record = self._record(name, plan, tree)
                if record is not None:
                    records.append(record)
            changed = [r.name for r in records] + remove
            digests = {r.name: tree.prompts[r.name].digest for r in records}
            hashes = {r.name: tree.prompts[r.name].hashes or {} for r in records}
            self.target.apply(self.source, records, remove, self.commit(), changed, digests, hashes)
            applied = True
        elif not dry_run and names is None:
            self.target.mark_synced(self.source, self.commit())
        if save_index:
            self.tree.save_index()
        return SyncResult(plan, time.perf_counter() - start, applied)

    def _record(self, name: str, plan: Plan, tree: TreeState) -> PromptRecord | None:
        """The prompt as scanned, with its contents; None if a file changed under our feet
        (the change's own event brings it back)."""
        desired = tree.prompts[name]
        assert desired.ledger is not None and desired.hashes is not None
        contents = {}
        try:
            for version in desired.ledger.versions:
                content, scanned = self.tree.content(name, version)
                if not scanned and content_hash(content) != desired.hashes[version]:
                    plan.problems.append(f"{name}:{version} changed while syncing; the next pass takes it")
                    return None
                contents[version] = content
        except (IntegrityError, OSError) as exc:
            plan.problems.append(str(exc))
            return None
        return PromptRecord(desired.ledger, contents)
