"""Configuration: environment over ``.env`` over ``.promptgear.yml`` over defaults.

>>> from promptgear.config import get_config
>>> get_config().backend
'filesystem'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError

BACKENDS = ("filesystem", "sqlite", "postgres")
ENV_PREFIX = "PROMPT_GEAR_"
CONFIG_FILE = ".promptgear.yml"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


@dataclass
class Config:
    """Every setting, with where each value came from (``sources``)."""

    backend: str = "filesystem"
    prompt_dir: str = "./prompts"
    db_url: str = "sqlite:///prompts.db"
    pool_size: int = 5
    max_connections: int = 20
    debug: bool = False
    lock_timeout: float = 10.0
    cache_ttl: float = 60.0
    sync_url: str = ""
    file_extension: str = ".yaml"
    immutable_versions: bool = False
    protected_labels: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    # The original exposed these as properties with other names; keep them readable.
    @property
    def postgres_pool_size(self) -> int:
        return self.pool_size

    @property
    def postgres_max_connections(self) -> int:
        return self.max_connections

    def get_backend_config(self) -> dict[str, Any]:
        if self.backend == "filesystem":
            return {"prompt_dir": self.prompt_dir}
        if self.backend == "sqlite":
            return {"db_url": self.db_url}
        return {"db_url": self.db_url, "pool_size": self.pool_size, "max_connections": self.max_connections}

    def effective_sync_url(self) -> str:
        """Where ``promptgear sync`` writes: PROMPT_GEAR_SYNC_URL, else a database URL, else SQLite."""
        if self.sync_url:
            return self.sync_url
        if self.backend in ("sqlite", "postgres") or self.sources.get("db_url", "default") != "default":
            return self.db_url
        return "sqlite:///prompts.db"


SETTINGS = {f.name: f for f in fields(Config) if f.name != "sources"}


def _coerce(name: str, raw: Any, origin: str) -> Any:
    kind = SETTINGS[name].type
    where = f"{ENV_PREFIX}{name.upper()} (from {origin})"
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ConfigError(f"{where}: {raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")
    if kind in ("int", "float"):
        try:
            number = int(str(raw).strip()) if kind == "int" else float(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{where}: {raw!r} is not {'an integer' if kind == 'int' else 'a number'}") from None
        if number < 0 or (kind == "int" and number == 0):
            raise ConfigError(f"{where}: {raw!r} must be {'positive' if kind == 'int' else 'zero or more'}")
        return number
    if kind == "list[str]":
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return [str(item).strip() for item in items if str(item).strip()]
    return str(raw).strip()


def _find_dotenv(start: str) -> str | None:
    # An existence walk instead of dotenv.find_dotenv: importing python-dotenv costs tens of
    # milliseconds, which `promptgear get` cannot afford when there is no .env at all.
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, ".env")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read_dotenv(path: str) -> dict[str, str]:
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def _read_config_file(path: str) -> dict[str, Any]:
    from .errors import IntegrityError
    from .versionfile import load_yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = load_yaml(handle.read(), path)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except IntegrityError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of setting: value")
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    return data


def load_config(
    config_file: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    cwd: str | None = None,
    **overrides: Any,
) -> Config:
    """Read every source and validate. ``config_file`` is a ``.env`` file or a YAML config.

    Keyword ``overrides`` (e.g. from CLI options) win over everything.
    """
    env = os.environ if environ is None else environ
    cwd = cwd or os.getcwd()
    layers: list[tuple[str, dict[str, Any]]] = []

    config_file = os.fspath(config_file) if config_file is not None else env.get(ENV_PREFIX + "CONFIG_FILE")
    dotenv_file = None
    if config_file and not str(config_file).endswith((".yml", ".yaml")):
        dotenv_file = os.path.join(cwd, config_file)
        if not os.path.isfile(dotenv_file):
            raise ConfigError(f"config file {config_file} does not exist")
        config_file = None
    yaml_file = os.path.join(cwd, config_file) if config_file else os.path.join(cwd, CONFIG_FILE)
    if config_file and not os.path.isfile(yaml_file):
        raise ConfigError(f"config file {config_file} does not exist")
    if os.path.isfile(yaml_file):
        layers.append((os.path.basename(yaml_file), _read_config_file(yaml_file)))

    dotenv_file = dotenv_file or _find_dotenv(cwd)
    if dotenv_file:
        values = _read_dotenv(dotenv_file)
        layers.append((".env", _prefixed(values)))
    layers.append(("environment", _prefixed(env)))
    layers.append(("option", {key: value for key, value in overrides.items() if value is not None}))

    config = Config()
    sources = {name: "default" for name in SETTINGS}
    for origin, values in layers:
        for name, raw in values.items():
            setattr(config, name, _coerce(name, raw, origin))
            sources[name] = origin
    config.sources = sources
    _validate(config)
    return config


def _prefixed(values: Any) -> dict[str, Any]:
    found = {}
    for name in SETTINGS:
        key = ENV_PREFIX + name.upper()
        if key in values:
            found[name] = values[key]
    return found


def _validate(config: Config) -> None:
    if config.backend not in BACKENDS:
        raise ConfigError(
            f"PROMPT_GEAR_BACKEND (from {config.sources['backend']}): unknown backend {config.backend!r}; "
            f"use one of {', '.join(BACKENDS)}"
        )
    if config.file_extension not in (".yaml", ".yml"):
        raise ConfigError(f"PROMPT_GEAR_FILE_EXTENSION: {config.file_extension!r}; use .yaml or .yml")
    if config.max_connections < config.pool_size:
        raise ConfigError(
            f"PROMPT_GEAR_MAX_CONNECTIONS ({config.max_connections}) must be at least "
            f"PROMPT_GEAR_POOL_SIZE ({config.pool_size})"
        )


_config: Config | None = None


def get_config(env_file: str | None = None) -> Config:
    """The process-wide configuration, read once."""
    global _config
    if _config is None or env_file is not None:
        _config = load_config(env_file)
    return _config


def reload_config(env_file: str | None = None) -> Config:
    """Read the configuration again (after changing the environment or files)."""
    global _config
    _config = load_config(env_file)
    return _config
