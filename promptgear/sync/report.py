"""The sync section of ``promptgear status``: target, in sync or not, last sync, lag, problems."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from ..backends import mask_url, sqlite_path, url_kind
from ..config import Config
from ..errors import PromptGearError


def sync_status(config: Config) -> dict[str, Any]:
    url = config.effective_sync_url()
    info: dict[str, Any] = {"target": mask_url(url)}
    if url_kind(url) == "sqlite" and not os.path.exists(sqlite_path(url)):
        info["state"] = "never synced"
        return info
    from .reconcile import Syncer

    try:
        syncer = Syncer(config.prompt_dir, url, config.file_extension)
    except PromptGearError as exc:
        info.update(state="unreachable", error=str(exc))
        return info
    try:
        state = syncer.target.get_state()
        if state.get("mirror_of") is None:
            info["state"] = "never synced"
            return info
        plan = syncer.plan()
        info.update(
            mirror_of=state.get("mirror_of"),
            state="in sync" if plan.in_sync else "out of sync",
            to_add=len(plan.added), to_update=len(plan.updated), to_delete=len(plan.deleted),
            last_sync_at=state.get("last_sync_at"), last_sync_commit=state.get("last_sync_commit") or None,
            last_error=state.get("last_error") or None, not_mirrored=plan.problems,
        )
        if state.get("last_sync_at"):
            last = datetime.fromisoformat(state["last_sync_at"])
            info["lag_seconds"] = 0.0 if plan.in_sync else round((datetime.now(timezone.utc) - last).total_seconds(), 1)
    except PromptGearError as exc:
        info.update(state="unreachable", error=str(exc))
    finally:
        syncer.close()
    return info
