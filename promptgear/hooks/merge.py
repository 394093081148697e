"""Three-way merge of ``.metadata.json``: two branches that each added versions merge cleanly.

Union of versions; sequence numbers kept where they do not collide and renumbered
deterministically (by creation time, then name) where they do; ``next_sequence`` above
all; exactly one latest (the highest sequence, unless only one side moved latest);
labels merged, a conflict only when both sides moved one label to different versions.
"""

from __future__ import annotations

from dataclasses import replace

from ..ledger import Ledger, VersionEntry


def _latest(ledger: Ledger | None) -> str | None:
    return ledger.latest() if ledger else None


def merge_ledgers(base: Ledger | None, ours: Ledger, theirs: Ledger) -> tuple[Ledger, list[str]]:
    """The merged ledger and the conflicts (empty when the merge is clean)."""
    conflicts: list[str] = []
    base_versions = base.versions if base else {}
    merged: dict[str, VersionEntry] = {}
    for version in sorted(set(ours.versions) | set(theirs.versions)):
        mine, other = ours.versions.get(version), theirs.versions.get(version)
        if mine is None or other is None:
            present = mine or other
            assert present is not None
            if version in base_versions:
                continue  # deleted on one side: the delete wins
            merged[version] = replace(present)
            continue
        merged[version] = replace(mine, updated_at=max(mine.updated_at, other.updated_at),
                                  created_at=min(mine.created_at, other.created_at))
    # Sequence numbers: versions from the base keep theirs; added ones keep theirs unless taken.
    taken: dict[int, str] = {}
    for version in sorted(merged, key=lambda v: (v not in base_versions, merged[v].created_at, v)):
        number = merged[version].sequence_number
        if number in taken:
            continue
        taken[number] = version
    renumber = sorted((v for v in merged if taken.get(merged[v].sequence_number) != v),
                      key=lambda v: (merged[v].created_at, v))
    next_number = max([ours.next_sequence, theirs.next_sequence, *(e.sequence_number + 1 for e in merged.values())])
    for version in renumber:
        merged[version].sequence_number = next_number
        next_number += 1
    # Latest: the side that moved it, if only one did; else the highest sequence.
    base_latest, our_latest, their_latest = _latest(base), ours.latest(), theirs.latest()
    latest: str | None
    if our_latest == base_latest and their_latest != base_latest and their_latest in merged:
        latest = their_latest
    elif their_latest == base_latest and our_latest != base_latest and our_latest in merged:
        latest = our_latest
    else:
        latest = max(merged, key=lambda v: merged[v].sequence_number) if merged else None
    for version, entry in merged.items():
        entry.is_latest = version == latest
    # Labels: a move on one side wins; different moves on both sides conflict.
    base_labels = base.labels if base else {}
    labels: dict[str, str] = {}
    for label in sorted(set(ours.labels) | set(theirs.labels) | set(base_labels)):
        was, mine_to, their_to = base_labels.get(label), ours.labels.get(label), theirs.labels.get(label)
        if mine_to == their_to:
            result = mine_to
        elif mine_to == was:
            result = their_to
        elif their_to == was:
            result = mine_to
        else:
            conflicts.append(f"label {label}: moved to {mine_to or '(removed)'} here and to "
                             f"{their_to or '(removed)'} on the other branch")
            result = mine_to
        if result is not None and result in merged:
            labels[label] = result
    return Ledger(ours.name, next_number, merged, labels), conflicts
