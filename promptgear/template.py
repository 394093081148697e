"""PromptTemplate: one version of a prompt, with its bookkeeping and rendering."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from .errors import RenderError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

CONTENT_FIELDS = ("system_prompt", "user_prompt", "config", "description", "tags")


@dataclass
class PromptTemplate:
    """A prompt version: content (prompts, config) plus bookkeeping (sequence, latest, times).

    Constructible by keyword as in the original Prompt Gear::

        PromptTemplate(name="greet", version="v1", system_prompt="Be kind.", user_prompt="{{q}}")
    """

    name: str
    version: str
    system_prompt: str
    user_prompt: str
    config: dict[str, Any] = field(default_factory=dict)
    sequence_number: int | None = None
    is_latest: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        """The ``{{ name }}`` placeholders of both prompts, in order of first appearance."""
        seen: dict[str, None] = {}
        for text in (self.system_prompt, self.user_prompt):
            for match in PLACEHOLDER.finditer(text):
                seen.setdefault(match.group(1), None)
        return list(seen)

    def render(self, strict: bool = True, **values: Any) -> RenderedPrompt:
        """Fill the placeholders of both prompts.

        With ``strict`` (the default) a missing or an unexpected variable raises
        :class:`RenderError` naming all of them; with ``strict=False`` unknown
        placeholders are left as they are and extra values are ignored.
        """
        expected = self.variables
        if strict:
            missing = [name for name in expected if name not in values]
            unexpected = sorted(set(values) - set(expected))
            problems = []
            if missing:
                problems.append("missing " + ", ".join(missing))
            if unexpected:
                problems.append("unexpected " + ", ".join(unexpected))
            if problems:
                raise RenderError(f"cannot render {self.name}:{self.version}: {'; '.join(problems)} variable(s)")

        def fill(text: str) -> str:
            def one(match: re.Match[str]) -> str:
                key = match.group(1)
                return str(values[key]) if key in values else match.group(0)

            return PLACEHOLDER.sub(one, text)

        return RenderedPrompt(fill(self.system_prompt), fill(self.user_prompt), dict(self.config))

    def content(self) -> dict[str, Any]:
        """The fields a version file holds, in file order (optional ones only when set)."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "system_prompt": self.system_prompt,
            "user_prompt": self.user_prompt,
            "config": self.config,
        }
        if self.description:
            data["description"] = self.description
        if self.tags:
            data["tags"] = list(self.tags)
        return data

    def to_dict(self) -> dict[str, Any]:
        """Every field, with dates as ISO 8601 strings: ready for ``json.dumps``."""
        data = asdict(self)
        for key in ("created_at", "updated_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data

    def model_dump(self) -> dict[str, Any]:
        """Every field as a dict (the original's pydantic spelling)."""
        return asdict(self)

    def copy(self, **changes: Any) -> PromptTemplate:
        return replace(self, **changes)


@dataclass(frozen=True)
class RenderedPrompt:
    """The filled prompts of a template, ready to send to a model."""

    system_prompt: str
    user_prompt: str
    config: dict[str, Any]

    def messages(self) -> list[dict[str, str]]:
        """Chat messages in the common ``[{"role": ..., "content": ...}]`` shape."""
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": self.user_prompt},
        ]
