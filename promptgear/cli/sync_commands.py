"""``promptgear sync``: mirror the prompt files into a database."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from . import cli


@cli.command()
@click.option("--to", "target", metavar="URL", help="Database to mirror into (default: PROMPT_GEAR_SYNC_URL, "
              "else PROMPT_GEAR_DB_URL, else sqlite:///prompts.db).")
@click.option("--watch", is_flag=True, help="Keep syncing as files change, until Ctrl-C or SIGTERM.")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the database differs from the files.")
@click.option("--force", is_flag=True, help="Mirror into a database that holds other prompts (they are replaced).")
@click.option("--full-interval", type=click.FloatRange(min=1), default=300, show_default=True,
              help="With --watch: seconds between full reconciles (the safety net).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
@click.pass_obj
def sync(app: Any, target: str | None, watch: bool, dry_run: bool, check: bool, force: bool, full_interval: float,
         log_level: str) -> None:
    """Make a database equal to the prompt files (and keep it so with --watch).

    \b
    Example:
      promptgear sync --to sqlite:///prompts.db
      promptgear sync --watch --to postgresql://app@db/prompts
    """
    from ..backends import mask_url
    from ..sync import Syncer

    config = app.config
    url = target or config.effective_sync_url()
    if watch and (dry_run or check):
        raise click.UsageError("--watch cannot be combined with --dry-run or --check")
    syncer = Syncer(config.prompt_dir, url, config.file_extension, force=force)
    try:
        if watch:
            from ..sync.watch import Daemon

            logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                                format="%(asctime)s %(levelname)s %(message)s")
            for noisy in ("watchdog", "filelock", "git"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            Daemon(syncer, full_interval=full_interval).run()
            click.echo("Stopped.", err=True)
            return
        progress = None
        bar = None
        if sys.stderr.isatty() and not check:
            bar = click.progressbar(length=max(len(syncer.tree.names()), 1), label="Scanning", file=sys.stderr)
            bar.__enter__()
            progress = lambda done, total: bar.update(max(0, done - bar.pos))  # noqa: E731
        try:
            result = syncer.run(dry_run=dry_run or check, progress=progress)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        plan = result.plan
        for problem in plan.problems:
            click.echo(f"Warning: not mirrored: {problem}", err=True)
        shown = mask_url(url)
        if check:
            if plan.in_sync:
                click.echo(f"{shown} is in sync with {config.prompt_dir}")
                return
            click.echo(f"{shown} is out of sync with {config.prompt_dir}: {len(plan.added)} to add, "
                       f"{len(plan.updated)} to update, {len(plan.deleted)} to delete")
            sys.exit(1)
        if dry_run:
            for sign, items in (("+", plan.added), ("~", plan.updated), ("-", plan.deleted)):
                for item in items:
                    click.echo(f"{sign} {item}")
            click.echo(f"Would sync {config.prompt_dir} -> {shown}: {result.summary()}")
            return
        click.echo(f"Synced {config.prompt_dir} -> {shown}: {result.summary()}")
    finally:
        syncer.close()
