"""Commands that read and write prompts."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import cli
from .inputs import (
    FORMATS,
    complete_names,
    complete_versions,
    config_option_value,
    content_options,
    parse_vars,
    text_or_file,
)
from .output import echo_json, echo_template, echo_templates, echo_versions, use_color

pass_app = click.pass_obj


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.option("-v", "--version", "version", help="Version name (default: v<next sequence number>).")
@content_options
@click.option("-i", "--interactive", is_flag=True, help="Ask for whatever was not given.")
@click.option("--overwrite", is_flag=True, help="Replace the version if it exists.")
@pass_app
def create(app: Any, name: str, version: str | None, system: str | None, system_file: str | None, user: str | None,
           user_file: str | None, config_json: str | None, config_file: str | None, description: str | None,
           tags: tuple[str, ...], interactive: bool, overwrite: bool) -> None:
    """Create a version of a prompt; it becomes the latest.

    \b
    Example:
      promptgear create support -S system.txt -u "Customer: {{message}}" -c '{"model": "gpt-4o"}'
    """
    system_text = text_or_file(system, system_file, "the system prompt", "-s/--system")
    user_text = text_or_file(user, user_file, "the user prompt", "-u/--user")
    config = config_option_value(config_json, config_file)
    if interactive:
        system_text = system_text if system_text is not None else click.prompt("System prompt")
        user_text = user_text if user_text is not None else click.prompt("User prompt")
        if config is None:
            from .inputs import parse_json_mapping

            config = parse_json_mapping(click.prompt("Config (JSON)", default="{}"), "the config")
    if system_text is None:
        raise click.UsageError("missing the system prompt: give -s/--system TEXT or -S/--system-file PATH")
    if user_text is None:
        raise click.UsageError("missing the user prompt: give -u/--user TEXT or -U/--user-file PATH")
    pm = app.manager
    version = version or pm.backend.next_version_name(name)
    created = pm.create_prompt(name, version, system_text, user_text, config, overwrite,
                               description=description, tags=list(tags) or None)
    click.echo(f"Created {created.name}:{created.version} (sequence {created.sequence_number}, latest)")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", required=False, shell_complete=complete_versions)
@click.option("-v", "--version", "version_option", metavar="VERSION", help="Version (same as the VERSION argument).")
@click.option("-l", "--label", help="The version a label points at, e.g. production.")
@click.option("--ref", metavar="REV", help="Read the prompt as it was at a git revision (branch, tag, sha).")
@click.option("-f", "--format", "fmt", type=click.Choice(["yaml", "json", "table", "text"]), default="yaml", show_default=True)
@pass_app
def get(app: Any, name: str, version: str | None, version_option: str | None, label: str | None, ref: str | None,
        fmt: str) -> None:
    """Show a version of a prompt (the latest unless a version or label is given).

    \b
    Example:
      promptgear get support v2 --format json
      promptgear get support --ref HEAD~1
    """
    if version and version_option and version != version_option:
        raise click.UsageError(f"two different versions given: {version} and {version_option}")
    store = revision_store(app, ref) if ref else app.manager.backend
    echo_template(store.get_prompt(name, version or version_option, label=label), fmt)


def revision_store(app: Any, ref: str) -> Any:
    from ..hooks.history import GitRevisionStore

    return GitRevisionStore(app.config.prompt_dir, ref, app.config.file_extension)


def version_at(app: Any, name: str, spec: str) -> Any:
    """``VERSION`` from the store, or ``VERSION@REV`` from git history."""
    version, _, ref = spec.partition("@")
    store = revision_store(app, ref) if ref else app.manager.backend
    return store.get_prompt(name, version or None), (f"{name}:{version}@{ref}" if ref else f"{name}:{version}")


@cli.command("list")
@click.argument("name", required=False, shell_complete=complete_names)
@click.option("-f", "--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--config-filter", metavar="JSON", help="Only versions whose config contains this JSON object.")
@pass_app
def list_command(app: Any, name: str | None, fmt: str, config_filter: str | None) -> None:
    """List prompt versions (all prompts, or one).

    \b
    Example:
      promptgear list --config-filter '{"model": "gpt-4o"}'
    """
    wanted = config_option_value(config_filter, None) if config_filter else None
    echo_templates(app.manager.list_prompts(name, config_filter=wanted), fmt)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.option("-f", "--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_app
def versions(app: Any, name: str, fmt: str) -> None:
    """List the versions of a prompt, oldest first.

    \b
    Example:
      promptgear versions support
    """
    echo_versions(app.manager.history(name), fmt)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", shell_complete=complete_versions)
@click.option("--confirm", is_flag=True, help="Do not ask (needed when not on a terminal).")
@click.option("--force", is_flag=True, help="Delete even if labels point at the version (they are removed).")
@pass_app
def delete(app: Any, name: str, version: str, confirm: bool, force: bool) -> None:
    """Delete a version; if it was the latest, the highest remaining one becomes latest.

    \b
    Example:
      promptgear delete support v3 --confirm
    """
    if not confirm:
        if not sys.stdin.isatty():
            raise click.ClickException(f"refusing to delete {name}:{version} without confirmation; pass --confirm")
        app.manager.get_prompt(name, version)  # a clear error before asking
        click.confirm(f"Delete {name}:{version}?", abort=True)
    result = app.manager.delete_prompt(name, version, force=force)
    message = f"Deleted {name}:{version}"
    if result.prompt_removed:
        message += f" (its last version: prompt {name} removed)"
    elif result.promoted:
        message += f"; {result.promoted} is now the latest"
    click.echo(message)
    if result.removed_labels:
        click.echo(f"Removed label(s) {', '.join(result.removed_labels)} with it")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", shell_complete=complete_versions)
@content_options
@pass_app
def update(app: Any, name: str, version: str, system: str | None, system_file: str | None, user: str | None,
           user_file: str | None, config_json: str | None, config_file: str | None, description: str | None,
           tags: tuple[str, ...]) -> None:
    """Change a version in place (its sequence number stays).

    \b
    Example:
      promptgear update support v2 -c '{"temperature": 0.1}'
    """
    system_text = text_or_file(system, system_file, "the system prompt", "-s/--system")
    user_text = text_or_file(user, user_file, "the user prompt", "-u/--user")
    config = config_option_value(config_json, config_file)
    if system_text is None and user_text is None and config is None and description is None and not tags:
        raise click.UsageError("nothing to update: give --system, --user, --config, --description or --tag")
    updated = app.manager.update_prompt(name, version, system_text, user_text, config,
                                        description=description, tags=list(tags) or None)
    click.echo(f"Updated {updated.name}:{updated.version} (sequence {updated.sequence_number})")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", shell_complete=complete_versions)
@pass_app
def promote(app: Any, name: str, version: str) -> None:
    """Make an existing version the latest (roll back or forward).

    \b
    Example:
      promptgear promote support v1
    """
    promoted = app.manager.promote_prompt(name, version)
    click.echo(f"{promoted.name}:{promoted.version} is now the latest")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", required=False, shell_complete=complete_versions)
@click.option("-l", "--label", help="Render the version a label points at.")
@click.option("--var", "pairs", multiple=True, metavar="KEY=VALUE", help="A variable (repeatable).")
@click.option("--vars-file", type=click.Path(dir_okay=False), help="Variables from a .json/.yaml/.yml file.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_app
def render(app: Any, name: str, version: str | None, label: str | None, pairs: tuple[str, ...], vars_file: str | None,
           fmt: str) -> None:
    """Fill a prompt's {{variables}} and print it.

    \b
    Example:
      promptgear render support --var language=French --var message="Where is my parcel?"
    """
    values = parse_vars(pairs, vars_file)
    rendered = app.manager.get_prompt(name, version, label=label).render(**values)
    if fmt == "json":
        echo_json({"system_prompt": rendered.system_prompt, "user_prompt": rendered.user_prompt,
                   "config": rendered.config, "messages": rendered.messages()})
    else:
        click.echo(f"# system\n{rendered.system_prompt}\n\n# user\n{rendered.user_prompt}")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("old", shell_complete=complete_versions)
@click.argument("new", shell_complete=complete_versions)
@pass_app
def diff(app: Any, name: str, old: str, new: str) -> None:
    """Show what changed between two versions (a unified diff of every field).

    OLD and NEW are VERSION, or VERSION@REV for a version as a git revision held it.

    \b
    Example:
      promptgear diff support v1 v2
      promptgear diff support v2@main v2
    """
    from ..compare import diff_templates

    (before, before_label), (after, after_label) = version_at(app, name, old), version_at(app, name, new)
    text = diff_templates(before, after, before_label, after_label)
    if not text:
        click.echo(f"{before_label} and {after_label} hold the same content")
        return
    color = use_color()
    for line in text.split("\n"):
        style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1]) if color else None
        click.echo(click.style(line, fg=style) if style else line, color=color)


@cli.command()
@click.argument("query")
@click.option("-f", "--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results.")
@pass_app
def search(app: Any, query: str, fmt: str, limit: int | None) -> None:
    """Find versions whose name or prompts contain every word of QUERY (best first).

    \b
    Example:
      promptgear search "customer support"
    """
    echo_templates(app.manager.search_prompts(query, limit=limit), fmt)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("version", shell_complete=complete_versions)
@click.argument("label")
@pass_app
def label(app: Any, name: str, version: str, label: str) -> None:
    """Point a release label (production, staging, ...) at a version.

    \b
    Example:
      promptgear label support v2 production
    """
    app.manager.set_label(name, version, label)
    click.echo(f"{name}:{label} -> {version}")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.argument("label")
@pass_app
def unlabel(app: Any, name: str, label: str) -> None:
    """Remove a release label.

    \b
    Example:
      promptgear unlabel support staging
    """
    version = app.manager.remove_label(name, label)
    click.echo(f"Removed {name}:{label} (was {version})")


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.option("-n", "--limit", type=click.IntRange(min=1), help="At most this many commits.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_app
def log(app: Any, name: str, limit: int | None, fmt: str) -> None:
    """List the git commits that touched a prompt, newest first.

    \b
    Example:
      promptgear log support -n 10
    """
    from dataclasses import asdict

    from ..hooks.history import prompt_log

    entries = prompt_log(app.config.prompt_dir, name, app.config.file_extension, limit)
    if fmt == "json":
        echo_json([asdict(e) for e in entries])
        return
    for e in entries:
        parts = [f"added {', '.join(e.added)}" if e.added else "", f"changed {', '.join(e.changed)}" if e.changed else "",
                 f"removed {', '.join(e.removed)}" if e.removed else ""]
        what = "; ".join(p for p in parts if p)
        click.echo(f"{e.sha[:10]}  {e.date[:19].replace('T', ' ')}  {e.author}  {e.subject}" + (f"  ({what})" if what else ""))
