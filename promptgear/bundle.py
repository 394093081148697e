"""The export bundle: whole prompts with their bookkeeping, as JSON or YAML.

A bundle round-trips between any two backends: sequence numbers, latest flags,
timestamps and labels are kept.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ValidationError
from .ledger import Ledger, VersionEntry
from .metadata import format_timestamp, parse_timestamp
from .store import PromptRecord

FORMAT = "promptgear-bundle"


def records_to_bundle(records: list[PromptRecord]) -> dict[str, Any]:
    prompts = []
    for record in records:
        ledger = record.ledger
        versions = []
        for version in ledger.ordered():
            entry = ledger.versions[version]
            content = record.contents[version]
            versions.append({
                "version": version,
                "sequence_number": entry.sequence_number,
                "is_latest": entry.is_latest,
                "created_at": format_timestamp(entry.created_at),
                "updated_at": format_timestamp(entry.updated_at),
                "system_prompt": content["system_prompt"],
                "user_prompt": content["user_prompt"],
                "config": content.get("config") or {},
                "description": content.get("description"),
                "tags": list(content.get("tags") or []),
            })
        prompts.append({"name": ledger.name, "next_sequence": ledger.next_sequence,
                        "labels": dict(sorted(ledger.labels.items())), "versions": versions})
    return {"format": FORMAT, "format_version": 1, "prompts": prompts}


def bundle_to_records(data: Any, where: str = "bundle") -> list[PromptRecord]:
    """Parse a bundle; any structural problem is a ValidationError naming ``where``."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"{where}: not a promptgear bundle (made by 'promptgear export')")
    records = []
    try:
        for prompt in data["prompts"]:
            ledger = Ledger(str(prompt["name"]), int(prompt["next_sequence"]), {}, dict(prompt.get("labels") or {}))
            contents = {}
            for item in prompt["versions"]:
                version = str(item["version"])
                ledger.versions[version] = VersionEntry(
                    int(item["sequence_number"]), bool(item["is_latest"]),
                    parse_timestamp(item["created_at"]), parse_timestamp(item["updated_at"]),
                )
                contents[version] = {
                    "name": ledger.name, "version": version,
                    "system_prompt": item["system_prompt"], "user_prompt": item["user_prompt"],
                    "config": item.get("config") or {}, "description": item.get("description"),
                    "tags": list(item.get("tags") or []),
                }
            records.append(PromptRecord(ledger, contents))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"{where}: malformed bundle ({exc.__class__.__name__}: {exc})") from None
    return records


def dump_bundle(records: list[PromptRecord], fmt: str = "json") -> str:
    data = records_to_bundle(records)
    if fmt == "yaml":
        from .versionfile import dump_yaml

        return dump_yaml(data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load_bundle(text: str, where: str) -> list[PromptRecord]:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"{where}: not valid JSON ({exc})") from None
    else:
        from .errors import IntegrityError
        from .versionfile import load_yaml

        try:
            data = load_yaml(text, where)
        except IntegrityError as exc:
            raise ValidationError(str(exc)) from None
    return bundle_to_records(data, where)
