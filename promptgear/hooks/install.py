"""Installing promptgear's git hooks politely, and the metadata merge driver.

A foreign hook is kept as ``HOOK.legacy`` and run first; ``core.hooksPath`` is respected;
uninstall puts back what was there.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from typing import Any

MARKER = "# promptgear-hook"
DRIVER = "promptgear-metadata"
HOOKS = {
    "pre-commit": "check --staged",
    "post-merge": "fix --quiet",
    "post-checkout": "fix --quiet",
    "post-rewrite": "fix --quiet",
}


def hooks_dir(repo: Any) -> str:
    path = repo.git.rev_parse("--git-path", "hooks")
    return os.path.join(repo.working_tree_dir, path) if not os.path.isabs(path) else path


def _command() -> str:
    """How the shim runs promptgear: this interpreter, so no PATH or virtualenv is needed."""
    return f"{shlex.quote(sys.executable)} -m promptgear"


def shim(hook: str, sync: bool) -> str:
    lines = [
        "#!/bin/sh",
        f"{MARKER}: {hook} (installed by 'promptgear hooks install'; 'promptgear hooks uninstall' removes it)",
        f'if [ -x "$0.legacy" ]; then "$0.legacy" "$@" || exit $?; fi',
    ]
    if hook == "pre-commit":
        lines.append(f"exec {_command()} {HOOKS[hook]}")
    else:
        lines.append(f"{_command()} {HOOKS[hook]} || true")
        if sync:
            lines.append(f"{_command()} sync || true")
    return "\n".join(lines) + "\n"


def is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return MARKER in handle.read(4096)
    except OSError:
        return False


def install(repo: Any, prompt_rel: str, sync: bool, force: bool = False) -> list[str]:
    """Install the shims, the merge driver and its .gitattributes line; returns what was done."""
    done = []
    folder = hooks_dir(repo)
    os.makedirs(folder, exist_ok=True)
    for hook in HOOKS:
        path = os.path.join(folder, hook)
        if os.path.exists(path) and not is_ours(path):
            legacy = path + ".legacy"
            if os.path.exists(legacy) and not force:
                from ..errors import ValidationError

                raise ValidationError(f"{legacy} exists already; move it away or pass --force")
            os.replace(path, legacy)
            done.append(f"kept your {hook} hook as {os.path.basename(legacy)} (it still runs first)")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(shim(hook, sync))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        done.append(f"installed {os.path.relpath(path, repo.working_tree_dir)}")
    with repo.config_writer() as config:
        config.set_value(f'merge "{DRIVER}"', "name", "promptgear .metadata.json merge")
        config.set_value(f'merge "{DRIVER}"', "driver", f"{_command()} merge-metadata %O %A %B")
    done.append(f"registered the merge driver {DRIVER} in .git/config")
    pattern = f"{prompt_rel}/**/.metadata.json" if prompt_rel not in ("", ".") else "**/.metadata.json"
    line = f"{pattern} merge={DRIVER}"
    attributes = os.path.join(repo.working_tree_dir, ".gitattributes")
    existing = open(attributes, encoding="utf-8").read().splitlines() if os.path.exists(attributes) else []
    if line not in existing:
        with open(attributes, "a", encoding="utf-8") as handle:
            if existing and existing[-1]:
                handle.write("\n")
            handle.write(line + "\n")
        done.append(f"added '{line}' to .gitattributes")
    return done


def uninstall(repo: Any) -> list[str]:
    done = []
    folder = hooks_dir(repo)
    for hook in HOOKS:
        path = os.path.join(folder, hook)
        if os.path.exists(path) and is_ours(path):
            os.unlink(path)
            done.append(f"removed {hook}")
            if os.path.exists(path + ".legacy"):
                os.replace(path + ".legacy", path)
                done.append(f"restored your {hook} hook")
    with repo.config_writer() as config:
        if config.has_section(f'merge "{DRIVER}"'):
            config.remove_section(f'merge "{DRIVER}"')
            done.append("removed the merge driver from .git/config")
    attributes = os.path.join(repo.working_tree_dir, ".gitattributes")
    if os.path.exists(attributes):
        lines = open(attributes, encoding="utf-8").read().splitlines()
        kept = [line for line in lines if f"merge={DRIVER}" not in line]
        if kept != lines:
            with open(attributes, "w", encoding="utf-8") as handle:
                handle.write("\n".join(kept) + ("\n" if kept else ""))
            done.append("removed the merge driver from .gitattributes")
    return done
