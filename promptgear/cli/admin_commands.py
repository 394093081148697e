"""Commands that set up, inspect and move whole stores."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import cli
from .output import echo_json

pass_app = click.pass_obj


@cli.command()
@click.option("--backend", type=click.Choice(["filesystem", "sqlite", "postgres"]), default="filesystem", show_default=True)
@click.option("--prompt-dir", default="./prompts", show_default=True, help="Where the prompt files live.")
@click.option("--db-url", help="Database URL for the sqlite/postgres backends.")
@click.option("--force", is_flag=True, help="Set promptgear's settings in an existing .env.")
def init(backend: str, prompt_dir: str, db_url: str | None, force: bool) -> None:
    """Set up promptgear in this folder: prompt folder, .env, schema, .gitignore.

    \b
    Example:
      promptgear init --backend sqlite --db-url sqlite:///prompts.db
    """
    from ..backends import mask_url
    from ..project import init_project

    report = init_project(os.getcwd(), backend, prompt_dir, db_url, force)
    click.echo(f"Created {os.path.relpath(report.prompt_dir)}/ (local state in {os.path.relpath(report.prompt_dir)}/.promptgear/, ignored by git)")
    shown = ", ".join(f"{k}={mask_url(v)}" for k, v in report.settings.items())
    click.echo(f"Wrote {os.path.relpath(report.env_file)}: {shown}")
    if report.schema_created:
        click.echo(f"Database ready: {report.schema_created}")
    if report.gitignore_added:
        click.echo(f"Added to .gitignore: {', '.join(report.gitignore_added)}")
    click.echo("\nNext steps:\n"
               "  promptgear create my-prompt -s \"You are helpful.\" -u \"{{question}}\"\n"
               "  promptgear get my-prompt\n"
               "  git add prompts && git commit -m \"Add my-prompt\"")


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="Also show every setting and where it came from.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_app
def status(app: Any, verbose: bool, fmt: str) -> None:
    """Show the store in use, whether it answers, and what it holds.

    \b
    Example:
      promptgear status --verbose
    """
    from ..status import collect_status

    info = collect_status(app.config, verbose)
    if fmt == "json":
        echo_json(info)
        return
    click.echo(f"Backend:     {info['backend']}")
    click.echo(f"Location:    {info['location']}")
    if not info.get("connected"):
        click.echo(f"Connected:   no ({info.get('error')})")
    else:
        click.echo("Connected:   yes")
        click.echo(f"Prompts:     {info['prompts']}")
        click.echo(f"Versions:    {info['versions']}")
        recent = f"{info['most_recent']} ({info['most_recent_at']})" if info["most_recent"] else "none"
        click.echo(f"Most recent: {recent}")
    sync_info = info.get("sync")
    if sync_info:
        click.echo(f"Sync target: {sync_info['target']} ({sync_info['state']})")
        if sync_info.get("state") == "out of sync":
            click.echo(f"  drift:     {sync_info['to_add']} to add, {sync_info['to_update']} to update, "
                       f"{sync_info['to_delete']} to delete (lag {sync_info.get('lag_seconds', '?')} s)")
        for key, label in (("last_sync_at", "last sync"), ("last_sync_commit", "at commit"), ("last_error", "last error"),
                           ("error", "error")):
            if sync_info.get(key):
                click.echo(f"  {label + ':':<10} {sync_info[key]}")
        for problem in sync_info.get("not_mirrored", []):
            click.echo(f"  not mirrored: {problem}")
    for name, setting in info.get("settings", {}).items():
        click.echo(f"  {name} = {setting['value']}  [{setting['from']}]")
    if not info.get("connected"):
        sys.exit(1)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True)
@pass_app
def export(app: Any, output: str | None, fmt: str) -> None:
    """Export every prompt with its bookkeeping (a bundle that 'import' reads).

    \b
    Example:
      promptgear export -o prompts.json
    """
    from ..atomic import write_atomic
    from ..bundle import dump_bundle

    records = app.manager.backend.export_all()
    text = dump_bundle(records, fmt)
    if output:
        write_atomic(os.path.abspath(output), text)
        versions = sum(len(r.ledger.versions) for r in records)
        click.echo(f"Exported {len(records)} prompt(s), {versions} version(s) to {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace prompts that exist.")
@pass_app
def import_command(app: Any, file: str, overwrite: bool) -> None:
    """Import a bundle made by 'export' (all or nothing).

    \b
    Example:
      promptgear import prompts.json --overwrite
    """
    from ..bundle import load_bundle
    from .inputs import read_text_file

    records = load_bundle(read_text_file(file, "bundle"), file)
    count = app.manager.backend.import_prompts(records, overwrite=overwrite)
    click.echo(f"Imported {len(records)} prompt(s), {count} version(s)")


@cli.command()
@click.option("--from", "source", required=True, metavar="URL", help="Source: a prompt folder, sqlite:///..., postgresql://...")
@click.option("--to", "target", required=True, metavar="URL", help="Target, in the same forms.")
@click.option("--overwrite", is_flag=True, help="Replace prompts that exist in the target.")
def migrate(source: str, target: str, overwrite: bool) -> None:
    """Copy every prompt between stores, keeping sequence numbers, latest flags and timestamps.

    \b
    Example:
      promptgear migrate --from ./prompts --to sqlite:///prompts.db
    """
    from ..backends import backend_from_url, mask_url
    from ..migrate import migrate as run_migrate

    src, dst = backend_from_url(source), backend_from_url(target)
    try:
        if sys.stderr.isatty():
            with click.progressbar(length=max(len(src.list_names()), 1), label="Reading", file=sys.stderr) as bar:
                count = run_migrate(src, dst, overwrite, progress=lambda done, total: bar.update(1))
        else:
            count = run_migrate(src, dst, overwrite)
    finally:
        src.close()
        dst.close()
    click.echo(f"Migrated {count} version(s) from {mask_url(source)} to {mask_url(target)}")
