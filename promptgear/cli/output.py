"""How the CLI prints: aligned tables that fit the terminal, JSON, YAML, colour rules."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..template import PromptTemplate


def use_color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def echo_yaml(data: Any) -> None:
    from ..versionfile import dump_yaml

    click.echo(dump_yaml(data), nl=False)


def one_line(text: str) -> str:
    return " ".join(text.split())


def table(headers: list[str], rows: list[list[str]], shrink: int | None = None) -> str:
    """An aligned table; column ``shrink`` is cut to make the table fit the terminal."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if shrink is not None:
        import shutil

        room = shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * (len(widths) - 1) + widths[shrink]
        widths[shrink] = max(len(headers[shrink]), min(widths[shrink], room))
    lines = []
    for row in [headers, ["-" * w for w in widths]] + rows:
        cells = []
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                cell = cell[: max(widths[i] - 3, 0)] + "..."
            cells.append(cell.ljust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def stamp(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def template_record(template: PromptTemplate) -> dict[str, Any]:
    return template.to_dict()


def echo_templates(templates: list[PromptTemplate], fmt: str) -> None:
    """A listing: a table, or JSON/YAML with every field."""
    if fmt == "json":
        echo_json([template_record(t) for t in templates])
    elif fmt == "yaml":
        echo_yaml([template_record(t) for t in templates])
    elif not templates:
        click.echo("No prompts found.")
    else:
        rows = [
            [t.name, t.version, str(t.sequence_number), "yes" if t.is_latest else "", ",".join(t.labels),
             stamp(t.updated_at), one_line(t.system_prompt)]
            for t in templates
        ]
        click.echo(table(["Name", "Version", "Seq", "Latest", "Labels", "Updated At", "System Prompt"], rows, shrink=6))


def echo_versions(templates: list[PromptTemplate], fmt: str) -> None:
    if fmt in ("json", "yaml"):
        echo_templates(templates, fmt)
        return
    rows = [
        [t.version, str(t.sequence_number), "yes" if t.is_latest else "no", ",".join(t.labels),
         stamp(t.created_at), stamp(t.updated_at)]
        for t in templates
    ]
    click.echo(table(["Version", "Sequence Number", "Is Latest", "Labels", "Created At", "Updated At"], rows))


def echo_template(template: PromptTemplate, fmt: str) -> None:
    """One version: YAML (default), JSON, a table of fields, or the plain prompt text."""
    if fmt == "json":
        echo_json(template_record(template))
    elif fmt == "yaml":
        data = template.content()
        data.update(sequence_number=template.sequence_number, is_latest=template.is_latest,
                    labels=template.labels, created_at=template.to_dict()["created_at"],
                    updated_at=template.to_dict()["updated_at"])
        if not data["labels"]:
            del data["labels"]
        echo_yaml(data)
    elif fmt == "text":
        click.echo(f"# system\n{template.system_prompt}\n\n# user\n{template.user_prompt}")
    else:
        rows = [
            ["Name", template.name], ["Version", template.version],
            ["Sequence Number", str(template.sequence_number)], ["Is Latest", "yes" if template.is_latest else "no"],
            ["Labels", ",".join(template.labels)], ["Created At", stamp(template.created_at)],
            ["Updated At", stamp(template.updated_at)], ["Config", json.dumps(template.config, ensure_ascii=False)],
            ["Variables", ", ".join(template.variables)], ["System Prompt", one_line(template.system_prompt)],
            ["User Prompt", one_line(template.user_prompt)],
        ]
        click.echo(table(["Field", "Value"], rows, shrink=1))
