"""What the SQLite and PostgreSQL stores share: the same version rules over SQL.

Each write runs in one transaction that serialises writers of the same prompt (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock on the name), loads
the prompt's :class:`Ledger`, applies one rule, and writes the result back. A dialect
subclass supplies connections, placeholders and the few statements that differ.
"""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from .errors import PromptAlreadyExistsError, PromptNotFoundError, ReadOnlyMirrorError
from .ledger import Ledger, RemoveResult, VersionEntry
from .metadata import format_timestamp, parse_timestamp
from .names import validate_label, validate_name, validate_version
from .store import (
    BackendBase,
    PromptRecord,
    checked_records,
    config_matches,
    content_hash,
    make_template,
    merged_content,
    new_content,
    search_score,
    search_terms,
)
from .template import PromptTemplate

SCHEMA_VERSION = 2  # 2: statement-level digest triggers on PostgreSQL
COLUMNS = (
    "name, version, system_prompt, user_prompt, config, sequence_number, is_latest, "
    "created_at, updated_at, description, tags"
)


_SELECTS: dict[tuple[type, str], str] = {}  # finished SELECT text per dialect and WHERE clause


def name_chunks(names: Sequence[str], size: int = 500) -> Iterator[tuple[list[str], str]]:
    """``names`` in slices within every driver's parameter limit, each with its ``?`` marks."""
    for start in range(0, len(names), size):
        chunk = list(names[start : start + size])
        yield chunk, ", ".join("?" * len(chunk))


class SQLStore(BackendBase):
    """A store over a SQL database; subclasses are dialects."""

    #: The SQL that lists a version's labels as one comma-joined string.
    labels_sql = ""

    # -- what a dialect provides ----------------------------------------------------------
    @abstractmethod
    def _connect(self, write: bool = False) -> contextlib.AbstractContextManager[Any]:
        """A context manager yielding a cursor inside one transaction, committed on success."""

    @abstractmethod
    def _lock_name(self, cur: Any, name: str) -> None:
        """Serialise writers of one prompt for the rest of the transaction."""

    @abstractmethod
    def _create_schema(self) -> None: ...

    def _q(self, sql: str) -> str:
        """Placeholders are written ``?``; a dialect may rewrite them."""
        return sql

    def _dump_config(self, config: dict[str, Any]) -> Any:
        return json.dumps(config, ensure_ascii=False, sort_keys=True)

    def _load_config(self, value: Any) -> dict[str, Any]:
        return json.loads(value) if isinstance(value, str) else dict(value or {})

    def _stamp(self, value: datetime) -> Any:
        return format_timestamp(value)

    # -- transactions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._connect() as cur:
            yield cur

    @contextlib.contextmanager
    def _write(self, name: str) -> Iterator[Any]:
        with self._connect(write=True) as cur:
            self._lock_name(cur, name)
            self._refuse_if_mirror(cur)
            yield cur
            self._changed(cur, [name])

    def _changed(self, cur: Any, names: list[str]) -> None:
        """Tell other readers these prompts changed (PostgreSQL: NOTIFY promptgear)."""

    def _fetch(self, sql: str, params: tuple[Any, ...] = (), one: bool = False, key: str | None = None) -> Any:
        """Run one read statement; a dialect may retry it on a fresh connection.

        ``key`` names a hot statement that a dialect may prepare once per connection.
        """
        with self._read() as cur:
            cur.execute(sql, params)
            return cur.fetchone() if one else cur.fetchall()

    def _refuse_if_mirror(self, cur: Any) -> None:
        cur.execute(self._q("SELECT value FROM promptgear_state WHERE key = ?"), ("mirror_of",))
        row = cur.fetchone()
        if row:
            raise ReadOnlyMirrorError(
                f"this database mirrors the prompt files in {row[0]} (promptgear sync); "
                "edit the files instead, and sync will bring the change here"
            )

    # -- rows <-> objects ---------------------------------------------------------------------
    def _row_template(self, row: Any) -> PromptTemplate:
        tags = row[10]
        return PromptTemplate(
            row[0],
            row[1],
            row[2],
            row[3],
            self._load_config(row[4]),
            row[5],
            bool(row[6]),
            parse_timestamp(row[7]),
            parse_timestamp(row[8]),
            row[9],
            (json.loads(tags) if isinstance(tags, str) else list(tags)) if tags else [],
            sorted(row[11].split(",")) if row[11] else [],
        )

    def _select(self, where: str) -> str:
        key = (type(self), where)
        sql = _SELECTS.get(key)
        if sql is None:
            sql = _SELECTS[key] = self._q(f"SELECT {COLUMNS}, {self.labels_sql} FROM prompts p WHERE {where}")
        return sql

    def _load_ledger(self, cur: Any, name: str) -> Ledger | None:
        cur.execute(self._q("SELECT next_sequence FROM prompt_metadata WHERE name = ?"), (name,))
        meta = cur.fetchone()
        cur.execute(
            self._q("SELECT version, sequence_number, is_latest, created_at, updated_at FROM prompts WHERE name = ?"),
            (name,),
        )
        rows = cur.fetchall()
        if not rows and not meta:
            return None
        versions = {
            row[0]: VersionEntry(row[1], bool(row[2]), parse_timestamp(row[3]), parse_timestamp(row[4])) for row in rows
        }
        cur.execute(self._q("SELECT label, version FROM prompt_labels WHERE name = ?"), (name,))
        labels = dict(cur.fetchall())
        highest = max((e.sequence_number for e in versions.values()), default=0)
        next_sequence = max(meta[0] if meta and meta[0] else 1, highest + 1)
        return Ledger(name, next_sequence, versions, labels)

    def _save_ledger(self, cur: Any, ledger: Ledger) -> None:
        """Bring the bookkeeping rows of a prompt in line with ``ledger``."""
        name = ledger.name
        latest = ledger.latest()
        # Only rows whose flag changes are touched, so no other timestamp moves.
        cur.execute(
            self._q("UPDATE prompts SET is_latest = FALSE WHERE name = ? AND is_latest AND version <> ?"),
            (name, latest or ""),
        )
        if latest is not None:
            cur.execute(
                self._q("UPDATE prompts SET is_latest = TRUE WHERE name = ? AND version = ? AND NOT is_latest"),
                (name, latest),
            )
        cur.execute(
            self._q(
                "INSERT INTO prompt_metadata (name, next_sequence) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET next_sequence = excluded.next_sequence"
            ),
            (name, ledger.next_sequence),
        )
        cur.execute(self._q("DELETE FROM prompt_labels WHERE name = ?"), (name,))
        if ledger.labels:
            cur.executemany(
                self._q("INSERT INTO prompt_labels (name, label, version) VALUES (?, ?, ?)"),
                [(name, label, version) for label, version in sorted(ledger.labels.items())],
            )

    def _content_params(self, content: dict[str, Any]) -> tuple[Any, ...]:
        return (
            content["system_prompt"],
            content["user_prompt"],
            self._dump_config(content.get("config") or {}),
            content.get("description"),
            json.dumps(content.get("tags") or []),
        )

    def _insert_version(self, cur: Any, name: str, version: str, entry: VersionEntry, content: dict[str, Any]) -> None:
        cur.execute(
            self._q(
                "INSERT INTO prompts (name, version, system_prompt, user_prompt, config, description, tags, "
                "sequence_number, is_latest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (name, version, *self._content_params(content), entry.sequence_number, entry.is_latest,
             self._stamp(entry.created_at), self._stamp(entry.updated_at)),
        )

    def _update_version(self, cur: Any, name: str, version: str, entry: VersionEntry, content: dict[str, Any]) -> None:
        cur.execute(
            self._q(
                "UPDATE prompts SET system_prompt = ?, user_prompt = ?, config = ?, description = ?, tags = ?, "
                "updated_at = ? WHERE name = ? AND version = ?"
            ),
            (*self._content_params(content), self._stamp(entry.updated_at), name, version),
        )

    # -- reads ---------------------------------------------------------------------------------
    def get_prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> PromptTemplate:
        validate_name(name)
        if version is not None and label is not None:
            from .errors import ValidationError

            raise ValidationError("give a version or a label, not both")
        if label is not None and label != "latest":
            validate_label(label)
            where = "name = ? AND version = (SELECT version FROM prompt_labels WHERE name = ? AND label = ?)"
            params: tuple[Any, ...] = (name, name, label)
            missing, key = f"prompt {name} has no label {label!r}", "get_label"
        elif version is None:
            where, params, missing, key = "name = ? AND is_latest", (name,), f"prompt {name} not found", "get_latest"
        else:
            validate_version(version)
            where, params = "name = ? AND version = ?", (name, version)
            missing, key = f"prompt {name}:{version} not found", "get_version"
        row = self._fetch(self._select(where), params, one=True, key=key)
        if row is None:
            raise PromptNotFoundError(missing)
        return self._row_template(row)

    def list_names(self) -> list[str]:
        return [row[0] for row in self._fetch("SELECT DISTINCT name FROM prompts ORDER BY name")]

    def history(self, name: str) -> list[PromptTemplate]:
        validate_name(name)
        rows = self._fetch(self._select("name = ?") + " ORDER BY sequence_number", (name,))
        if not rows:
            raise PromptNotFoundError(f"prompt {name} not found")
        return [self._row_template(row) for row in rows]

    def all_templates(self) -> list[PromptTemplate]:
        return [self._row_template(row) for row in self._fetch(self._select("TRUE") + " ORDER BY name, sequence_number")]

    def list_prompts(self, name: str | None = None, config_filter: dict[str, Any] | None = None) -> list[PromptTemplate]:
        if not config_filter:
            return super().list_prompts(name)
        where, params = self._config_filter_sql(config_filter)
        if name is not None:
            where, params = f"{where} AND name = ?", (*params, validate_name(name))
        rows = self._fetch(self._select(where) + " ORDER BY name, sequence_number", params)
        # The SQL narrows; the shared rule decides, so every backend answers the same.
        return [t for t in map(self._row_template, rows) if config_matches(t.config, config_filter)]

    @abstractmethod
    def _config_filter_sql(self, config_filter: dict[str, Any]) -> tuple[str, tuple[Any, ...]]: ...

    @abstractmethod
    def _search_sql(self, terms: list[str]) -> tuple[str, tuple[Any, ...]]: ...

    def search_prompts(self, query: str, limit: int | None = None) -> list[PromptTemplate]:
        terms = search_terms(query)
        where, params = self._search_sql(terms)
        matches = [self._row_template(row) for row in self._fetch(self._select(where), params)]
        # The index finds the matches; the shared scorer ranks them, the same on every backend.
        scored = sorted(
            ((search_score(t, terms), t) for t in matches),
            key=lambda item: (-item[0], item[1].name, item[1].sequence_number or 0),
        )
        results = [t for score, t in scored if score]
        return results[:limit] if limit else results

    def get_statistics(self) -> dict[str, Any]:
        with self._read() as cur:
            cur.execute("SELECT COUNT(DISTINCT name), COUNT(*) FROM prompts")
            names, versions = cur.fetchone()
            cur.execute("SELECT name, version, updated_at FROM prompts ORDER BY updated_at DESC, id DESC LIMIT 1")
            recent = cur.fetchone()
        return {
            "backend": self.backend_name,
            "total_prompts": names,
            "total_versions": versions,
            "most_recent": f"{recent[0]}:{recent[1]}" if recent else None,
            "most_recent_at": parse_timestamp(recent[2]).isoformat() if recent else None,
        }

    def peek_ledger(self, name: str) -> Ledger | None:
        validate_name(name)
        with self._read() as cur:
            return self._load_ledger(cur, name)

    def export_prompt(self, name: str) -> PromptRecord:
        validate_name(name)
        with self._read() as cur:
            ledger = self._load_ledger(cur, name)
            if ledger is None or not ledger.versions:
                raise PromptNotFoundError(f"prompt {name} not found")
            cur.execute(self._q(f"SELECT {COLUMNS}, '' FROM prompts p WHERE name = ?"), (name,))
            contents = {row[1]: self._row_template(row).content() for row in cur.fetchall()}
        return PromptRecord(ledger, contents)

    def export_all(self) -> list[PromptRecord]:
        """Every prompt in three queries (not three per prompt)."""
        with self._read() as cur:
            cur.execute(self._q(f"SELECT {COLUMNS}, '' FROM prompts p ORDER BY name, sequence_number"))
            rows = cur.fetchall()
            cur.execute("SELECT name, next_sequence FROM prompt_metadata")
            next_sequences = dict(cur.fetchall())
            cur.execute("SELECT name, label, version FROM prompt_labels")
            labels = cur.fetchall()
        records: dict[str, PromptRecord] = {}
        for row in rows:
            template = self._row_template(row)
            record = records.get(template.name)
            if record is None:
                record = records[template.name] = PromptRecord(Ledger(template.name))
            record.ledger.versions[template.version] = VersionEntry(
                template.sequence_number or 0, template.is_latest, template.created_at, template.updated_at  # type: ignore[arg-type]
            )
            record.contents[template.version] = template.content()
        for record in records.values():
            highest = max(e.sequence_number for e in record.ledger.versions.values())
            record.ledger.next_sequence = max(next_sequences.get(record.name) or 1, highest + 1)
        for name, label, version in labels:
            if name in records:
                records[name].ledger.labels[label] = version
        return [records[name] for name in sorted(records)]

    # -- writes -----------------------------------------------------------------------------------
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
        content = new_content(name, version, system_prompt, user_prompt, config, description, tags)
        with self._write(name) as cur:
            ledger = self._load_ledger(cur, name) or Ledger(name)
            existed = version in ledger.versions
            if existed and not overwrite:
                raise PromptAlreadyExistsError(
                    f"prompt {name}:{version} already exists; use overwrite=True (--overwrite) to replace it"
                )
            entry = ledger.add(version)
            self._save_ledger(cur, ledger)  # clears the old latest before the new row claims it
            if existed:
                self._update_version(cur, name, version, entry, content)
            else:
                self._insert_version(cur, name, version, entry, content)
        return make_template(ledger, version, content)

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
        validate_name(name)
        validate_version(version)
        with self._write(name) as cur:
            ledger = self._load_ledger(cur, name)
            if ledger is None:
                raise PromptNotFoundError(f"prompt {name} not found")
            ledger.entry(version)
            cur.execute(self._q(f"SELECT {COLUMNS}, '' FROM prompts p WHERE name = ? AND version = ?"), (name, version))
            current = self._row_template(cur.fetchone()).content()
            content = merged_content(
                current, system_prompt=system_prompt, user_prompt=user_prompt, config=config,
                description=description, tags=tags,
            )
            entry = ledger.touch(version)
            self._update_version(cur, name, version, entry, content)
        return make_template(ledger, version, content)

    def _apply(self, name: str, rule: Any) -> tuple[Ledger, Any]:
        """Run ``rule(ledger)`` inside a write transaction and save the ledger."""
        validate_name(name)
        with self._write(name) as cur:
            ledger = self._load_ledger(cur, name)
            if ledger is None or not ledger.versions:
                raise PromptNotFoundError(f"prompt {name} not found")
            result = rule(ledger, cur)
            if ledger.versions:
                self._save_ledger(cur, ledger)
            else:  # the last version went: the prompt goes, and its sequence starts over
                self._delete_names(cur, [name])
        return ledger, result

    def delete_prompt(self, name: str, version: str, force: bool = False) -> RemoveResult:
        validate_version(version)

        def rule(ledger: Ledger, cur: Any) -> RemoveResult:
            result = ledger.remove(version, force=force)
            cur.execute(self._q("DELETE FROM prompts WHERE name = ? AND version = ?"), (name, version))
            return result

        _, result = self._apply(name, rule)
        return result  # type: ignore[no-any-return]

    def promote_prompt(self, name: str, version: str) -> PromptTemplate:
        validate_version(version)
        self._apply(name, lambda ledger, cur: ledger.promote(version))
        return self.get_prompt(name, version)

    def set_label(self, name: str, version: str, label: str) -> PromptTemplate:
        validate_version(version)
        validate_label(label)
        self._apply(name, lambda ledger, cur: ledger.set_label(label, version))
        return self.get_prompt(name, version)

    def remove_label(self, name: str, label: str) -> str:
        _, version = self._apply(name, lambda ledger, cur: ledger.remove_label(label))
        return version  # type: ignore[no-any-return]

    def import_prompts(self, records: Iterable[PromptRecord], overwrite: bool = False) -> int:
        records = checked_records(records)
        with self._connect(write=True) as cur:
            self._refuse_if_mirror(cur)
            count = self._import(cur, records, overwrite)
            self._changed(cur, [r.name for r in records])
            return count

    def _import(self, cur: Any, records: list[PromptRecord], overwrite: bool, source_commit: str | None = None,
                digests: dict[str, str] | None = None, hashes: dict[str, dict[str, str]] | None = None) -> int:
        """Write whole prompts in the caller's transaction (import, migrate, sync).

        ``hashes`` (name -> version -> content hash) saves hashing what sync already hashed.
        """
        names = [record.name for record in records]
        if not names:
            return 0
        existing = self._existing_names(cur, names)
        if existing and not overwrite:
            shown = ", ".join(sorted(existing)[:5])
            raise PromptAlreadyExistsError(f"prompt(s) already exist: {shown}; use overwrite to replace them")
        self._delete_names(cur, sorted(existing | set(names)))
        rows: list[tuple[Any, ...]] = []
        metas: list[tuple[Any, ...]] = []
        labels: list[tuple[Any, ...]] = []
        for record in records:
            ledger = record.ledger
            for version, entry in ledger.versions.items():
                content = record.contents[version]
                known = hashes.get(ledger.name, {}).get(version) if hashes else None
                rows.append(
                    (ledger.name, version, *self._content_params(content), entry.sequence_number,
                     entry.is_latest, self._stamp(entry.created_at), self._stamp(entry.updated_at),
                     known or content_hash(content), source_commit)
                )
            metas.append((ledger.name, ledger.next_sequence, digests.get(ledger.name) if digests else None))
            labels.extend((ledger.name, label, version) for label, version in ledger.labels.items())
        self._insert_many(cur, rows, metas, labels)
        return len(rows)

    def _existing_names(self, cur: Any, names: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk, marks in name_chunks(names):
            cur.execute(self._q(f"SELECT DISTINCT name FROM prompt_metadata WHERE name IN ({marks})"), chunk)
            found.update(row[0] for row in cur.fetchall())
        return found

    def _delete_names(self, cur: Any, names: list[str]) -> None:
        for chunk, marks in name_chunks(names):
            for table in ("prompt_labels", "prompts", "prompt_metadata"):
                cur.execute(self._q(f"DELETE FROM {table} WHERE name IN ({marks})"), chunk)

    def _insert_many(self, cur: Any, rows: list[tuple[Any, ...]], metas: list[tuple[Any, ...]], labels: list[tuple[Any, ...]]) -> None:
        cur.executemany(
            self._q(
                "INSERT INTO prompts (name, version, system_prompt, user_prompt, config, description, tags, "
                "sequence_number, is_latest, created_at, updated_at, content_hash, source_commit) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            rows,
        )
        cur.executemany(self._q("INSERT INTO prompt_labels (name, label, version) VALUES (?, ?, ?)"), labels)
        # Last, digests included: the digest-clearing triggers on the rows above found nothing to clear.
        cur.executemany(self._q("INSERT INTO prompt_metadata (name, next_sequence, digest) VALUES (?, ?, ?)"), metas)
