"""Commands for git: integrity check, repair, hooks, the metadata merge driver."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import cli
from .inputs import complete_names


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--staged", is_flag=True, help="Check the git index (what the commit will hold), not the files.")
@click.option("--all", "all_prompts", is_flag=True, help="With --staged: every prompt, not only those the commit touches.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def check(app: Any, paths: tuple[str, ...], staged: bool, all_prompts: bool, fmt: str) -> None:
    """Check the prompt tree's integrity (exit 1 on any problem). The pre-commit hook runs it.

    \b
    Example:
      promptgear check --staged
    """
    from ..hooks.run import check_staged, check_working_tree

    problems = check_staged(app.config, all_prompts) if staged else check_working_tree(app.config, list(paths))
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
    if problems:
        sys.exit(1)


@cli.command()
@click.argument("names", nargs=-1, shell_complete=complete_names)
@click.option("--dry-run", is_flag=True, help="Print the repairs; change nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when there is nothing to repair.")
@click.pass_obj
def fix(app: Any, names: tuple[str, ...], dry_run: bool, quiet: bool) -> None:
    """Repair prompt folders without losing content (metadata, latest.yaml, merge conflicts).

    \b
    Example:
      promptgear fix support --dry-run
    """
    from ..filesystem_backend import FilesystemBackend
    from ..hooks.fix import fix_prompt

    store = FilesystemBackend(app.config.prompt_dir, app.config.file_extension, lock_timeout=app.config.lock_timeout)
    repairs = []
    for name in names or store.list_names():
        repairs += fix_prompt(store, name, dry_run)
    for line in repairs:
        click.echo(("would fix: " if dry_run else "fixed: ") + line)
    if not repairs and not quiet:
        click.echo("Nothing to fix.")


@cli.group()
def hooks() -> None:
    """Install or remove promptgear's git hooks and merge driver.

    \b
    Example:
      promptgear hooks install
    """


@hooks.command("install")
@click.option("--force", is_flag=True, help="Replace an earlier saved .legacy hook.")
@click.pass_obj
def hooks_install(app: Any, force: bool) -> None:
    """Install the pre-commit check, post-merge/checkout/rewrite repairs, and the merge driver.

    \b
    Example:
      promptgear hooks install
    """
    from ..hooks.install import install
    from ..hooks.snapshot import open_repo, prompt_rel

    repo = open_repo(app.config.prompt_dir)
    sync = bool(app.config.sync_url)
    for line in install(repo, prompt_rel(repo, app.config.prompt_dir), sync, force):
        click.echo(line)


@hooks.command("uninstall")
@click.pass_obj
def hooks_uninstall(app: Any) -> None:
    """Remove promptgear's hooks and merge driver; put back the hooks that were there.

    \b
    Example:
      promptgear hooks uninstall
    """
    from ..hooks.install import uninstall
    from ..hooks.snapshot import open_repo

    for line in uninstall(open_repo(app.config.prompt_dir)) or ["Nothing to remove."]:
        click.echo(line)


@cli.command("merge-metadata")
@click.argument("base", type=click.Path())
@click.argument("ours", type=click.Path())
@click.argument("theirs", type=click.Path())
def merge_metadata(base: str, ours: str, theirs: str) -> None:
    """Git merge driver for .metadata.json: writes the merge into OURS (exit 1 on a real conflict).

    \b
    Example:
      promptgear merge-metadata %O %A %B    (what 'promptgear hooks install' registers with git)
    """
    import os

    from ..atomic import write_atomic
    from ..hooks.merge import merge_ledgers
    from ..metadata import ledger_from_dict, render_metadata

    def load(path: str) -> Any:
        with open(path, "rb") as handle:
            raw = handle.read()
        if not raw.strip():
            return None
        data = json.loads(raw)
        return ledger_from_dict(data, data.get("name", ""), path)

    mine, other = load(ours), load(theirs)
    if mine is None or other is None:
        sys.exit(1)
    merged, conflicts = merge_ledgers(load(base), mine, other)
    write_atomic(os.path.abspath(ours), render_metadata(merged), durable=False)
    for conflict in conflicts:
        click.echo(f"promptgear merge: {conflict}", err=True)
    if conflicts:
        sys.exit(1)
