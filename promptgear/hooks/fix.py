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
