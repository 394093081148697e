"""The backend registry: names and URLs to store classes, imported only when used."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Config
    from .store import BackendBase

REGISTRY: dict[str, tuple[str, str]] = {
    "filesystem": ("promptgear.filesystem_backend", "FilesystemBackend"),
    "sqlite": ("promptgear.sqlite_backend", "SQLiteBackend"),
    "postgres": ("promptgear.postgres_backend", "PostgresBackend"),
}


def backend_class(name: str) -> type[BackendBase]:
    try:
        module, attr = REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; use one of {', '.join(REGISTRY)}") from None
    cls: type[BackendBase] = getattr(importlib.import_module(module), attr)
    return cls


def open_backend(config: Config) -> BackendBase:
    """The store the configuration selects."""
    if config.backend == "filesystem":
        from .filesystem_backend import FilesystemBackend

        return FilesystemBackend(config.prompt_dir, config.file_extension, lock_timeout=config.lock_timeout)
    return backend_from_url(config.db_url, config, kind=config.backend)


def url_kind(url: str) -> str:
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgres", "postgresql"):
        return "postgres"
    if scheme in ("", "file"):
        return "filesystem"
    raise ConfigError(f"unsupported URL scheme {scheme!r} in {mask_url(url)}; use sqlite:///, postgresql:// or a folder")


def backend_from_url(url: str, config: Config | None = None, kind: str | None = None) -> BackendBase:
    """A store for ``sqlite:///file.db``, ``postgresql://...`` or a prompt folder path."""
    kind = kind or url_kind(url)
    options: dict[str, Any] = {}
    if kind == "filesystem":
        path = urlsplit(url).path if url.startswith("file://") else url
        from .filesystem_backend import FilesystemBackend

        if config is not None:
            return FilesystemBackend(path, config.file_extension, lock_timeout=config.lock_timeout)
        return FilesystemBackend(path)
    if kind == "postgres" and config is not None:
        options = {"pool_size": config.pool_size, "max_connections": config.max_connections}
    if url_kind(url) != kind:
        raise ConfigError(f"PROMPT_GEAR_DB_URL {mask_url(url)} does not fit backend {kind!r}")
    return backend_class(kind)(url, **options)  # type: ignore[call-arg]


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``: safe for messages, logs and status."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``, ``sqlite:////abs.db`` -> ``/abs.db``; plain paths pass."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        return rest[1:] if rest.startswith("/") else rest
    return os.fspath(url)
