"""What the git commands do, as library functions the CLI calls."""

from __future__ import annotations

import os
from typing import Any

from ..config import Config
from ..filecache import FileCache
from .checks import Problem, check_tree
from .snapshot import GitCli, GitTree, WorkingTree, git_root, prompt_rel


def policy_of(config: Config) -> dict[str, Any]:
    return {"immutable_versions": config.immutable_versions, "protected_labels": config.protected_labels}


def names_for_paths(prompt_dir: str, paths: list[str]) -> list[str] | None:
    """Prompt names the given paths touch; None means every prompt."""
    root = os.path.abspath(prompt_dir)
    names = set()
    for path in paths:
        rel = os.path.relpath(os.path.abspath(path), root)
        if rel == ".":
            return None
        if rel.startswith(".."):
            continue
        names.add(rel.split(os.sep)[0])
    return sorted(names)


def verdict_cache(config: Config) -> FileCache:
    """Verdicts on version files, kept in the prompt folder's local state between runs."""
    return FileCache(os.path.join(config.prompt_dir, ".promptgear", "cache", "check.json"))


def _checked(config: Config, run: Any, names: list[str] | None) -> list[Problem]:
    """Run a check with the verdict cache when it pays: loading it costs more than
    parsing the few files of a commit that touches a handful of prompts."""
    if names is not None and len(names) <= 20:
        result: list[Problem] = run(None)
        return result
    cache = verdict_cache(config)
    cache.load()
    problems: list[Problem] = run(cache)
    if os.path.isdir(os.path.join(config.prompt_dir, ".promptgear")):
        cache.save()
    return problems


def check_working_tree(config: Config, paths: list[str]) -> list[Problem]:
    names = names_for_paths(config.prompt_dir, paths) if paths else None
    return _checked(config, lambda cache: check_tree(WorkingTree(config.prompt_dir), names, cache=cache), names)


def check_staged(config: Config, all_prompts: bool = False) -> list[Problem]:
    """Judge what the commit will contain: the git index, only the prompts it touches."""
    root = git_root(config.prompt_dir)
    git = GitCli(root)
    rel = prompt_rel(root, config.prompt_dir)
    names: list[str] | None = None
    if not all_prompts:
        # Unmerged paths are listed too, so a conflicted prompt is always checked.
        changed = git.run("diff", "--cached", "--name-only", "-z", "--no-renames", "--", rel if rel != "." else ".")
        prefix = "" if rel == "." else rel + "/"
        names = sorted({p[len(prefix):].split("/")[0] for p in changed.split("\0") if p and p.startswith(prefix)})
        if not names:
            return []
    snapshot = GitTree(git, rel, None, names)
    problems = [Problem(f"{snapshot.label}/{path}", "unresolved merge conflict (run 'promptgear fix', then git add)")
                for path in sorted(snapshot.conflicted)]
    policy = policy_of(config)
    before = None
    if any(policy.values()):
        try:
            git.run("rev-parse", "--verify", "-q", "HEAD")
            before = GitTree(git, rel, "HEAD", names)
        except Exception:
            before = None  # the first commit: nothing was published before it
    return problems + _checked(config, lambda cache: check_tree(snapshot, names, policy, before, cache), names)
