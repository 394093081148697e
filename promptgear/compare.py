"""Unified diffs between two prompt versions, field by field."""

from __future__ import annotations

import difflib
import json

from .template import PromptTemplate


def _fields(template: PromptTemplate) -> list[str]:
    lines: list[str] = []
    for field in ("system_prompt", "user_prompt"):
        lines.append(f"## {field}")
        lines.extend(getattr(template, field).split("\n"))
    lines.append("## config")
    lines.extend(json.dumps(template.config, indent=2, sort_keys=True, ensure_ascii=False).split("\n"))
    if template.description or template.tags:
        lines.append("## description")
        lines.append(template.description or "")
        lines.append("## tags")
        lines.append(", ".join(template.tags))
    return lines


def diff_templates(old: PromptTemplate, new: PromptTemplate, old_label: str | None = None, new_label: str | None = None) -> str:
    """A unified diff of every field; empty when the versions hold the same content."""
    return "\n".join(
        difflib.unified_diff(
            _fields(old), _fields(new),
            fromfile=old_label or f"{old.name}:{old.version}", tofile=new_label or f"{new.name}:{new.version}",
            lineterm="",
        )
    )
