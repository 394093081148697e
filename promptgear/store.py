"""The store interface every backend implements, and the behaviour they share.

A backend implements the abstract methods; everything else (latest, existence, listing,
config filters, search by scan, statistics, health) is written here once.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import PromptGearError, PromptNotFoundError, ValidationError
from .ledger import Ledger, RemoveResult
from .names import validate_name, validate_version
from .template import PromptTemplate


@dataclass
class PromptRecord:
    """A whole prompt: its ledger and the content of each version (full-fidelity export)."""

    ledger: Ledger
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ledger.name

    def templates(self) -> list[PromptTemplate]:
        return [make_template(self.ledger, version, self.contents[version]) for version in self.ledger.ordered()]


def checked_records(records: Iterable[PromptRecord]) -> list[PromptRecord]:
    """Validate records before an import writes anything; records without versions are skipped."""
    checked = []
    for record in records:
        ledger = record.ledger
        validate_name(ledger.name)
        if not ledger.versions:
            continue
        for version in ledger.versions:
            validate_version(version)
            if version not in record.contents:
                raise ValidationError(f"import of {ledger.name}: version {version} has no content")
        latest = [v for v, entry in ledger.versions.items() if entry.is_latest]
        if len(latest) != 1:
            raise ValidationError(f"import of {ledger.name}: {len(latest)} latest versions, expected exactly one")
        sequences = [entry.sequence_number for entry in ledger.versions.values()]
        if len(set(sequences)) != len(sequences) or max(sequences) >= ledger.next_sequence or min(sequences) < 1:
            raise ValidationError(f"import of {ledger.name}: sequence numbers must be unique, positive and below next_sequence")
        for label, target in ledger.labels.items():
            if target not in ledger.versions:
                raise ValidationError(f"import of {ledger.name}: label {label} points at missing version {target}")
        checked.append(record)
    return checked


def plain_copy(value: Any) -> Any:
    """A deep copy of JSON-like data, fast enough for the read path."""
    if type(value) is dict:
        return {key: plain_copy(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
    if type(value) is list:
        return [plain_copy(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = (dict, list)


def make_template(ledger: Ledger, version: str, content: dict[str, Any]) -> PromptTemplate:
    entry = ledger.versions[version]
    config = content.get("config")
    tags = content.get("tags")
    return PromptTemplate(
        ledger.name,
        version,
        content["system_prompt"],
        content["user_prompt"],
        plain_copy(config) if config else {},
        entry.sequence_number,
        entry.is_latest,
        entry.created_at,
        entry.updated_at,
        content.get("description"),
        list(tags) if tags else [],
        ledger.labels_of(version),
    )


def new_content(
    name: str,
    version: str,
    system_prompt: Any,
    user_prompt: Any,
    config: Any = None,
    description: Any = None,
    tags: Any = None,
) -> dict[str, Any]:
    """Validate the content of a version before anything is written."""
    validate_name(name)
    validate_version(version)
    for label, value in (("system_prompt", system_prompt), ("user_prompt", user_prompt)):
        if not isinstance(value, str):
            raise ValidationError(f"{label} must be a string, not {type(value).__name__}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationError(f"config must be a mapping, not {type(config).__name__}")
    if description is not None and not isinstance(description, str):
        raise ValidationError("description must be a string")
    tags = list(tags or [])
    if not all(isinstance(tag, str) for tag in tags):
        raise ValidationError("tags must be strings")
    return {
        "name": name,
        "version": version,
        "system_prompt": system_prompt,
        "user_prompt": user_prompt,
        "config": plain_copy(config),
        "description": description,
        "tags": tags,
    }


def merged_content(current: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``current`` with the non-None ``changes`` applied, validated."""
    values = {key: value for key, value in changes.items() if value is not None}
    merged = {**current, **values}
    return new_content(
        merged["name"],
        merged["version"],
        merged["system_prompt"],
        merged["user_prompt"],
        merged.get("config"),
        merged.get("description"),
        merged.get("tags"),
    )


def config_matches(config: Any, wanted: Any) -> bool:
    """JSON containment, as PostgreSQL's ``@>``: every key/value of ``wanted`` is in ``config``."""
    if isinstance(wanted, dict):
        return isinstance(config, dict) and all(
            key in config and config_matches(config[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(config, list) and all(any(config_matches(c, w) for c in config) for w in wanted)
    if isinstance(wanted, bool) or isinstance(config, bool):
        return type(config) is type(wanted) and config == wanted
    return bool(config == wanted)


WORD = re.compile(r"\w+")


def search_terms(query: str) -> list[str]:
    """Lower-cased words of a query; every one must start a word of the prompt."""
    terms = [term.lower() for term in WORD.findall(query)]
    if not terms:
        raise ValidationError("search query has no words")
    return terms


def search_score(template: PromptTemplate, terms: list[str]) -> int:
    """How many words of the prompt match the terms (0 unless every term matches)."""
    words = [word.lower() for word in WORD.findall(" ".join((template.name, template.system_prompt, template.user_prompt)))]
    score = 0
    for term in terms:
        hits = sum(1 for word in words if word.startswith(term))
        if not hits:
            return 0
        score += hits
    return score


class BackendBase(ABC):
    """A store of versioned prompts. Subclasses implement the abstract methods."""

    backend_name: ClassVar[str] = ""

    # -- what a backend must implement ---------------------------------------------
    @abstractmethod
    def get_prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> PromptTemplate:
        """One version (the latest when neither version nor label is given)."""

    @abstractmethod
    def list_names(self) -> list[str]:
        """Every prompt name, sorted."""

    @abstractmethod
    def history(self, name: str) -> list[PromptTemplate]:
        """Every version of a prompt, by sequence number."""

    @abstractmethod
    def create_prompt(
        self,
        name: str,
        version: str,
        system_prompt: str,
        user_prompt: str,
        config: dict[str, Any] | None = None,
        overwrite: bool = False,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> PromptTemplate:
        """Add a version; it becomes the latest."""

    @abstractmethod
    def update_prompt(
        self,
        name: str,
        version: str,
        system_prompt: str | None = None,
        user_prompt: str | None = None,
        config: dict[str, Any] | None = None,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> PromptTemplate:
        """Change a version's content in place; its sequence number stays."""

    @abstractmethod
    def delete_prompt(self, name: str, version: str, force: bool = False) -> RemoveResult:
        """Delete a version; the highest remaining sequence is promoted if it was latest."""

    @abstractmethod
    def promote_prompt(self, name: str, version: str) -> PromptTemplate:
        """Make an existing version the latest (rollback)."""

    @abstractmethod
    def set_label(self, name: str, version: str, label: str) -> PromptTemplate:
        """Point ``label`` at ``version`` (moving it if it pointed elsewhere)."""

    @abstractmethod
    def remove_label(self, name: str, label: str) -> str:
        """Remove a label; returns the version it pointed at."""

    @abstractmethod
    def export_prompt(self, name: str) -> PromptRecord:
        """The whole prompt, bookkeeping included."""

    @abstractmethod
    def import_prompts(self, records: Iterable[PromptRecord], overwrite: bool = False) -> int:
        """Store whole prompts as they are (sequence numbers, latest, timestamps, labels)."""

    @abstractmethod
    def peek_ledger(self, name: str) -> Ledger | None:
        """The prompt's bookkeeping as stored now, or None if it does not exist."""

    def next_version_name(self, name: str) -> str:
        """``v<next sequence number>``, skipping names already taken: a default that never collides."""
        validate_name(name)
        ledger = self.peek_ledger(name)
        number = ledger.next_sequence if ledger else 1
        while ledger and f"v{number}" in ledger.versions:
            number += 1
        return f"v{number}"

    def describe(self) -> str:
        """Where the store lives, safe to print (no password)."""
        return self.backend_name

    def initialize(self) -> None:
        """Create what the store needs (folders, schema). Idempotent."""

    def close(self) -> None:
        """Release connections and handles."""

    # -- shared behaviour -------------------------------------------------------------
    def get_latest_prompt(self, name: str) -> PromptTemplate:
        return self.get_prompt(name)

    def prompt_exists(self, name: str, version: str | None = None) -> bool:
        try:
            self.get_prompt(name, version)
        except PromptNotFoundError:
            return False
        return True

    def list_versions(self, name: str) -> list[str]:
        """Version names by sequence number (empty if the prompt does not exist)."""
        try:
            return [template.version for template in self.history(name)]
        except PromptNotFoundError:
            return []

    def list_prompts(self, name: str | None = None, config_filter: dict[str, Any] | None = None) -> list[PromptTemplate]:
        """Every version (of one prompt, if ``name``), optionally filtered by config containment."""
        if name is not None:
            try:
                templates = self.history(name)
            except PromptNotFoundError:
                templates = []
        else:
            templates = self.all_templates()
        if config_filter:
            templates = [t for t in templates if config_matches(t.config, config_filter)]
        return templates

    def all_templates(self) -> list[PromptTemplate]:
        templates: list[PromptTemplate] = []
        for name in self.list_names():
            templates.extend(self.history(name))
        return templates

    def search_prompts(self, query: str, limit: int | None = None) -> list[PromptTemplate]:
        """Versions whose name or prompts contain every word of ``query`` (as word prefixes),
        best match first."""
        terms = search_terms(query)
        scored = [(search_score(t, terms), t) for t in self.all_templates()]
        ranked = sorted(
            ((score, t) for score, t in scored if score),
            key=lambda item: (-item[0], item[1].name, item[1].sequence_number or 0),
        )
        results = [t for _, t in ranked]
        return results[:limit] if limit else results

    def get_statistics(self) -> dict[str, Any]:
        """Totals: ``total_prompts`` (names), ``total_versions``, ``most_recent`` version."""
        templates = self.all_templates()
        stamped = [t for t in templates if (t.updated_at or t.created_at) is not None]
        recent = max(stamped, key=lambda t: t.updated_at or t.created_at, default=None)  # type: ignore[arg-type, return-value]
        return {
            "backend": self.backend_name,
            "total_prompts": len({t.name for t in templates}),
            "total_versions": len(templates),
            "most_recent": f"{recent.name}:{recent.version}" if recent else None,
            "most_recent_at": (recent.updated_at.isoformat() if recent and recent.updated_at else None),
        }

    def health_check(self) -> dict[str, Any]:
        """``{"status": "healthy"|"unhealthy", ...}`` without raising."""
        try:
            names = self.list_names()
        except PromptGearError as exc:
            return {"status": "unhealthy", "backend": self.backend_name, "location": self.describe(), "error": str(exc)}
        return {"status": "healthy", "backend": self.backend_name, "location": self.describe(), "prompts": len(names)}

    def export_all(self) -> list[PromptRecord]:
        return [self.export_prompt(name) for name in self.list_names()]

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of the mirrored content fields in canonical JSON."""
    canonical = json.dumps(
        [content["system_prompt"], content["user_prompt"], content.get("config") or {},
         content.get("description"), list(content.get("tags") or [])],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
