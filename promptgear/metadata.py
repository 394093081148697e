"""``.metadata.json``: the seed's format, read leniently and written deterministically."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .errors import IntegrityError, ValidationError
from .ledger import Ledger, VersionEntry
from .names import validate_label, validate_version


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 to an aware datetime; naive values (the seed's format) are UTC."""
    if isinstance(value, datetime):
        stamp = value
    else:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def format_timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def ledger_from_dict(data: Any, name: str, where: str) -> Ledger:
    """Build a ledger from parsed JSON, raising :class:`IntegrityError` naming ``where``."""
    if not isinstance(data, dict):
        raise IntegrityError(f"{where}: metadata must be a JSON object")
    try:
        if data.get("name", name) != name:
            raise IntegrityError(f"{where}: metadata names {data.get('name')!r}, expected {name!r}")
        versions = {}
        for version, raw in (data.get("versions") or {}).items():
            validate_version(version)  # metadata names files: never trust it to build a path
            versions[version] = VersionEntry(
                sequence_number=int(raw["sequence_number"]),
                is_latest=bool(raw.get("is_latest", False)),
                created_at=parse_timestamp(raw.get("created_at") or raw.get("updated_at")),
                updated_at=parse_timestamp(raw.get("updated_at") or raw.get("created_at")),
            )
        highest = max((e.sequence_number for e in versions.values()), default=0)
        next_sequence = max(int(data.get("next_sequence", 1)), highest + 1)
        labels = {validate_label(str(k)): str(v) for k, v in (data.get("labels") or {}).items()}
    except IntegrityError:
        raise
    except ValidationError as exc:
        raise IntegrityError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"{where}: malformed metadata ({exc.__class__.__name__}: {exc})") from None
    return Ledger(name=name, next_sequence=next_sequence, versions=versions, labels=labels)


def parse_metadata(text: str | bytes, name: str, where: str) -> Ledger:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IntegrityError(f"{where}: not valid JSON ({exc}); run 'promptgear fix {name}'") from None
    return ledger_from_dict(data, name, where)


def ledger_to_dict(ledger: Ledger) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": ledger.name,
        "next_sequence": ledger.next_sequence,
        "versions": {
            version: {
                "sequence_number": entry.sequence_number,
                "is_latest": entry.is_latest,
                "created_at": format_timestamp(entry.created_at),
                "updated_at": format_timestamp(entry.updated_at),
            }
            for version, entry in sorted(ledger.versions.items(), key=lambda item: item[1].sequence_number)
        },
    }
    if ledger.labels:
        data["labels"] = dict(sorted(ledger.labels.items()))
    return data


def render_metadata(ledger: Ledger) -> str:
    """Deterministic text: versions by sequence, indent 2, trailing newline (minimal diffs).

    Byte-identical to ``json.dumps(ledger_to_dict(ledger), indent=2, ensure_ascii=False)``,
    formatted directly because the indenting encoder is pure Python and this runs on every write.
    """
    dumps = json.dumps
    entries = []
    for version, entry in sorted(ledger.versions.items(), key=lambda item: item[1].sequence_number):
        entries.append(
            f"    {dumps(version, ensure_ascii=False)}: {{\n"
            f'      "sequence_number": {entry.sequence_number},\n'
            f'      "is_latest": {"true" if entry.is_latest else "false"},\n'
            f'      "created_at": "{format_timestamp(entry.created_at)}",\n'
            f'      "updated_at": "{format_timestamp(entry.updated_at)}"\n'
            "    }"
        )
    versions = "{\n" + ",\n".join(entries) + "\n  }" if entries else "{}"
    text = f'{{\n  "name": {dumps(ledger.name, ensure_ascii=False)},\n  "next_sequence": {ledger.next_sequence},\n  "versions": {versions}'
    if ledger.labels:
        labels = ",\n".join(
            f"    {dumps(label, ensure_ascii=False)}: {dumps(target, ensure_ascii=False)}"
            for label, target in sorted(ledger.labels.items())
        )
        text += f',\n  "labels": {{\n{labels}\n  }}'
    return text + "\n}\n"
