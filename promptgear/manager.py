"""PromptManager: the SDK applications call."""

from __future__ import annotations

import os
import time
from typing import Any

from .config import Config, load_config
from .errors import BackendUnavailableError
from .ledger import RemoveResult
from .store import BackendBase
from .template import PromptTemplate, RenderedPrompt


class PromptManager:
    """Read and write versioned prompts in the configured store.

    >>> pm = PromptManager()                       # backend from configuration
    >>> pm.create_prompt("greet", "v1", "Be kind.", "Hello {{name}}")  # doctest: +SKIP
    >>> pm.get_prompt("greet").render(name="Ada").user_prompt          # doctest: +SKIP
    'Hello Ada'
    """

    def __init__(
        self,
        backend: BackendBase | None = None,
        config_file: str | os.PathLike[str] | None = None,
        *,
        config: Config | None = None,
        fallback_dir: str | os.PathLike[str] | None = None,
        cache_ttl: float | None = None,
    ) -> None:
        """``fallback_dir``: prompt files to read while a database store was never reachable.
        ``cache_ttl``: seconds a database read is cached (default PROMPT_GEAR_CACHE_TTL, 60; 0 disables).
        """
        self.config = config or load_config(config_file)
        self._backend = backend
        self._last_error: BackendUnavailableError | None = None
        self._next_attempt = 0.0
        fallback = None
        if fallback_dir is not None:
            from .filesystem_backend import FilesystemBackend

            fallback = FilesystemBackend(os.fspath(fallback_dir), self.config.file_extension)
        if self._backend is None:
            try:
                self._open()
            except BackendUnavailableError:
                if fallback is None:
                    raise  # nothing to serve from: say so now
        kind = self._backend.backend_name if self._backend is not None else self.config.backend
        ttl = self.config.cache_ttl if cache_ttl is None else cache_ttl
        self._cache = None
        if kind in ("sqlite", "postgres") and ttl > 0:
            from .readcache import ReadCache

            listen = None
            if kind == "postgres":
                listen = getattr(self._backend, "_dsn", None) or self.config.db_url
            self._cache = ReadCache(self._open, ttl, fallback, listen)

    def _open(self) -> BackendBase:
        """The store; a database that was unreachable is tried again, at most once a second."""
        if self._backend is not None:
            return self._backend
        if self._last_error is not None and time.monotonic() < self._next_attempt:
            raise self._last_error
        from .backends import open_backend

        try:
            self._backend = open_backend(self.config)
        except BackendUnavailableError as exc:
            self._last_error, self._next_attempt = exc, time.monotonic() + 1.0
            raise
        return self._backend

    @property
    def backend(self) -> BackendBase:
        return self._open()

    @backend.setter
    def backend(self, value: BackendBase) -> None:
        self._backend = value

    # -- reads ------------------------------------------------------------------------
    def get_prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> PromptTemplate:
        """A version, the version a label points at, or (neither given) the latest.

        On a database store reads are cached (see ``cache_ttl``) and survive outages.
        """
        if self._cache is not None:
            return self._cache.get(name, version, label)
        return self.backend.get_prompt(name, version, label=label)

    def get_latest_prompt(self, name: str) -> PromptTemplate:
        return self.get_prompt(name)

    def render(self, name: str, version: str | None = None, *, label: str | None = None, **values: Any) -> RenderedPrompt:
        """Shortcut for ``get_prompt(...).render(**values)``."""
        return self.get_prompt(name, version, label=label).render(**values)

    def list_prompts(self, name: str | None = None, config_filter: dict[str, Any] | None = None) -> list[PromptTemplate]:
        return self.backend.list_prompts(name, config_filter=config_filter)

    def list_versions(self, name: str) -> list[str]:
        """Version names of a prompt, oldest first."""
        return self.backend.list_versions(name)

    def history(self, name: str) -> list[PromptTemplate]:
        """Every version of a prompt as templates, oldest first."""
        return self.backend.history(name)

    def list_names(self) -> list[str]:
        return self.backend.list_names()

    def prompt_exists(self, name: str, version: str | None = None) -> bool:
        return self.backend.prompt_exists(name, version)

    def search_prompts(self, query: str, limit: int | None = None) -> list[PromptTemplate]:
        return self.backend.search_prompts(query, limit=limit)

    def get_statistics(self) -> dict[str, Any]:
        return self.backend.get_statistics()

    def health_check(self) -> dict[str, Any]:
        return self.backend.health_check()

    # -- writes -----------------------------------------------------------------------
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
        """Create a version; it becomes the latest. ``overwrite`` replaces an existing one."""
        return self._written(name, self.backend.create_prompt(
            name, version, system_prompt, user_prompt, config, overwrite, description=description, tags=tags
        ))

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
        """Change content in place; ``updated_at`` moves, the sequence number does not."""
        return self._written(name, self.backend.update_prompt(
            name, version, system_prompt, user_prompt, config, description=description, tags=tags
        ))

    def delete_prompt(self, name: str, version: str, force: bool = False) -> RemoveResult:
        """Delete a version. The result says which version was promoted, if any."""
        return self._written(name, self.backend.delete_prompt(name, version, force=force))

    def promote_prompt(self, name: str, version: str) -> PromptTemplate:
        """Make an existing version the latest again (rollback)."""
        return self._written(name, self.backend.promote_prompt(name, version))

    def set_label(self, name: str, version: str, label: str) -> PromptTemplate:
        return self._written(name, self.backend.set_label(name, version, label))

    def remove_label(self, name: str, label: str) -> str:
        return self._written(name, self.backend.remove_label(name, label))

    def _written(self, name: str, result: Any) -> Any:
        """After a write: this manager's cached reads of the prompt are no longer true."""
        if self._cache is not None:
            self._cache.invalidate({name})
        return result

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
        if self._backend is not None:
            self._backend.close()

    def __enter__(self) -> PromptManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
