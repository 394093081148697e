"""Reading what a user gives on the command line: prompt text or files, config, variables."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from ..errors import ValidationError

FORMATS = click.Choice(["table", "json", "yaml"])


def read_text_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\n")
    except FileNotFoundError:
        raise ValidationError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise ValidationError(f"{what} file {path} is a folder") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{what} file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"cannot read {what} file {path}: {exc.strerror}") from None


def text_or_file(text: str | None, path: str | None, what: str, option: str) -> str | None:
    if text is not None and path is not None:
        raise click.UsageError(f"give {what} as text ({option}) or as a file ({option.upper()}-file), not both")
    if path is not None:
        return read_text_file(path, what)
    return text


def parse_json_mapping(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object, like '{{\"model\": \"gpt-4\"}}'")
    return data


def read_mapping_file(path: str, what: str) -> dict[str, Any]:
    """A .json, .yaml or .yml file holding a mapping."""
    text = read_text_file(path, what)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return parse_json_mapping(text, f"{what} file {path}")
    if ext in (".yaml", ".yml"):
        from ..errors import IntegrityError
        from ..versionfile import load_yaml

        try:
            data = load_yaml(text, f"{what} file {path}")
        except IntegrityError as exc:
            raise ValidationError(str(exc)) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValidationError(f"{what} file {path} must hold a mapping")
        return data
    raise ValidationError(f"{what} file {path}: use a .json, .yaml or .yml file")


def config_option_value(text: str | None, path: str | None) -> dict[str, Any] | None:
    if text is not None and path is not None:
        raise click.UsageError("give the config as JSON (--config) or as a file (--config-file), not both")
    if text is not None:
        return parse_json_mapping(text, "--config")
    if path is not None:
        return read_mapping_file(path, "config")
    return None


def content_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options create and update share."""
    options = [
        click.option("-s", "--system", "system", metavar="TEXT", help="System prompt text."),
        click.option("-S", "--system-file", type=click.Path(dir_okay=False), help="Read the system prompt from a file."),
        click.option("-u", "--user", "user", metavar="TEXT", help="User prompt text (with {{variables}})."),
        click.option("-U", "--user-file", type=click.Path(dir_okay=False), help="Read the user prompt from a file."),
        click.option("-c", "--config", "config_json", metavar="JSON", help="Model config as a JSON object."),
        click.option("-C", "--config-file", type=click.Path(dir_okay=False), help="Model config from a .json/.yaml/.yml file."),
        click.option("--description", help="A one-line description."),
        click.option("--tag", "tags", multiple=True, help="A tag (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_vars(pairs: tuple[str, ...], vars_file: str | None) -> dict[str, Any]:
    values: dict[str, Any] = read_mapping_file(vars_file, "variables") if vars_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--var takes key=value, not {pair!r}")
        values[key] = value
    return values


def complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of prompt names."""
    try:
        app = ctx.find_root().obj
        if app is None:
            from . import App

            app = App(None, None, None)
        return [name for name in app.manager.list_names() if name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def complete_versions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of the versions of the prompt named earlier on the line."""
    name = ctx.params.get("name")
    if not name:
        return []
    try:
        app = ctx.find_root().obj
        if app is None:
            from . import App

            app = App(None, None, None)
        return [v for v in app.manager.list_versions(name) if v.startswith(incomplete)]
    except Exception:
        return []
