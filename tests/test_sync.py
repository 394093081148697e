"""One-shot sync into SQLite and PostgreSQL: equality, counts, problems, the mirror marker."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time

import psycopg2
import pytest

from conftest import many_records, run_cli
from promptgear.backends import backend_from_url
from promptgear.errors import ReadOnlyMirrorError, ValidationError
from promptgear.filesystem_backend import FilesystemBackend
from promptgear.sqlite_backend import BULK_ROWS
from promptgear.sync import Syncer
from promptgear.sync.target import Target
from sync_helpers import in_sync


def rows(url):
    store = backend_from_url(url)
    try:
        return {(t.name, t.version): t for t in store.list_prompts()}
    finally:
        store.close()


def sync(tree, url, **kwargs):
    syncer = Syncer(tree.prompt_dir, url, **kwargs)
    try:
        return syncer.run()
    finally:
        syncer.close()


def test_first_sync_copies_everything_with_bookkeeping(tree, target):
    result = sync(tree, target)
    assert (len(result.plan.added), len(result.plan.updated), len(result.plan.deleted), result.plan.unchanged) == (3, 0, 0, 0)
    mirrored = rows(target)
    for template in tree.list_prompts():
        assert mirrored[(template.name, template.version)].to_dict() == template.to_dict()
    again = sync(tree, target)
    assert (again.plan.changes, again.plan.unchanged, again.applied) == (0, 3, False)


def test_changes_are_mirrored(tree, target):
    sync(tree, target)
    tree.update_prompt("a", "v1", system_prompt="changed")
    tree.create_prompt("c", "v1", "s", "u")
    tree.delete_prompt("b", "v1")
    tree.promote_prompt("a", "v1")
    result = sync(tree, target)
    assert sorted(result.plan.added) == ["c:v1"] and result.plan.deleted == ["b:v1"]
    assert sorted(result.plan.updated) == ["a:v1", "a:v2"]
    mirrored = rows(target)
    assert mirrored[("a", "v1")].system_prompt == "changed" and mirrored[("a", "v1")].is_latest
    assert ("b", "v1") not in mirrored and in_sync(tree.prompt_dir, target)


def test_labels_and_next_sequence_are_mirrored(tree, target):
    sync(tree, target)
    tree.set_label("a", "v2", "production")
    tree.create_prompt("a", "v3", "s", "u")
    tree.delete_prompt("a", "v3")  # next_sequence moved on, no version differs
    sync(tree, target)
    store = backend_from_url(target)
    assert store.get_prompt("a", label="production").version == "v2"
    assert store.peek_ledger("a").next_sequence == 4
    store.close()


def test_problems_are_reported_and_last_good_rows_stay(tree, target, isolated_env):
    sync(tree, target)
    folder = isolated_env / "prompts" / "a"
    (folder / "v1.yaml").write_text("name: a\nversion: v1\nsystem_prompt: [broken\n")
    (folder / "v9.yaml").write_text("name: a\nversion: v9\nsystem_prompt: s\nuser_prompt: u\n")
    tree.create_prompt("b", "v2", "s", "u")
    result = sync(tree, target)
    assert result.plan.added == ["b:v2"]
    problems = "\n".join(result.plan.problems)
    assert "a/v1.yaml: not valid YAML" in problems and "a/v9.yaml: not registered" in problems
    assert rows(target)[("a", "v1")].system_prompt == "System a1\nline two"  # the last good copy


def test_check_and_dry_run_change_nothing(tree, target, isolated_env):
    out = run_cli("sync", "--check", "--to", target, cwd=isolated_env)
    assert out.returncode == 1 and "3 to add, 0 to update, 0 to delete" in out.stdout
    dry = run_cli("sync", "--dry-run", "--to", target, cwd=isolated_env)
    assert dry.returncode == 0 and dry.stdout.splitlines()[:3] == ["+ a:v1", "+ a:v2", "+ b:v1"]
    assert run_cli("sync", "--check", "--to", target, cwd=isolated_env).returncode == 1
    done = run_cli("sync", "--to", target, cwd=isolated_env)
    assert done.returncode == 0 and "3 added, 0 updated, 0 deleted, 0 unchanged" in done.stdout
    check = run_cli("sync", "--check", "--to", target, cwd=isolated_env)
    assert check.returncode == 0 and "is in sync" in check.stdout


def test_the_mirror_refuses_writes_and_foreign_data(tree, target, isolated_env):
    sync(tree, target)
    store = backend_from_url(target)
    with pytest.raises(ReadOnlyMirrorError, match="edit the files instead"):
        store.create_prompt("z", "v1", "s", "u")
    store.close()
    other = FilesystemBackend(str(isolated_env / "other"))
    other.create_prompt("q", "v1", "s", "u")
    with pytest.raises(ValidationError, match="mirrors .*/prompts, not .*/other; use --force"):
        sync(other, target)
    sync(other, target, force=True)
    assert set(rows(target)) == {("q", "v1")}


def test_default_target_is_the_embedded_sqlite_file(tree, isolated_env):
    done = run_cli("sync", cwd=isolated_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Synced ./prompts -> sqlite:///prompts.db: 3 added")
    assert (isolated_env / "prompts.db").exists()
    status = run_cli("status", cwd=isolated_env).stdout
    assert "Sync target: sqlite:///prompts.db (in sync)" in status


def test_rows_record_hash_and_commit(tree, isolated_env, pg_url):
    subprocess.run(["git", "init", "-q"], cwd=isolated_env, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=isolated_env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=isolated_env, capture_output=True, text=True).stdout.strip()
    sync(tree, pg_url)
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT source_commit, length(content_hash) FROM prompts")
        assert cur.fetchall() == [(head, 64)]


def test_postgres_notifies_changed_names(tree, pg_url):
    sync(tree, pg_url)
    listener = psycopg2.connect(pg_url)
    listener.autocommit = True
    listener.cursor().execute("LISTEN promptgear")
    tree.create_prompt("b", "v2", "s", "u")
    tree.create_prompt("c", "v1", "s", "u")
    sync(tree, pg_url)
    assert select.select([listener], [], [], 5) != ([], [], [])
    listener.poll()
    payloads = [n.payload for n in listener.notifies]
    assert payloads == ["b,c"]
    listener.close()


def test_status_reports_drift_and_problems(tree, isolated_env):
    run_cli("sync", cwd=isolated_env)
    tree.create_prompt("c", "v1", "s", "u")
    (isolated_env / "prompts" / "a" / "v7.yaml").write_text("name: a\nversion: v7\nsystem_prompt: s\nuser_prompt: u\n")
    info = json.loads(run_cli("status", "-f", "json", cwd=isolated_env).stdout)["sync"]
    assert (info["state"], info["to_add"], info["to_update"], info["to_delete"]) == ("out of sync", 1, 0, 0)
    assert info["lag_seconds"] >= 0 and any("v7.yaml: not registered" in p for p in info["not_mirrored"])


def test_a_file_edited_during_a_sync_is_written_as_scanned_and_taken_by_the_next_pass(tree, tmp_path, isolated_env):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    path = isolated_env / "prompts" / "a" / "v1.yaml"
    syncer = Syncer(tree.prompt_dir, url)

    def edit_after_the_scan(plan):
        path.write_text(path.read_text().replace("System a1", "Edited during sync"))
        return set()

    assert syncer.run(defer=edit_after_the_scan).applied
    assert rows(url)[("a", "v1")].system_prompt.startswith("System a1")  # the snapshot its digest describes
    assert syncer.run().applied  # the next pass sees the file's new stat key
    assert rows(url)[("a", "v1")].system_prompt.startswith("Edited during sync")
    syncer.close()


def test_a_row_edited_behind_syncs_back_is_repaired(tree, target, isolated_env):
    sync(tree, target)
    store = backend_from_url(target)
    with store._connect(write=True) as cur:  # what a stray script might do to the mirror
        cur.execute(store._q("UPDATE prompts SET system_prompt = 'tampered' WHERE name = 'a' AND version = 'v1'"))
    store.close()
    check = run_cli("sync", "--check", "--to", target, cwd=isolated_env)
    assert check.returncode == 1 and "0 to add, 1 to update, 0 to delete" in check.stdout
    assert sync(tree, target).plan.updated == ["a:v1"]
    assert rows(target)[("a", "v1")].system_prompt == "System a1\nline two"


def test_rows_touched_by_hand_but_equal_only_get_their_digest_back(tree, target):
    sync(tree, target)
    store = backend_from_url(target)
    with store._connect(write=True) as cur:  # the digest-clearing triggers fire; the rows stay as they were
        cur.execute(store._q("UPDATE prompts SET source_commit = source_commit WHERE name = 'a'"))
    store.close()
    mirror = Target(target)
    assert mirror.digests()["a"] is None
    result = sync(tree, target)
    assert not result.applied and result.plan.unchanged == 3 and result.plan.stale_digests.keys() == {"a"}
    assert mirror.digests()["a"] is not None  # so later scans take "a" from the index again
    mirror.close()


def test_a_file_read_after_the_scan_is_checked_against_the_scanned_hash(tree, tmp_path, isolated_env):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    time.sleep(0.1)  # past the racy window: the index keeps the files' hashes, so repairs read them anew
    sync(tree, url)
    store = backend_from_url(url)
    with store._connect(write=True) as cur:
        cur.execute("UPDATE prompts SET system_prompt = 'tampered' WHERE name = 'a' AND version = 'v1'")
    store.close()
    path = isolated_env / "prompts" / "a" / "v1.yaml"
    syncer = Syncer(tree.prompt_dir, url)

    def edit_after_the_scan(plan):
        assert plan.updated == ["a:v1"]
        path.write_text(path.read_text().replace("System a1", "Edited during sync"))
        return set()

    result = syncer.run(defer=edit_after_the_scan)
    assert "a:v1 changed while syncing; the next pass takes it" in result.plan.problems
    assert rows(url)[("a", "v1")].system_prompt == "tampered"  # nothing written that its digest does not describe
    syncer.run()
    assert rows(url)[("a", "v1")].system_prompt.startswith("Edited during sync")
    syncer.close()


def test_a_cold_scan_in_worker_processes_finds_what_a_serial_scan_finds(isolated_env):
    root = isolated_env / "prompts"
    store = FilesystemBackend(str(root))
    for i in range(40):
        store.create_prompt(f"p{i:02d}", "v1", f"System {i}", "User {{q}}", {"t": i})
        store.create_prompt(f"p{i:02d}", "v2", f"System {i} again", "User")
    store.set_label("p01", "v1", "prod")
    (root / "p03" / "v1.yaml").write_text("name: p03\nversion: v1\nsystem_prompt: [unclosed\n")
    (root / "p05" / "v9.yaml").write_text("name: p05\nversion: v9\nsystem_prompt: s\nuser_prompt: u\n")
    (root / "p07" / ".metadata.json").unlink()
    (root / "p09" / ".metadata.json").write_text("{not json")
    (root / "p11" / "v2.yaml").unlink()
    time.sleep(0.1)  # past the racy window, so both scans fill their indexes
    # In a fresh process: a scan forks workers only where no other thread runs.
    check = f"""
from promptgear.sync.tree import Tree
serial = Tree({str(root)!r})
serial.parallel_minimum = 10**9
expected = serial.scan()
parallel = Tree({str(root)!r})
parallel.parallel_minimum = 1
seen = []
state = parallel._scan_in_parallel(parallel.names(), lambda done, total: seen.append((done, total)))
assert state == expected, (state, expected)
assert "p03" in state.held and any("p05/v9.yaml: not registered" in p for p in state.problems)
assert parallel.index._entries == serial.index._entries
assert parallel.digests._entries == serial.digests._entries
assert parallel._parsed == serial._parsed
assert seen[-1] == (40, 40) and len(seen) > 1, seen

import os
import promptgear.sync.tree as tree_module

def die(names):
    os._exit(1)  # a worker killed half-way

tree_module._scan_chunk = die
fallback = Tree({str(root)!r})
fallback.parallel_minimum = 1
assert fallback._scan_in_parallel(fallback.names(), None) is None
assert fallback.scan() == expected  # scanned on its own instead
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_large_first_sync_is_whole_searchable_and_leaves_nothing_to_do(isolated_env, target):
    store = FilesystemBackend(str(isolated_env / "prompts"))
    store.import_prompts(many_records(BULK_ROWS // 3 + 1))  # enough rows for the bulk insert path
    rows_expected = 3 * (BULK_ROWS // 3 + 1)
    assert len(sync(store, target).plan.added) == rows_expected
    mirror = Target(target)
    assert len(mirror.digests()) == BULK_ROWS // 3 + 1 and None not in mirror.digests().values()
    assert [t.version for t in mirror.store.search_prompts("needle17x")] == ["v1", "v2", "v3"]
    wanted = [f"missing{i}" for i in range(700)] + [f"bulk{i:04d}" for i in range(BULK_ROWS // 3 + 1)]
    assert sum(map(len, mirror.read(wanted).rows.values())) == rows_expected  # asked in several chunks
    mirror.close()
    again = sync(store, target)
    assert again.plan.unchanged == rows_expected and not again.applied
    store.create_prompt("bulk0005", "v4", "System needle5x edited", "User")
    assert sync(store, target).plan.added == ["bulk0005:v4"]
    assert rows(target)[("bulk0005", "v4")].is_latest
