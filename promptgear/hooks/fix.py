"""``promptgear fix``: repair a prompt folder without losing content.

Under the prompt's lock: leftover temp files go, an interrupted delete is finished or
rolled back, unregistered version files are registered (next sequence numbers, oldest
first, the newest becomes latest), a missing or unreadable ``.metadata.json`` is rebuilt
from the files (or merged from the git index stages after a conflicted merge), and
``latest.yaml`` is made to point at the latest version.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from ..atomic import TEMP_SUFFIX, swap_symlink, write_atomic
from ..errors import IntegrityError
from ..filesystem_backend import METADATA, TOMBSTONE, FilesystemBackend
from ..ledger import Ledger, VersionEntry
from ..metadata import ledger_from_dict, parse_timestamp, render_metadata
from ..versionfile import load_yaml, parse_version
from .merge import merge_ledgers


def fix_prompt(store: FilesystemBackend, name: str, dry_run: bool = False) -> list[str]:
    """Repair one prompt; returns one line per repair (made, or to make with ``dry_run``)."""
    folder = store.folder(name)
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    repairs: list[str] = []
    rel = os.path.relpath(folder)
    ext = store.file_extension
    with store._locked(name):
        entries = {e.name: e for e in os.scandir(folder)}
        for file_name in sorted(entries):
            if file_name.startswith(".") and file_name.endswith(TEMP_SUFFIX):
                repairs.append(f"{rel}/{file_name}: removed a leftover temp file")
                if not dry_run:
                    os.unlink(entries[file_name].path)
        ledger, how = _read_or_rebuild(store, name, folder, entries, repairs)
        files = _version_files(folder, entries, ext)
        for version in sorted(set(ledger.versions) - set(files)):
            tomb = os.path.join(folder, f".{version}{ext}{TOMBSTONE}")
            if os.path.exists(tomb):
                repairs.append(f"{rel}/{version}{ext}: restored from an interrupted delete")
                if not dry_run:
                    os.replace(tomb, os.path.join(folder, version + ext))
                files[version] = os.path.join(folder, version + ext)
            else:
                repairs.append(f"{rel}/{METADATA}: dropped {version}, whose file is gone")
                del ledger.versions[version]
        for file_name in sorted(entries):
            if file_name.startswith(".") and file_name.endswith(TOMBSTONE) and file_name[1:-len(TOMBSTONE)][: -len(ext)] not in ledger.versions:
                repairs.append(f"{rel}/{file_name}: finished an interrupted delete")
                if not dry_run:
                    os.unlink(entries[file_name].path)
        unregistered = [v for v in files if v not in ledger.versions]
        for version in sorted(unregistered, key=lambda v: (os.stat(files[v]).st_mtime_ns, v)):
            try:
                parse_version(open(files[version], "rb").read(), files[version], name, version)
            except IntegrityError as exc:
                repairs.append(f"{exc} (not registered: fix the file, then run fix again)")
                continue
            stamp = datetime.fromtimestamp(os.stat(files[version]).st_mtime, timezone.utc)
            ledger.versions[version] = VersionEntry(ledger.next_sequence, False, stamp, stamp)
            ledger.next_sequence += 1
            repairs.append(f"{rel}/{version}{ext}: registered as sequence {ledger.versions[version].sequence_number}")
            _make_latest(ledger, version)
        _repair_rules(ledger, rel, repairs)
        if ledger.versions and (repairs or how):
            if not dry_run:
                write_atomic(os.path.join(folder, METADATA), render_metadata(ledger))
        latest = ledger.latest()
        link = os.path.join(folder, "latest" + ext)
        if latest is not None and (not os.path.islink(link) or os.readlink(link) != latest + ext):
            repairs.append(f"{rel}/latest{ext}: now points at {latest}{ext}")
            if not dry_run:
                swap_symlink(link, latest + ext)
        if not dry_run:
            repairs += _stage_resolved(store, name, [METADATA, "latest" + ext])
    return repairs


def _stage_resolved(store: FilesystemBackend, name: str, files: list[str]) -> list[str]:
    """After a conflicted merge: stage the files fix resolved, so 'git commit' can go on."""
    folder = store.folder(name)
    from ..project import find_git_root

    if find_git_root(store.prompt_dir) is None:
        return []
    try:
        from .snapshot import open_repo

        repo = open_repo(store.prompt_dir)
        conflicted = {line.split("\t", 1)[1] for line in repo.git.ls_files("-u", "--", folder).splitlines()}
        resolved = sorted(p for p in conflicted if os.path.basename(p) in files)
        if resolved:
            repo.git.add("--", *resolved)
        return [f"{p}: merge conflict resolved and staged" for p in resolved]
    except Exception:
        return []


def _version_files(folder: str, entries: dict[str, os.DirEntry[str]], ext: str) -> dict[str, str]:
    return {n[: -len(ext)]: e.path for n, e in entries.items()
            if n.endswith(ext) and not n.startswith(".") and n != "latest" + ext and e.is_file(follow_symlinks=False)}


def _make_latest(ledger: Ledger, version: str) -> None:
    for entry in ledger.versions.values():
        entry.is_latest = False
    ledger.versions[version].is_latest = True


def _read_or_rebuild(store: FilesystemBackend, name: str, folder: str, entries: dict[str, Any],
                     repairs: list[str]) -> tuple[Ledger, bool]:
    """The ledger from .metadata.json, or merged from a conflicted merge, or rebuilt from the files."""
    path = os.path.join(folder, METADATA)
    rel = os.path.relpath(path)
    if METADATA in entries:
        raw = open(path, "rb").read()
        try:
            return ledger_from_dict(json.loads(raw), name, path), False
        except (ValueError, IntegrityError):
            merged = _from_merge_stages(store, name)
            if merged is not None:
                repairs.append(f"{rel}: resolved the merge conflict (union of both sides)")
                return merged, True
            repairs.append(f"{rel}: unreadable; rebuilt from the version files")
    else:
        repairs.append(f"{rel}: missing; rebuilt from the version files")
    return _rebuild(folder, name, store.file_extension), True


def _from_merge_stages(store: FilesystemBackend, name: str) -> Ledger | None:
    try:
        from .snapshot import open_repo, prompt_rel

        repo = open_repo(store.prompt_dir)
        path = f"{prompt_rel(repo, store.prompt_dir)}/{name}/{METADATA}".lstrip("./")
        stages: dict[str, Ledger] = {}
        for line in repo.git.ls_files("-u", "--", path).splitlines():
            meta, _ = line.split("\t", 1)
            _, sha, stage = meta.split()
            data = json.loads(repo.odb.stream(bytes.fromhex(sha)).read())
            stages[stage] = ledger_from_dict(data, name, path)
    except Exception:
        return None
    if "2" not in stages or "3" not in stages:
        return None
    merged, conflicts = merge_ledgers(stages.get("1"), stages["2"], stages["3"])
    return None if conflicts else merged


def _rebuild(folder: str, name: str, ext: str) -> Ledger:
    """A ledger from the files alone: the seed's bookkeeping inside them when present, else file times."""
    ledger = Ledger(name)
    found = []
    for file_name in os.listdir(folder):
        if not file_name.endswith(ext) or file_name.startswith(".") or file_name == "latest" + ext:
            continue
        path = os.path.join(folder, file_name)
        try:
            data = load_yaml(open(path, "rb").read(), path)
            parse_version(open(path, "rb").read(), path, name, file_name[: -len(ext)])
        except IntegrityError:
            continue
        st = os.stat(path)
        created = parse_timestamp(data["created_at"]) if data.get("created_at") else \
            datetime.fromtimestamp(st.st_mtime, timezone.utc)
        order = data.get("sequence_number") if isinstance(data.get("sequence_number"), int) else None
        found.append((order if order is not None else 10**9, st.st_mtime_ns, file_name[: -len(ext)], created,
                      bool(data.get("is_latest"))))
    found.sort()
    seed_latest = [f[2] for f in found if f[4]]
    for order, _, version, created, _ in found:
        number = order if order < 10**9 and order not in {e.sequence_number for e in ledger.versions.values()} \
            else max([0, *(e.sequence_number for e in ledger.versions.values())]) + 1
        ledger.versions[version] = VersionEntry(number, False, created, created)
    if ledger.versions:
        ledger.next_sequence = max(e.sequence_number for e in ledger.versions.values()) + 1
        latest = seed_latest[0] if len(seed_latest) == 1 else max(ledger.versions, key=lambda v: ledger.versions[v].sequence_number)
        _make_latest(ledger, latest)
    return ledger


def _repair_rules(ledger: Ledger, rel: str, repairs: list[str]) -> None:
    """Duplicate sequences renumbered, one latest, labels on existing versions."""
    seen: dict[int, str] = {}
    for version in sorted(ledger.versions, key=lambda v: (ledger.versions[v].sequence_number, ledger.versions[v].created_at, v)):
        entry = ledger.versions[version]
        if entry.sequence_number in seen or entry.sequence_number < 1:
            old = entry.sequence_number
            entry.sequence_number = max([ledger.next_sequence, *(e.sequence_number + 1 for e in ledger.versions.values())])
            repairs.append(f"{rel}/{METADATA}: {version} renumbered from {old} to {entry.sequence_number}")
        seen[entry.sequence_number] = version
    if ledger.versions:
        ledger.next_sequence = max(ledger.next_sequence, *(e.sequence_number + 1 for e in ledger.versions.values()))
        latest = [v for v, e in ledger.versions.items() if e.is_latest]
        if len(latest) != 1:
            pick = max(latest or ledger.versions, key=lambda v: ledger.versions[v].sequence_number)
            _make_latest(ledger, pick)
            repairs.append(f"{rel}/{METADATA}: {pick} is now the one latest version")
    for label, target in sorted(ledger.labels.items()):
        if target not in ledger.versions:
            del ledger.labels[label]
            repairs.append(f"{rel}/{METADATA}: removed label {label}, which pointed at missing {target}")
