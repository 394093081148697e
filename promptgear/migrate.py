"""Copy every prompt from one store to another, bookkeeping included."""

from __future__ import annotations

from collections.abc import Callable

from .store import BackendBase, PromptRecord


def migrate(
    source: BackendBase,
    target: BackendBase,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy all prompts with their sequence numbers, latest flags, timestamps and labels.

    Unlike the seed's loop over ``create_prompt``, nothing is renumbered. The target is
    written in one step (one transaction on a database), so a failure writes nothing
    there. ``progress(done, total)`` is called as prompts are read. Returns the number
    of versions copied.
    """
    names = source.list_names()
    records: list[PromptRecord] = []
    for done, name in enumerate(names, 1):
        records.append(source.export_prompt(name))
        if progress:
            progress(done, len(names))
    return target.import_prompts(records, overwrite=overwrite)
