"""The filesystem store's files on disk, its cache, and how it treats broken trees."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from promptgear.errors import IntegrityError, LockTimeoutError, PromptNotFoundError
from promptgear.filesystem_backend import FilesystemBackend

SEED_V1 = """name: chatbot
version: v1
system_prompt: |-
  You are a helpful customer support assistant.
  Always be polite and professional.
user_prompt: |-
  Customer: {{customer_message}}
config:
  temperature: 0.7
  max_tokens: 500
  model: gpt-3.5-turbo
sequence_number: 1
is_latest: true
created_at: '2025-01-15T10:30:00.000000'
updated_at: '2025-01-15T10:30:00.000000'
"""


def test_files_on_disk(fs_store, tmp_path):
    fs_store.create_prompt("chatbot", "v1", "Line one\nLine two", "Hi {{name}}", {"temperature": 0.7, "model": "gpt-4"})
    fs_store.create_prompt("chatbot", "v2", "One line", "u")
    folder = tmp_path / "prompts" / "chatbot"
    assert sorted(p.name for p in folder.iterdir()) == [".metadata.json", "latest.yaml", "v1.yaml", "v2.yaml"]
    assert (folder / "v1.yaml").read_text() == (
        "name: chatbot\nversion: v1\nsystem_prompt: |-\n  Line one\n  Line two\nuser_prompt: Hi {{name}}\n"
        "config:\n  model: gpt-4\n  temperature: 0.7\n"
    )
    assert os.readlink(folder / "latest.yaml") == "v2.yaml"
    meta_text = (folder / ".metadata.json").read_text()
    meta = json.loads(meta_text)
    assert meta_text.endswith("}\n") and meta_text.startswith('{\n  "name": "chatbot",\n  "next_sequence": 3,')
    assert list(meta["versions"]) == ["v1", "v2"]
    assert meta["versions"]["v1"]["is_latest"] is False and meta["versions"]["v2"]["is_latest"] is True
    assert "labels" not in meta
    state = tmp_path / "prompts" / ".promptgear"
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (state / "locks" / "chatbot.lock").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_creating_a_version_never_rewrites_older_files(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    v1 = tmp_path / "prompts" / "p" / "v1.yaml"
    before = (v1.stat().st_ino, v1.read_bytes())
    fs_store.create_prompt("p", "v2", "s", "u")
    assert (v1.stat().st_ino, v1.read_bytes()) == before


def test_writes_replace_files_atomically(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    meta = tmp_path / "prompts" / "p" / ".metadata.json"
    inode = meta.stat().st_ino
    fs_store.create_prompt("p", "v2", "s", "u")
    assert meta.stat().st_ino != inode  # replaced, never written in place


def test_seed_format_files_are_read_and_metadata_wins(tmp_path):
    folder = tmp_path / "prompts" / "chatbot"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(SEED_V1)
    (folder / "v2.yaml").write_text(SEED_V1.replace("version: v1", "version: v2").replace("sequence_number: 1", "sequence_number: 2"))
    (folder / ".metadata.json").write_text(json.dumps({
        "name": "chatbot", "next_sequence": 3,
        "versions": {
            "v1": {"sequence_number": 1, "is_latest": True, "created_at": "2025-01-15T10:30:00.000000", "updated_at": "2025-01-15T10:30:00.000000"},
            "v2": {"sequence_number": 2, "is_latest": False, "created_at": "2025-01-15T11:00:00.000000", "updated_at": "2025-01-15T11:00:00.000000"},
        },
    }))
    os.symlink("v1.yaml", folder / "latest.yaml")
    store = FilesystemBackend(str(tmp_path / "prompts"))
    latest = store.get_prompt("chatbot")
    assert latest.version == "v1" and latest.is_latest  # metadata says v1, the file of v2 says nothing
    assert latest.config == {"temperature": 0.7, "max_tokens": 500, "model": "gpt-3.5-turbo"}
    assert latest.created_at.isoformat() == "2025-01-15T10:30:00+00:00"
    v2 = store.get_prompt("chatbot", "v2")
    assert (v2.sequence_number, v2.is_latest) == (2, False)
    assert store.create_prompt("chatbot", "v3", "s", "u").sequence_number == 3


def test_yml_extension(tmp_path):
    store = FilesystemBackend(str(tmp_path / "prompts"), file_extension=".yml")
    store.create_prompt("p", "v1", "s", "u")
    folder = tmp_path / "prompts" / "p"
    assert sorted(p.name for p in folder.iterdir()) == [".metadata.json", "latest.yml", "v1.yml"]
    assert os.readlink(folder / "latest.yml") == "v1.yml"
    assert store.get_prompt("p").version == "v1"


def test_an_edit_on_disk_is_seen_on_the_next_call(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "old", "u")
    assert fs_store.get_prompt("p").system_prompt == "old"
    path = tmp_path / "prompts" / "p" / "v1.yaml"
    path.write_text(path.read_text().replace("old", "new"))  # same size, in place, same tick
    assert fs_store.get_prompt("p").system_prompt == "new"
    time.sleep(0.06)
    assert fs_store.get_prompt("p").system_prompt == "new"  # now cached
    path.write_text(path.read_text().replace("new", "NEW"))
    assert fs_store.get_prompt("p").system_prompt == "NEW"


def test_another_process_writes_are_seen(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    assert fs_store.get_prompt("p").version == "v1"
    FilesystemBackend(str(tmp_path / "prompts")).create_prompt("p", "v2", "s", "u")
    assert fs_store.get_prompt("p").version == "v2"


def test_persistent_cache_serves_a_fresh_process_and_stays_correct(fs_store, tmp_path):
    for i in range(5):
        fs_store.create_prompt(f"p{i}", "v1", f"s{i}", "u")
    time.sleep(0.06)
    assert len(fs_store.list_prompts()) == 5
    cache = tmp_path / "prompts" / ".promptgear" / "cache" / "contents.json"
    assert cache.exists() and (tmp_path / "prompts" / ".promptgear" / ".gitignore").exists()
    path = tmp_path / "prompts" / "p3" / "v1.yaml"
    path.write_text(path.read_text().replace("s3", "S3"))
    fresh = FilesystemBackend(str(tmp_path / "prompts"))
    assert [t.system_prompt for t in fresh.list_prompts()] == ["s0", "s1", "s2", "S3", "s4"]


def _broken_tree(tmp_path: Path) -> FilesystemBackend:
    store = FilesystemBackend(str(tmp_path / "prompts"))
    for name in ("good", "yaml", "meta", "nometa", "escape", "mismatch"):
        store.create_prompt(name, "v1", "s", "u")
    root = tmp_path / "prompts"
    (root / "yaml" / "v1.yaml").write_text("name: yaml\nversion: v1\nsystem_prompt: [unclosed\n")
    (root / "meta" / ".metadata.json").write_text("{not json")
    (root / "nometa" / ".metadata.json").unlink()
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: escape\nversion: v1\nsystem_prompt: stolen\nuser_prompt: u\n")
    (root / "escape" / "v1.yaml").unlink()
    os.symlink(secret, root / "escape" / "v1.yaml")
    (root / "mismatch" / "v1.yaml").write_text("name: other\nversion: v1\nsystem_prompt: s\nuser_prompt: u\n")
    return store


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("yaml", r"yaml/v1\.yaml: not valid YAML"),
        ("meta", r"meta/\.metadata\.json: not valid JSON .*promptgear fix meta"),
        ("nometa", r"nometa/\.metadata\.json: missing, but the folder holds version files"),
        ("escape", r"escape/v1\.yaml: must be a regular file, not a symlink"),
        ("mismatch", r"mismatch/v1\.yaml: name 'other' does not match its folder 'mismatch'"),
    ],
)
def test_a_broken_prompt_fails_clearly_and_alone(tmp_path, name, message):
    store = _broken_tree(tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "prompts").rglob("*") if p.is_file() and ".promptgear" not in p.parts}
    with pytest.raises(IntegrityError, match=message):
        store.get_prompt(name)
    with pytest.raises(IntegrityError):
        store.create_prompt(name, "v2", "s", "u") if name in ("meta", "nometa") else store.get_prompt(name, "v1")
    assert store.get_prompt("good").version == "v1"
    assert {t.name for t in store.list_prompts()} == {"good"}
    after = {p: p.read_bytes() for p in (tmp_path / "prompts").rglob("*") if p.is_file() and ".promptgear" not in p.parts}
    assert after == before  # nothing was overwritten


def test_a_symlinked_prompt_folder_is_not_followed(tmp_path):
    outside = FilesystemBackend(str(tmp_path / "elsewhere"))
    outside.create_prompt("x", "v1", "secret", "u")
    root = tmp_path / "prompts"
    root.mkdir()
    os.symlink(tmp_path / "elsewhere" / "x", root / "x")
    store = FilesystemBackend(str(root))
    assert store.list_names() == []
    with pytest.raises(IntegrityError, match="is a symlink"):
        store.get_prompt("x")


def test_lock_timeout_names_the_prompt(tmp_path):
    from filelock import FileLock

    store = FilesystemBackend(str(tmp_path / "prompts"), lock_timeout=0.2)
    store.create_prompt("busy", "v1", "s", "u")
    held = FileLock(str(tmp_path / "prompts" / ".promptgear" / "locks" / "busy.lock"))
    with held:
        start = time.monotonic()
        with pytest.raises(LockTimeoutError, match="prompt 'busy' is locked by another writer"):
            store.create_prompt("busy", "v2", "s", "u")
        assert time.monotonic() - start < 2
    assert store.list_versions("busy") == ["v1"]


def test_lock_file_survives_release(fs_store, tmp_path):
    # filelock 3.20.4 deleted the lock file on release, which breaks mutual exclusion.
    fs_store.create_prompt("p", "v1", "s", "u")
    lock = tmp_path / "prompts" / ".promptgear" / "locks" / "p.lock"
    inode = lock.stat().st_ino
    fs_store.create_prompt("p", "v2", "s", "u")
    assert lock.stat().st_ino == inode


def test_unknown_extension_is_rejected(tmp_path):
    from promptgear.errors import ValidationError

    with pytest.raises(ValidationError, match="file_extension"):
        FilesystemBackend(str(tmp_path), file_extension=".json")


def test_registered_but_missing_file_is_an_integrity_error(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    (tmp_path / "prompts" / "p" / "v1.yaml").unlink()
    with pytest.raises(IntegrityError, match="registered in .metadata.json but missing"):
        fs_store.get_prompt("p")
    with pytest.raises(PromptNotFoundError):
        fs_store.get_prompt("nope")


def test_metadata_text_is_exactly_indented_json():
    from datetime import datetime, timezone

    from promptgear.ledger import Ledger
    from promptgear.metadata import ledger_to_dict, render_metadata

    ledger = Ledger("naïve")
    assert render_metadata(ledger) == json.dumps(ledger_to_dict(ledger), indent=2, ensure_ascii=False) + "\n"
    for i in range(4):
        ledger.add(f"v{i}", datetime(2025, 1, 15, 10, i, tzinfo=timezone.utc))
    ledger.remove("v1")
    ledger.set_label("production", "v2")
    ledger.set_label("beta", "v0")
    assert render_metadata(ledger) == json.dumps(ledger_to_dict(ledger), indent=2, ensure_ascii=False) + "\n"


def test_metadata_naming_a_path_is_rejected(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    meta = tmp_path / "prompts" / "p" / ".metadata.json"
    data = json.loads(meta.read_text())
    data["versions"]["../../secret"] = data["versions"].pop("v1")
    meta.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="must not contain a path separator"):
        fs_store.get_prompt("p")


def test_reads_write_nothing(tmp_path):
    store = FilesystemBackend(str(tmp_path / "absent"))
    with pytest.raises(PromptNotFoundError):
        store.get_prompt("p")
    assert store.list_prompts() == [] and store.list_names() == []
    assert not (tmp_path / "absent").exists()


def test_yaml_is_loaded_safely(fs_store, tmp_path):
    fs_store.create_prompt("p", "v1", "s", "u")
    path = tmp_path / "prompts" / "p" / "v1.yaml"
    path.write_text("name: p\nversion: v1\nsystem_prompt: !!python/object/apply:os.system ['echo pwned']\nuser_prompt: u\n")
    with pytest.raises(IntegrityError, match="not valid YAML"):
        fs_store.get_prompt("p")
