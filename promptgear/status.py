"""What ``promptgear status`` reports, gathered without raising."""

from __future__ import annotations

from typing import Any

from .config import Config
from .errors import PromptGearError


def collect_status(config: Config, verbose: bool = False) -> dict[str, Any]:
    """Backend, location (password masked), connection, totals; errors become fields."""
    from .backends import mask_url, open_backend

    location = config.prompt_dir if config.backend == "filesystem" else mask_url(config.db_url)
    status: dict[str, Any] = {"backend": config.backend, "location": location}
    try:
        store = open_backend(config)
    except PromptGearError as exc:
        status.update(connected=False, error=str(exc))
        return status
    try:
        stats = store.get_statistics()
        status.update(connected=True, prompts=stats["total_prompts"], versions=stats["total_versions"],
                      most_recent=stats["most_recent"], most_recent_at=stats["most_recent_at"])
    except PromptGearError as exc:
        status.update(connected=False, error=str(exc))
    finally:
        store.close()
    if config.backend == "filesystem":
        from .sync.report import sync_status

        status["sync"] = sync_status(config)
    if verbose:
        status["settings"] = {
            name: {"value": mask_url(str(getattr(config, name))) if name in ("db_url", "sync_url") else getattr(config, name),
                   "from": source}
            for name, source in sorted(config.sources.items())
        }
    return status
