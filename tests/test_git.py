"""Git integration with real repositories: the pre-commit hook, fix, the merge driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import run_cli
from promptgear.filesystem_backend import FilesystemBackend

GIT = ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com"]


def git(cwd, *args, check=True):
    return subprocess.run(GIT + list(args), cwd=cwd, capture_output=True, text=True, check=check)


@pytest.fixture
def repo(isolated_env):
    git(isolated_env, "init", "-q", "-b", "main")
    store = FilesystemBackend(str(isolated_env / "prompts"))
    store.create_prompt("chat", "v1", "You are kind.\nBe brief.", "Hi {{name}}")
    store.create_prompt("chat", "v2", "You are kinder.", "Hi {{name}}")
    store.create_prompt("other", "v1", "s", "u")
    (isolated_env / ".gitignore").write_text(".promptgear/\n")
    installed = run_cli("hooks", "install", cwd=isolated_env)
    assert installed.returncode == 0, installed.stderr
    git(isolated_env, "add", "-A")
    first = git(isolated_env, "commit", "-q", "-m", "prompts", check=False)
    assert first.returncode == 0, first.stderr
    return isolated_env


def commit(cwd, message="change"):
    git(cwd, "add", "-A")
    return git(cwd, "commit", "-q", "-m", message, check=False)


def meta(cwd, name="chat"):
    return cwd / "prompts" / name / ".metadata.json"


def edit_meta(cwd, change, name="chat"):
    data = json.loads(meta(cwd, name).read_text())
    change(data)
    meta(cwd, name).write_text(json.dumps(data, indent=2))


BROKEN = {
    "broken metadata": (lambda cwd: meta(cwd).write_text("{not json"),
                        "prompts/chat/.metadata.json: not valid JSON"),
    "mismatched name": (lambda cwd: (cwd / "prompts/chat/v1.yaml").write_text(
        "name: chatty\nversion: v1\nsystem_prompt: s\nuser_prompt: u\n"),
        "prompts/chat/v1.yaml: name 'chatty' does not match its folder 'chat' (fix the file)"),
    "dangling latest": (lambda cwd: (os.unlink(cwd / "prompts/chat/latest.yaml"),
                                     os.symlink("v9.yaml", cwd / "prompts/chat/latest.yaml")),
                        "prompts/chat/latest.yaml: points at v9.yaml, but the latest version is v2"),
    "two latest": (lambda cwd: edit_meta(cwd, lambda d: d["versions"]["v1"].update(is_latest=True)),
                   "prompts/chat/.metadata.json: 2 versions are (v1, v2) latest; exactly one must be"),
    "duplicate sequence": (lambda cwd: edit_meta(cwd, lambda d: d["versions"]["v2"].update(sequence_number=1)),
                           "prompts/chat/.metadata.json: sequence number 1 is used by v1, v2; each version needs its own"),
    "symlink out": (lambda cwd: os.symlink("/etc/passwd", cwd / "prompts/chat/v3.yaml"),
                    "prompts/chat/v3.yaml: a symlink; only latest.yaml may be one (replace it with a file)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_hook_rejects_a_broken_commit(repo, case):
    breaker, line = BROKEN[case]
    breaker(repo)
    result = commit(repo)
    assert result.returncode != 0
    assert line in result.stderr, result.stderr
    assert git(repo, "log", "--oneline").stdout.count("\n") == 1  # nothing was committed


def test_a_good_commit_passes_and_only_touched_prompts_are_checked(repo):
    (repo / "prompts/other/v1.yaml").write_text("broken: [")  # broken, but not staged
    FilesystemBackend(str(repo / "prompts")).create_prompt("chat", "v3", "s3", "u")
    git(repo, "add", "prompts/chat")
    assert git(repo, "commit", "-q", "-m", "v3", check=False).returncode == 0
    assert run_cli("check", "--staged", "--all", cwd=repo).returncode == 0  # the index holds the good file
    assert run_cli("check", cwd=repo).returncode == 1  # the working tree has the broken one


def test_fix_repairs_what_the_hook_rejects(repo):
    (repo / "prompts/chat/v3.yaml").write_text("name: chat\nversion: v3\nsystem_prompt: new\nuser_prompt: u\n")
    os.unlink(repo / "prompts/chat/latest.yaml")
    rejected = commit(repo)
    assert rejected.returncode != 0 and "v3.yaml: not registered in .metadata.json" in rejected.stderr
    fixed = run_cli("fix", cwd=repo)
    assert fixed.returncode == 0
    assert "fixed: prompts/chat/v3.yaml: registered as sequence 3" in fixed.stdout
    assert "fixed: prompts/chat/latest.yaml: now points at v3.yaml" in fixed.stdout
    assert commit(repo).returncode == 0
    assert json.loads(meta(repo).read_text())["versions"]["v3"]["is_latest"] is True
    assert run_cli("fix", cwd=repo).stdout == "Nothing to fix.\n"


def test_fix_rebuilds_missing_metadata_without_losing_content(repo):
    meta(repo).unlink()
    assert run_cli("fix", "chat", "--dry-run", cwd=repo).stdout.startswith("would fix: prompts/chat/.metadata.json: missing")
    assert not meta(repo).exists()
    run_cli("fix", "chat", cwd=repo)
    store = FilesystemBackend(str(repo / "prompts"))
    assert [t.version for t in store.history("chat")] == ["v1", "v2"]
    assert store.get_prompt("chat").version == "v2" and run_cli("check", cwd=repo).returncode == 0


def _branches(repo):
    git(repo, "checkout", "-q", "-b", "feature")
    FilesystemBackend(str(repo / "prompts")).create_prompt("chat", "v3-feature", "feature", "u")
    assert commit(repo, "feature v3").returncode == 0
    git(repo, "checkout", "-q", "main")
    store = FilesystemBackend(str(repo / "prompts"))
    store.create_prompt("chat", "v3-main", "main", "u")
    store.set_label("chat", "v1", "production")
    assert commit(repo, "main v3").returncode == 0


def test_merge_with_the_driver_is_clean(repo):
    _branches(repo)
    merged = git(repo, "merge", "-q", "--no-edit", "feature", check=False)
    # The driver merges .metadata.json; git never runs drivers for symlinks, so when both
    # branches moved latest.yaml that one file stops the merge, and fix settles it.
    assert "Merge conflict in prompts/chat/latest.yaml" in merged.stdout
    assert "prompts/chat/.metadata.json" not in merged.stdout.replace("Auto-merging prompts/chat/.metadata.json", "")
    fixed = run_cli("fix", cwd=repo)
    assert "prompts/chat/latest.yaml: merge conflict resolved and staged" in fixed.stdout, fixed.stdout
    done = git(repo, "commit", "-q", "--no-edit", check=False)
    assert done.returncode == 0, done.stderr  # through the pre-commit hook
    data = json.loads(meta(repo).read_text())
    assert set(data["versions"]) == {"v1", "v2", "v3-main", "v3-feature"}
    numbers = [v["sequence_number"] for v in data["versions"].values()]
    assert sorted(numbers) == [1, 2, 3, 4] and data["next_sequence"] == 5
    # Both added a sequence-3 version: the earlier one keeps 3, the later one becomes 4 and latest.
    assert (data["versions"]["v3-feature"]["sequence_number"], data["versions"]["v3-main"]["sequence_number"]) == (3, 4)
    assert [v for v, e in data["versions"].items() if e["is_latest"]] == ["v3-main"]
    assert data["labels"] == {"production": "v1"}
    assert run_cli("check", cwd=repo).returncode == 0, run_cli("check", cwd=repo).stderr
    assert os.readlink(repo / "prompts/chat/latest.yaml") == "v3-main.yaml"


def test_merge_with_the_driver_when_only_one_side_moved_latest(repo):
    git(repo, "checkout", "-q", "-b", "feature")
    FilesystemBackend(str(repo / "prompts")).create_prompt("chat", "v3", "feature", "u")
    assert commit(repo, "feature v3").returncode == 0
    git(repo, "checkout", "-q", "main")
    FilesystemBackend(str(repo / "prompts")).set_label("chat", "v2", "staging")
    assert commit(repo, "label").returncode == 0
    merged = git(repo, "merge", "-q", "--no-edit", "feature", check=False)
    assert merged.returncode == 0, merged.stdout
    data = json.loads(meta(repo).read_text())
    assert data["labels"] == {"staging": "v2"} and data["versions"]["v3"]["is_latest"]
    assert os.readlink(repo / "prompts/chat/latest.yaml") == "v3.yaml"
    assert run_cli("check", cwd=repo).returncode == 0


def test_merge_without_the_driver_is_repaired_by_fix(repo):
    run_cli("hooks", "uninstall", cwd=repo)
    _branches(repo)
    merged = git(repo, "merge", "-q", "--no-edit", "feature", check=False)
    assert merged.returncode != 0  # .metadata.json conflicts
    blocked = run_cli("check", "--staged", cwd=repo)
    assert blocked.returncode == 1
    assert "prompts/chat/.metadata.json: unresolved merge conflict (run 'promptgear fix', then git add)" in blocked.stderr
    fixed = run_cli("fix", cwd=repo)
    assert "resolved the merge conflict" in fixed.stdout, fixed.stdout + fixed.stderr
    assert run_cli("check", cwd=repo).returncode == 0
    assert run_cli("check", "--staged", cwd=repo).returncode == 0  # fix staged what it resolved
    assert git(repo, "commit", "-q", "--no-edit", check=False).returncode == 0
    data = json.loads(meta(repo).read_text())
    assert sorted(v["sequence_number"] for v in data["versions"].values()) == [1, 2, 3, 4]


def test_merge_driver_reports_a_real_label_conflict(tmp_path):
    def ledger(labels):
        return {"name": "p", "next_sequence": 3, "labels": labels, "versions": {
            "v1": {"sequence_number": 1, "is_latest": False, "created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00"},
            "v2": {"sequence_number": 2, "is_latest": True, "created_at": "2025-01-02T00:00:00", "updated_at": "2025-01-02T00:00:00"}}}

    for name, labels in (("base", {}), ("ours", {"production": "v1"}), ("theirs", {"production": "v2"})):
        (tmp_path / name).write_text(json.dumps(ledger(labels)))
    result = run_cli("merge-metadata", str(tmp_path / "base"), str(tmp_path / "ours"), str(tmp_path / "theirs"), cwd=tmp_path)
    assert result.returncode == 1 and "label production: moved to v1 here and to v2 on the other branch" in result.stderr


def test_foreign_hook_is_kept_chained_and_restored(isolated_env):
    git(isolated_env, "init", "-q", "-b", "main")
    hook = isolated_env / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho foreign >> \"$(git rev-parse --show-toplevel)/foreign-ran\"\n")
    hook.chmod(0o755)
    assert run_cli("hooks", "install", cwd=isolated_env).returncode == 0
    assert (isolated_env / ".git/hooks/pre-commit.legacy").exists()
    FilesystemBackend(str(isolated_env / "prompts")).create_prompt("p", "v1", "s", "u")
    (isolated_env / ".gitignore").write_text(".promptgear/\nforeign-ran\n")
    assert commit(isolated_env).returncode == 0
    assert (isolated_env / "foreign-ran").read_text() == "foreign\n"
    assert "merge=promptgear-metadata" in (isolated_env / ".gitattributes").read_text()
    assert run_cli("hooks", "uninstall", cwd=isolated_env).returncode == 0
    assert "echo foreign" in hook.read_text() and not (isolated_env / ".git/hooks/pre-commit.legacy").exists()
    assert "promptgear-metadata" not in (isolated_env / ".gitattributes").read_text()
    assert "promptgear-metadata" not in (isolated_env / ".git/config").read_text()


def test_core_hooks_path_is_respected(isolated_env):
    git(isolated_env, "init", "-q", "-b", "main")
    git(isolated_env, "config", "core.hooksPath", "githooks")
    assert run_cli("hooks", "install", cwd=isolated_env).returncode == 0
    assert (isolated_env / "githooks/pre-commit").exists()
    assert not (isolated_env / ".git/hooks/pre-commit").exists()


def test_immutable_versions_policy(repo):
    (repo / "prompts/chat/v1.yaml").write_text(
        (repo / "prompts/chat/v1.yaml").read_text().replace("Be brief.", "Be very brief."))
    git(repo, "add", "-A")
    assert run_cli("check", "--staged", cwd=repo).returncode == 0
    result = run_cli("check", "--staged", cwd=repo, env={"PROMPT_GEAR_IMMUTABLE_VERSIONS": "1"})
    assert result.returncode == 1
    assert "prompts/chat/v1.yaml: changes a published version; publish a new version instead" in result.stderr


def test_protected_labels_policy(repo):
    store = FilesystemBackend(str(repo / "prompts"))
    store.create_prompt("chat", "v3", "s", "u")
    store.set_label("chat", "v3", "production")
    git(repo, "add", "-A")
    env = {"PROMPT_GEAR_PROTECTED_LABELS": "production"}
    result = run_cli("check", "--staged", cwd=repo, env=env)
    assert result.returncode == 1 and "moves protected label production to v3, created in the same commit" in result.stderr
    store.remove_label("chat", "production")
    assert commit(repo).returncode == 0
    store.set_label("chat", "v3", "production")
    git(repo, "add", "-A")
    assert run_cli("check", "--staged", cwd=repo, env=env).returncode == 0


def test_check_json_and_working_tree_paths(repo):
    (repo / "prompts/other/v1.yaml").write_text("name: wrong\nversion: v1\nsystem_prompt: s\nuser_prompt: u\n")
    assert run_cli("check", "prompts/chat", cwd=repo).returncode == 0
    result = run_cli("check", "prompts/other", "--format", "json", cwd=repo)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [{"path": "prompts/other/v1.yaml",
                                          "message": "name 'wrong' does not match its folder 'other' (fix the file)"}]


def test_history_get_ref_log_and_diff_at_revisions(repo):
    store = FilesystemBackend(str(repo / "prompts"))
    store.update_prompt("chat", "v2", system_prompt="You are the kindest.")
    store.create_prompt("chat", "v3", "third", "u")
    assert commit(repo, "edit v2, add v3").returncode == 0
    old = run_cli("get", "chat", "--ref", "HEAD~1", "-f", "json", cwd=repo)
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["version"] == "v2" and json.loads(old.stdout)["system_prompt"] == "You are kinder."
    assert json.loads(run_cli("get", "chat", "v3", "--ref", "HEAD", "-f", "json", cwd=repo).stdout)["user_prompt"] == "u"
    missing = run_cli("get", "chat", "v3", "--ref", "HEAD~1", cwd=repo)
    assert (missing.returncode, missing.stderr) == (1, "Error: prompt chat:v3 not found at HEAD~1\n")
    assert run_cli("get", "chat", "--ref", "nope", cwd=repo).stderr == "Error: unknown git revision 'nope'\n"
    lines = run_cli("log", "chat", cwd=repo).stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("Tester  edit v2, add v3  (added v3; changed v2)")
    assert lines[1].endswith("Tester  prompts  (added v1, v2)")
    diff = run_cli("diff", "chat", "v2@HEAD~1", "v2", cwd=repo).stdout.splitlines()
    assert diff[:2] == ["--- chat:v2@HEAD~1", "+++ chat:v2"]
    assert "-You are kinder." in diff and "+You are the kindest." in diff
    from promptgear import PromptManager
    from promptgear.hooks.history import GitRevisionStore

    with PromptManager(backend=GitRevisionStore(str(repo / "prompts"), "HEAD~1")) as pm:
        assert pm.list_versions("chat") == ["v1", "v2"] and pm.list_names() == ["chat", "other"]
        with pytest.raises(Exception, match="read-only"):
            pm.create_prompt("chat", "v9", "s", "u")
    assert git(repo, "status", "--porcelain").stdout == ""  # the working tree was not touched


def test_pre_commit_framework_runs_the_check(isolated_env):
    """The real pre-commit framework installs promptgear from this repository and runs its hook."""
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(project, ".git")):
        pytest.skip("needs the promptgear git checkout")
    git(isolated_env, "init", "-q", "-b", "main")
    store = FilesystemBackend(str(isolated_env / "prompts"))
    store.create_prompt("chat", "v1", "s", "u")
    (isolated_env / ".gitignore").write_text(".promptgear/\n")
    git(isolated_env, "add", "-A")
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", project, "promptgear-check"]
    good = subprocess.run(pre_commit, cwd=isolated_env, capture_output=True, text=True, timeout=600)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "promptgear check" in good.stdout and "Passed" in good.stdout
    (isolated_env / "prompts/chat/v1.yaml").write_text("name: other\nversion: v1\nsystem_prompt: s\nuser_prompt: u\n")
    git(isolated_env, "add", "-A")
    bad = subprocess.run(pre_commit, cwd=isolated_env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert "prompts/chat/v1.yaml: name 'other' does not match its folder 'chat'" in bad.stdout


def test_the_verdict_cache_never_hides_a_change(repo):
    path = repo / "prompts/chat/v1.yaml"
    good = path.read_text()
    bad = good.replace("name: chat", "name: chaT")  # same size, same folder, same tick
    for _ in range(2):  # the second round answers from the cache where it may
        assert run_cli("check", cwd=repo).returncode == 0
        path.write_text(bad)
        assert run_cli("check", cwd=repo).returncode == 1
        git(repo, "add", "-A")
        assert run_cli("check", "--staged", cwd=repo).returncode == 1
        path.write_text(good)
        git(repo, "add", "-A")
        assert run_cli("check", "--staged", cwd=repo).returncode == 0
    assert (repo / "prompts/.promptgear/cache/check.json").exists()
