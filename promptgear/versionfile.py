"""Version files: YAML in, YAML out, safely, with literal blocks for multi-line prompts.

ruamel.yaml is imported on first use, so ``import promptgear`` stays cheap.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from .errors import IntegrityError
from .template import PromptTemplate

REQUIRED = ("name", "version", "system_prompt", "user_prompt")
# Bookkeeping the seed's format kept inside version files; .metadata.json wins over it.
SEED_BOOKKEEPING = ("sequence_number", "is_latest", "created_at", "updated_at")


@lru_cache(maxsize=1)
def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.allow_unicode = True
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # keep file order

    def represent_str(representer: Any, data: str) -> Any:
        # A literal block (|-) whenever the text has a newline; the emitter falls back to
        # a quoted scalar by itself where a block cannot hold the text exactly.
        style = "|" if "\n" in data else None
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    yaml.representer.add_representer(str, represent_str)
    return yaml


@lru_cache(maxsize=1)
def _safe_loader() -> Any:
    """ruamel's C safe loader, used directly: ``YAML.load`` builds a loader class and its
    resolver tables on every call, which costs more than parsing a prompt file."""
    try:
        from ruamel.yaml.cyaml import CSafeLoader
    except ImportError:  # no C extension: the pure-Python safe loader
        return None
    return CSafeLoader


def load_yaml(text: str | bytes, where: str) -> Any:
    """Parse YAML with the safe loader; any failure is an IntegrityError naming ``where``."""
    try:
        loader_class = _safe_loader()
        if loader_class is None:
            return _yaml().load(text)
        loader = loader_class(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except Exception as exc:  # ruamel raises many unrelated classes for bad input
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise IntegrityError(f"{where}: not valid YAML ({reason})") from None


def dump_yaml(data: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()


def dump_version(template: PromptTemplate) -> str:
    return dump_yaml(template.content())


def check_content(data: Any, where: str, name: str | None = None, version: str | None = None) -> dict[str, Any]:
    """Validate a parsed version file and return its content fields.

    Raises :class:`IntegrityError` naming ``where`` and the first broken rule.
    """
    if not isinstance(data, dict):
        raise IntegrityError(f"{where}: a version file must be a YAML mapping")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise IntegrityError(f"{where}: missing field(s) {', '.join(missing)}")
    if name is not None and data["name"] != name:
        raise IntegrityError(f"{where}: name {data['name']!r} does not match its folder {name!r}")
    if version is not None and str(data["version"]) != version:
        raise IntegrityError(f"{where}: version {data['version']!r} does not match its file name {version!r}")
    for key in ("system_prompt", "user_prompt"):
        if not isinstance(data[key], str):
            raise IntegrityError(f"{where}: {key} must be a string")
    config = data.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise IntegrityError(f"{where}: config must be a mapping")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise IntegrityError(f"{where}: description must be a string")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise IntegrityError(f"{where}: tags must be a list of strings")
    return {
        "name": str(data["name"]),
        "version": str(data["version"]),
        "system_prompt": data["system_prompt"],
        "user_prompt": data["user_prompt"],
        "config": config,
        "description": description,
        "tags": tags,
    }


def parse_version(text: str | bytes, where: str, name: str | None = None, version: str | None = None) -> dict[str, Any]:
    return check_content(load_yaml(text, where), where, name, version)
