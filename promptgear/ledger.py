"""The version rules, written once and applied by every backend.

A :class:`Ledger` is the bookkeeping of one prompt: its next sequence number, each
version's sequence/latest/timestamps, and its release labels. Backends load the ledger
under their lock or transaction, call one rule method, and persist the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .errors import PromptNotFoundError, ValidationError
from .names import validate_label


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class VersionEntry:
    sequence_number: int
    is_latest: bool
    created_at: datetime
    updated_at: datetime


@dataclass
class RemoveResult:
    """What a delete did: which version became latest, which labels went with it."""

    name: str
    version: str
    promoted: str | None = None
    removed_labels: list[str] = field(default_factory=list)
    prompt_removed: bool = False

    def __bool__(self) -> bool:  # the original returned True on success
        return True


@dataclass
class Ledger:
    name: str
    next_sequence: int = 1
    versions: dict[str, VersionEntry] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    # -- queries -----------------------------------------------------------------
    def latest(self) -> str | None:
        for version, entry in self.versions.items():
            if entry.is_latest:
                return version
        return None

    def ordered(self) -> list[str]:
        """Versions by sequence number."""
        return sorted(self.versions, key=lambda v: self.versions[v].sequence_number)

    def labels_of(self, version: str) -> list[str]:
        if not self.labels:
            return []
        return sorted(label for label, target in self.labels.items() if target == version)

    def entry(self, version: str) -> VersionEntry:
        try:
            return self.versions[version]
        except KeyError:
            raise PromptNotFoundError(f"prompt {self.name}:{version} not found") from None

    def resolve(self, version: str | None = None, label: str | None = None) -> str:
        """The version a read asks for: explicit, by label, or the latest."""
        if version is not None and label is not None:
            raise ValidationError("give a version or a label, not both")
        if label is not None and label != "latest":
            try:
                return self.labels[label]
            except KeyError:
                raise PromptNotFoundError(f"prompt {self.name} has no label {label!r}") from None
        if version is None:
            latest = self.latest()
            if latest is None:
                raise PromptNotFoundError(f"prompt {self.name} not found")
            return latest
        self.entry(version)
        return version

    # -- rules -------------------------------------------------------------------
    def add(self, version: str, now: datetime | None = None) -> VersionEntry:
        """Register a new version (or re-create an existing one): it becomes the latest.

        A re-created version keeps its sequence number and creation time, so sequence
        numbers are never reused or changed.
        """
        now = now or utcnow()
        existing = self.versions.get(version)
        if existing is None:
            entry = VersionEntry(self.next_sequence, True, now, now)
            self.next_sequence += 1
        else:
            entry = VersionEntry(existing.sequence_number, True, existing.created_at, now)
        self._clear_latest()
        self.versions[version] = entry
        return entry

    def touch(self, version: str, now: datetime | None = None) -> VersionEntry:
        entry = self.entry(version)
        entry.updated_at = now or utcnow()
        return entry

    def promote(self, version: str) -> VersionEntry:
        entry = self.entry(version)
        self._clear_latest()
        entry.is_latest = True
        return entry

    def remove(self, version: str, force: bool = False) -> RemoveResult:
        """Delete a version; the remaining highest sequence becomes latest if needed.

        A version that carries labels is kept unless ``force``, which drops the labels.
        """
        entry = self.entry(version)
        carried = self.labels_of(version)
        if carried and not force:
            raise ValidationError(
                f"prompt {self.name}:{version} carries label(s) {', '.join(carried)}; "
                "move or remove them first, or force the delete"
            )
        result = RemoveResult(self.name, version, removed_labels=carried)
        for label in carried:
            del self.labels[label]
        del self.versions[version]
        if not self.versions:
            result.prompt_removed = True
        elif entry.is_latest:
            heir = max(self.versions, key=lambda v: self.versions[v].sequence_number)
            self.versions[heir].is_latest = True
            result.promoted = heir
        return result

    def set_label(self, label: str, version: str) -> None:
        validate_label(label)
        self.entry(version)
        self.labels[label] = version

    def remove_label(self, label: str) -> str:
        try:
            return self.labels.pop(label)
        except KeyError:
            raise PromptNotFoundError(f"prompt {self.name} has no label {label!r}") from None

    def _clear_latest(self) -> None:
        for entry in self.versions.values():
            entry.is_latest = False
