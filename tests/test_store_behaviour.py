"""One behaviour suite, run against every backend through the ``store`` fixture."""

from __future__ import annotations

import pytest

from promptgear.errors import (
    PromptAlreadyExistsError,
    PromptNotFoundError,
    ValidationError,
)
from promptgear.ledger import Ledger
from promptgear.store import PromptRecord


def test_create_assigns_sequences_and_moves_latest(store):
    v1 = store.create_prompt("example", "v1", "System v1", "User v1")
    assert (v1.sequence_number, v1.is_latest) == (1, True)
    v2 = store.create_prompt("example", "v2", "System v2", "User v2")
    assert (v2.sequence_number, v2.is_latest) == (2, True)
    assert store.get_prompt("example", "v1").is_latest is False
    latest = store.get_prompt("example")
    assert (latest.version, latest.system_prompt, latest.user_prompt) == ("v2", "System v2", "User v2")
    assert store.get_latest_prompt("example").version == "v2"


def test_delete_latest_promotes_highest_remaining(store):
    for v in ("v1", "v2", "v3"):
        store.create_prompt("p", v, "s", "u")
    store.promote_prompt("p", "v1")
    result = store.delete_prompt("p", "v1")
    assert result.promoted == "v3"
    assert store.get_prompt("p").version == "v3"
    assert store.delete_prompt("p", "v2").promoted is None
    assert store.get_prompt("p").version == "v3"


def test_sequence_numbers_are_never_reused(store):
    store.create_prompt("p", "v1", "s", "u")
    store.create_prompt("p", "v2", "s", "u")
    store.delete_prompt("p", "v2")
    assert store.create_prompt("p", "v3", "s", "u").sequence_number == 3


def test_deleting_last_version_removes_prompt(store):
    store.create_prompt("p", "v1", "s", "u")
    result = store.delete_prompt("p", "v1")
    assert result.prompt_removed
    assert store.list_names() == []
    with pytest.raises(PromptNotFoundError):
        store.get_prompt("p")
    assert store.create_prompt("p", "v1", "s", "u").sequence_number == 1


def test_create_existing_version_needs_overwrite(store):
    store.create_prompt("p", "v1", "s", "u")
    store.create_prompt("p", "v2", "s", "u")
    with pytest.raises(PromptAlreadyExistsError, match="p:v1 already exists"):
        store.create_prompt("p", "v1", "other", "u")
    again = store.create_prompt("p", "v1", "other", "u", overwrite=True)
    assert (again.sequence_number, again.is_latest, again.system_prompt) == (1, True, "other")
    assert store.get_prompt("p").version == "v1"
    assert [t.sequence_number for t in store.history("p")] == [1, 2]


def test_update_changes_content_not_sequence(store):
    created = store.create_prompt("p", "v1", "s", "u", {"model": "a"})
    store.create_prompt("p", "v2", "s", "u")
    updated = store.update_prompt("p", "v1", user_prompt="new {{x}}", config={"model": "b"})
    assert (updated.system_prompt, updated.user_prompt, updated.config) == ("s", "new {{x}}", {"model": "b"})
    again = store.get_prompt("p", "v1")
    assert again.sequence_number == 1 and again.is_latest is False
    assert again.updated_at > created.updated_at and again.created_at == created.created_at
    with pytest.raises(PromptNotFoundError):
        store.update_prompt("p", "v9", user_prompt="x")


def test_promote_is_a_rollback(store):
    store.create_prompt("p", "v1", "s1", "u")
    store.create_prompt("p", "v2", "s2", "u")
    promoted = store.promote_prompt("p", "v1")
    assert promoted.is_latest
    assert store.get_prompt("p").system_prompt == "s1"
    assert [t.is_latest for t in store.history("p")] == [True, False]
    with pytest.raises(PromptNotFoundError):
        store.promote_prompt("p", "v7")


def test_missing_things_raise_not_found(store):
    with pytest.raises(PromptNotFoundError, match="nothing"):
        store.get_prompt("nothing")
    store.create_prompt("p", "v1", "s", "u")
    with pytest.raises(PromptNotFoundError, match="p:v2"):
        store.get_prompt("p", "v2")
    with pytest.raises(PromptNotFoundError):
        store.delete_prompt("p", "v2")
    assert store.prompt_exists("p", "v1") and not store.prompt_exists("p", "v2")
    assert not store.prompt_exists("q", "v1")


def test_listing(store):
    store.create_prompt("b", "v1", "s", "u", {"model": "gpt-4", "temperature": 0.2})
    store.create_prompt("a", "v1", "s", "u", {"model": "gpt-3"})
    store.create_prompt("a", "v2", "s", "u", {"model": "gpt-4", "tools": ["x", "y"]})
    assert store.list_names() == ["a", "b"]
    assert [(t.name, t.version) for t in store.list_prompts()] == [("a", "v1"), ("a", "v2"), ("b", "v1")]
    assert [t.version for t in store.list_prompts("a")] == ["v1", "v2"]
    assert store.list_prompts("zzz") == []
    assert store.list_versions("a") == ["v1", "v2"]
    assert store.list_versions("zzz") == []
    found = store.list_prompts(config_filter={"model": "gpt-4"})
    assert [(t.name, t.version) for t in found] == [("a", "v2"), ("b", "v1")]
    assert [t.name for t in store.list_prompts(config_filter={"tools": ["y"]})] == ["a"]
    assert store.list_prompts(config_filter={"temperature": 0.2})[0].name == "b"


def test_content_round_trips_exactly(store):
    system = "Line one\n  indented\n\ttabbed\ntrailing space \n\nend"
    user = "Unicode: é ü 日本 {{ name }}"
    config = {"model": "gpt-4", "temperature": 0.7, "nested": {"list": [1, "two", None, True]}, "max_tokens": 500}
    store.create_prompt("rt", "v1", system, user, config, description="desc", tags=["a", "b"])
    got = store.get_prompt("rt", "v1")
    assert (got.system_prompt, got.user_prompt, got.config) == (system, user, config)
    assert (got.description, got.tags) == ("desc", ["a", "b"])


def test_returned_templates_are_independent_copies(store):
    store.create_prompt("p", "v1", "s", "u", {"nested": {"k": 1}})
    first = store.get_prompt("p")
    first.config["nested"]["k"] = 2
    assert store.get_prompt("p").config == {"nested": {"k": 1}}


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "latest", "x" * 10_000, "a\x00b", ".hidden", ".."])
def test_bad_names_are_rejected_before_writing(store, bad):
    with pytest.raises(ValidationError):
        store.create_prompt(bad, "v1", "s", "u")
    with pytest.raises(ValidationError):
        store.create_prompt("ok", bad, "s", "u")
    assert store.list_names() == []


def test_bad_content_is_rejected(store):
    with pytest.raises(ValidationError, match="config must be a mapping"):
        store.create_prompt("p", "v1", "s", "u", config=["x"])
    with pytest.raises(ValidationError, match="system_prompt must be a string"):
        store.create_prompt("p", "v1", None, "u")
    assert store.list_names() == []


def test_search_matches_every_word_as_prefix_ranked(store):
    store.create_prompt("support", "v1", "You are a customer support agent.", "Help the customer.")
    store.create_prompt("support", "v2", "You are a support agent.", "Answer.")
    store.create_prompt("poet", "v1", "You write poems.", "Write about {{topic}}")
    assert [(t.name, t.version) for t in store.search_prompts("customer support")] == [("support", "v1")]
    assert [t.name for t in store.search_prompts("poem")] == ["poet"]
    assert [t.version for t in store.search_prompts("SUPPORT")] == ["v1", "v2"]
    assert store.search_prompts("nonexistent") == []
    with pytest.raises(ValidationError):
        store.search_prompts("   ")


def test_statistics_and_health(store):
    stats = store.get_statistics()
    assert (stats["total_prompts"], stats["total_versions"], stats["most_recent"]) == (0, 0, None)
    store.create_prompt("a", "v1", "s", "u")
    store.create_prompt("b", "v1", "s", "u")
    store.create_prompt("b", "v2", "s", "u")
    stats = store.get_statistics()
    assert (stats["total_prompts"], stats["total_versions"], stats["most_recent"]) == (2, 3, "b:v2")
    health = store.health_check()
    assert health["status"] == "healthy" and health["prompts"] == 2


def test_labels(store):
    store.create_prompt("p", "v1", "s", "u")
    store.create_prompt("p", "v2", "s", "u")
    store.set_label("p", "v1", "production")
    assert store.get_prompt("p", label="production").version == "v1"
    assert store.get_prompt("p", "v1").labels == ["production"]
    assert store.get_prompt("p", label="latest").version == "v2"
    with pytest.raises(ValidationError, match="carries label"):
        store.delete_prompt("p", "v1")
    store.set_label("p", "v2", "production")
    assert store.get_prompt("p", label="production").version == "v2"
    result = store.delete_prompt("p", "v2", force=True)
    assert result.removed_labels == ["production"] and result.promoted == "v1"
    with pytest.raises(PromptNotFoundError, match="no label"):
        store.get_prompt("p", label="production")
    store.set_label("p", "v1", "staging")
    assert store.remove_label("p", "staging") == "v1"
    with pytest.raises(PromptNotFoundError):
        store.remove_label("p", "staging")
    with pytest.raises(ValidationError):
        store.set_label("p", "v1", "../x")


def test_export_import_keeps_bookkeeping(store):
    store.create_prompt("p", "v1", "s1", "u1", {"k": 1})
    store.create_prompt("p", "v2", "s2", "u2")
    store.create_prompt("p", "v3", "s3", "u3")
    store.delete_prompt("p", "v2")
    store.promote_prompt("p", "v1")
    store.set_label("p", "v3", "staging")
    record = store.export_prompt("p")
    assert record.ledger.next_sequence == 4
    original = [t.to_dict() for t in store.history("p")]
    store.delete_prompt("p", "v3", force=True)
    store.delete_prompt("p", "v1")
    assert store.import_prompts([record]) == 2
    assert [t.to_dict() for t in store.history("p")] == original
    assert store.create_prompt("p", "v4", "s", "u").sequence_number == 4
    with pytest.raises(PromptAlreadyExistsError):
        store.import_prompts([record])
    store.import_prompts([record], overwrite=True)
    assert [t.to_dict() for t in store.history("p")] == original


def test_import_skips_empty_records_and_rejects_broken_ones(store):
    record = PromptRecord(Ledger("p"), {})
    assert store.import_prompts([record]) == 0
    assert store.list_names() == []
    broken = PromptRecord(Ledger("q"), {})
    broken.ledger.add("v1")
    with pytest.raises(ValidationError, match="no content"):
        store.import_prompts([broken])
    assert store.list_names() == []
