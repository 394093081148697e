from __future__ import annotations

import pytest

from promptgear import PromptTemplate, RenderError


def make(system: str = "You help with {{ topic }}.", user: str = "{{question}} about {{topic}}?") -> PromptTemplate:
    return PromptTemplate(name="t", version="v1", system_prompt=system, user_prompt=user)


def test_keyword_construction_defaults():
    t = make()
    assert (t.config, t.sequence_number, t.is_latest, t.created_at, t.labels) == ({}, None, False, None, [])


def test_variables_in_order_of_first_appearance():
    assert make().variables == ["topic", "question"]
    assert make("no vars", "none").variables == []


def test_render_fills_both_prompts():
    rendered = make().render(topic="tea", question="Why")
    assert rendered.system_prompt == "You help with tea."
    assert rendered.user_prompt == "Why about tea?"
    assert rendered.messages()[1] == {"role": "user", "content": "Why about tea?"}


def test_render_names_every_missing_and_unexpected_variable():
    with pytest.raises(RenderError, match=r"t:v1: missing topic, question; unexpected extra variable"):
        make().render(extra=1)


def test_render_non_strict_leaves_unknown_placeholders():
    rendered = make().render(strict=False, topic="tea", extra=1)
    assert rendered.user_prompt == "{{question}} about tea?"


def test_to_dict_is_json_ready():
    import json
    from datetime import datetime, timezone

    t = make()
    t.created_at = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
    data = json.loads(json.dumps(t.to_dict()))
    assert data["created_at"] == "2025-01-15T10:30:00+00:00" and data["name"] == "t"
