"""The integrity invariants of DESIGN.md section 1, checked over any snapshot.

Each problem is one ``path: what is wrong (how to fix)`` line.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError, ValidationError
from ..filecache import FileCache
from ..metadata import ledger_from_dict
from ..names import validate_name, validate_version
from ..versionfile import check_content, load_yaml
from .snapshot import Entry, Snapshot

METADATA = ".metadata.json"
EXTENSIONS = (".yaml", ".yml")
LATEST = ("latest.yaml", "latest.yml")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def check_tree(snapshot: Snapshot, names: list[str] | None = None, policy: dict[str, Any] | None = None,
               before: Snapshot | None = None, cache: FileCache | None = None) -> list[Problem]:
    """Check ``names`` (every prompt folder when None) of ``snapshot``.

    ``before`` (the HEAD commit) enables the policies: ``immutable_versions`` rejects a
    changed version that exists there; ``protected_labels`` rejects moving a protected
    label onto a version created in the same change. ``cache`` remembers each version
    file's verdict by content identity (blob id, or stat key), so unchanged files are
    not parsed again.
    """
    problems: list[Problem] = []
    wanted = sorted(set(snapshot.names() if names is None else names))
    snapshot.prefetch(_needed(snapshot, wanted, cache))
    for name in wanted:
        problems += check_prompt(snapshot, name, policy or {}, before, cache)
    return problems


def _needed(snapshot: Snapshot, names: list[str], cache: FileCache | None) -> list[Entry]:
    """The files the checks will read: everything but version files with a cached verdict."""
    needed = []
    for name in names:
        if snapshot.kind(name) != "dir":
            continue
        folder = posixpath.join(snapshot.label, name)
        for file_name, entry in snapshot.entries(name).items():
            if entry.kind == "dir":
                continue
            if cache is not None and file_name.endswith(EXTENSIONS) and file_name not in LATEST:
                key = snapshot.cache_key(entry)
                if key is not None and cache.lookup(posixpath.join(folder, file_name), key) is not None:
                    continue
            needed.append(entry)
    return needed


def _verdict(snapshot: Snapshot, entry: Entry, path: str, name: str, version: str, cache: FileCache | None) -> str:
    """"" if the version file is valid, else what is wrong; cached by content identity."""
    key = snapshot.cache_key(entry) if cache is not None else None
    if key is not None:
        hit = cache.lookup(path, key)  # type: ignore[union-attr]
        if hit is not None:
            return str(hit)
    try:
        check_content(load_yaml(snapshot.read(entry), path), path, name, version)
        verdict = ""
    except IntegrityError as exc:
        verdict = str(exc).split(": ", 1)[1] + " (fix the file)"
    if key is not None:
        cache.store(path, key, verdict)  # type: ignore[union-attr]
    return verdict


def check_prompt(snapshot: Snapshot, name: str, policy: dict[str, Any], before: Snapshot | None,
                 cache: FileCache | None = None) -> list[Problem]:
    folder = posixpath.join(snapshot.label, name)
    kind = snapshot.kind(name)
    if kind is None:
        return []
    if kind == "symlink":
        return [Problem(folder, "is a symlink; prompt folders must be real folders (replace it with the folder)")]
    if kind == "file":
        return [Problem(folder, "a file at the top of the prompt folder; only prompt folders belong here")]
    problems: list[Problem] = []
    try:
        validate_name(name)
    except ValidationError as exc:
        problems.append(Problem(folder, f"{exc} (rename the folder)"))
        return problems
    entries = snapshot.entries(name)
    versions: set[str] = set()
    for file_name, entry in sorted(entries.items()):
        path = posixpath.join(folder, file_name)
        if file_name in LATEST or file_name == METADATA:
            continue
        if entry.kind == "symlink":
            problems.append(Problem(path, "a symlink; only latest.yaml may be one (replace it with a file)"))
            continue
        if entry.kind == "dir":
            problems.append(Problem(path, "a folder inside a prompt folder (move it out)"))
            continue
        if not file_name.endswith(EXTENSIONS) or file_name.startswith("."):
            continue  # editor temp files and other non-YAML files are ignored
        version = file_name.rsplit(".", 1)[0]
        try:
            validate_version(version)
        except ValidationError as exc:
            problems.append(Problem(path, f"{exc} (rename the file)"))
            continue
        verdict = _verdict(snapshot, entry, path, name, version, cache)
        if verdict:
            problems.append(Problem(path, verdict))
        else:
            versions.add(version)
    problems += _check_metadata(snapshot, name, folder, entries, versions)
    if before is not None and policy:
        problems += _check_policy(snapshot, before, name, folder, versions, policy)
    return problems


def _ledger(snapshot: Snapshot, name: str, folder: str, entries: dict[str, Entry]) -> Any:
    entry = entries.get(METADATA)
    path = posixpath.join(folder, METADATA)
    if entry is None:
        return None, Problem(path, f"missing (run 'promptgear fix {name}')")
    if entry.kind != "file":
        return None, Problem(path, "must be a regular file, not a symlink")
    raw = snapshot.read(entry)
    if b"<<<<<<<" in raw:
        return None, Problem(path, f"has merge conflict markers (run 'promptgear fix {name}')")
    try:
        return ledger_from_dict(json.loads(raw), name, path), None
    except ValueError as exc:
        return None, Problem(path, f"not valid JSON ({exc}) (run 'promptgear fix {name}')")
    except IntegrityError as exc:
        return None, Problem(path, str(exc).split(": ", 1)[1])


def _check_metadata(snapshot: Snapshot, name: str, folder: str, entries: dict[str, Entry],
                    versions: set[str]) -> list[Problem]:
    ledger, problem = _ledger(snapshot, name, folder, entries)
    if problem is not None:
        return [problem]
    problems = []
    meta_path = posixpath.join(folder, METADATA)
    files = {v for v, e in entries.items() if e.kind == "file" and v.endswith(EXTENSIONS) and not v.startswith(".")
             and v not in LATEST}
    ext = ".yml" if any(f.endswith(".yml") for f in files) else ".yaml"
    file_versions = {f.rsplit(".", 1)[0] for f in files}
    for version in sorted(file_versions - set(ledger.versions)):
        problems.append(Problem(posixpath.join(folder, version + ext),
                                f"not registered in {METADATA} (run 'promptgear fix {name}')"))
    for version in sorted(set(ledger.versions) - file_versions):
        problems.append(Problem(meta_path, f"registers {version}, but {version}{ext} is missing "
                                           f"(restore the file, or run 'promptgear fix {name}')"))
    sequences: dict[int, list[str]] = {}
    for version, entry in ledger.versions.items():
        sequences.setdefault(entry.sequence_number, []).append(version)
        if entry.sequence_number < 1:
            problems.append(Problem(meta_path, f"{version} has sequence number {entry.sequence_number}; must be positive"))
    for number, owners in sorted(sequences.items()):
        if len(owners) > 1:
            problems.append(Problem(meta_path, f"sequence number {number} is used by {', '.join(sorted(owners))}; "
                                               "each version needs its own"))
    latest = sorted(v for v, e in ledger.versions.items() if e.is_latest)
    if ledger.versions and len(latest) != 1:
        what = "no version is" if not latest else f"{len(latest)} versions are ({', '.join(latest)})"
        problems.append(Problem(meta_path, f"{what} latest; exactly one must be (promptgear promote {name} VERSION)"))
    for label, target in sorted(ledger.labels.items()):
        if target not in ledger.versions:
            problems.append(Problem(meta_path, f"label {label} points at {target}, which does not exist"))
    problems += _check_latest_link(snapshot, name, folder, entries, latest[0] if len(latest) == 1 else None, ext)
    return problems


def _check_latest_link(snapshot: Snapshot, name: str, folder: str, entries: dict[str, Entry], latest: str | None,
                       ext: str) -> list[Problem]:
    link_name = "latest" + ext
    entry = entries.get(link_name)
    path = posixpath.join(folder, link_name)
    if latest is None:
        return []
    if entry is None:
        return [Problem(path, f"missing (run 'promptgear fix {name}')")]
    if entry.kind == "symlink":
        target = snapshot.read(entry).decode(errors="replace")
        if target.startswith("/") or "/" in target or target in (".", ".."):
            return [Problem(path, f"points at {target}, outside the prompt folder (run 'promptgear fix {name}')")]
        if target != latest + ext:
            return [Problem(path, f"points at {target}, but the latest version is {latest} "
                                  f"(run 'promptgear fix {name}')")]
        return []
    version_entry = entries.get(latest + ext)
    if version_entry is None or snapshot.read(entry) != snapshot.read(version_entry):
        return [Problem(path, f"is not a copy of the latest version {latest} (run 'promptgear fix {name}')")]
    return []


def _check_policy(snapshot: Snapshot, before: Snapshot, name: str, folder: str, versions: set[str],
                  policy: dict[str, Any]) -> list[Problem]:
    problems = []
    old_entries = before.entries(name)
    entries = snapshot.entries(name)
    if policy.get("immutable_versions"):
        for version in sorted(versions):
            ext_now = ".yml" if version + ".yml" in entries else ".yaml"
            content = check_content(load_yaml(snapshot.read(entries[version + ext_now]), version), version)
            for ext in EXTENSIONS:
                old = old_entries.get(version + ext)
                if old is None:
                    continue
                try:
                    previous = check_content(load_yaml(before.read(old), version), version)
                except IntegrityError:
                    continue
                if _content(previous) != _content(content):
                    problems.append(Problem(posixpath.join(folder, version + ext),
                                            "changes a published version; publish a new version instead"))
    protected = set(policy.get("protected_labels") or [])
    if protected:
        new_ledger, _ = _ledger(snapshot, name, folder, snapshot.entries(name))
        old_ledger, _ = _ledger(before, name, folder, old_entries) if METADATA in old_entries else (None, None)
        old_versions = set(old_ledger.versions) if old_ledger else set()
        old_labels = old_ledger.labels if old_ledger else {}
        if new_ledger is not None:
            for label in sorted(protected & set(new_ledger.labels)):
                target = new_ledger.labels[label]
                if old_labels.get(label) != target and target not in old_versions:
                    problems.append(Problem(posixpath.join(folder, METADATA),
                                            f"moves protected label {label} to {target}, created in the same commit; "
                                            "commit the version first, then move the label in its own commit"))
    return problems


def _content(content: dict[str, Any]) -> tuple[Any, ...]:
    return (content["system_prompt"], content["user_prompt"], json.dumps(content.get("config") or {}, sort_keys=True),
            content.get("description"), tuple(content.get("tags") or []))
