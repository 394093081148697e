"""promptgear: versioned LLM prompt templates kept as YAML in git.

>>> from promptgear import PromptManager
>>> pm = PromptManager()   # doctest: +SKIP

Names are imported on first use, so ``import promptgear`` costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "PromptManager": "promptgear.manager",
    "PromptTemplate": "promptgear.template",
    "RenderedPrompt": "promptgear.template",
    "BackendBase": "promptgear.store",
    "PromptRecord": "promptgear.store",
    "RemoveResult": "promptgear.ledger",
    "PromptGearError": "promptgear.errors",
    "PromptNotFoundError": "promptgear.errors",
    "PromptAlreadyExistsError": "promptgear.errors",
    "ValidationError": "promptgear.errors",
    "ConfigError": "promptgear.errors",
    "RenderError": "promptgear.errors",
    "IntegrityError": "promptgear.errors",
    "LockTimeoutError": "promptgear.errors",
    "BackendUnavailableError": "promptgear.errors",
    "ReadOnlyMirrorError": "promptgear.errors",
    "BackendError": "promptgear.errors",
    "Config": "promptgear.config",
    "get_config": "promptgear.config",
    "reload_config": "promptgear.config",
    "FilesystemBackend": "promptgear.filesystem_backend",
    "SQLiteBackend": "promptgear.sqlite_backend",
    "PostgresBackend": "promptgear.postgres_backend",
    "migrate": "promptgear.migrate",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptgear' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
