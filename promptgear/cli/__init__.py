"""The ``promptgear`` command line: a click group whose commands are thin.

Every command reads options, calls one library function, and prints. Errors meet one
boundary here: a PromptGearError becomes ``Error: ...`` on stderr with exit 1, usage
errors exit 2 (click), Ctrl-C exits 130, and anything unexpected prints a traceback
only with ``PROMPT_GEAR_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import PromptGearError


def debug_enabled() -> bool:
    return os.environ.get("PROMPT_GEAR_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


class PromptGearGroup(click.Group):
    """A group that turns library errors into one clean line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PromptGearError as exc:
            raise click.ClickException(str(exc)) from exc
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
            ctx.exit(0)
        except Exception as exc:
            if debug_enabled():
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (set PROMPT_GEAR_DEBUG=1 for a traceback)"
            ) from exc


class App:
    """What commands share: settings from global options, and a lazily opened store."""

    def __init__(self, prompt_dir: str | None, backend: str | None, db_url: str | None) -> None:
        self.overrides: dict[str, Any] = {"prompt_dir": prompt_dir, "backend": backend, "db_url": db_url}
        self._config: Any = None
        self._manager: Any = None

    @property
    def config(self) -> Any:
        if self._config is None:
            from ..config import load_config

            self._config = load_config(**self.overrides)
        return self._config

    @property
    def manager(self) -> Any:
        if self._manager is None:
            from ..manager import PromptManager

            self._manager = PromptManager(config=self.config)
        return self._manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()


@click.group(cls=PromptGearGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--prompt-dir", metavar="DIR", help="Prompt folder (overrides PROMPT_GEAR_PROMPT_DIR).")
@click.option("--backend", type=click.Choice(["filesystem", "sqlite", "postgres"]), help="Store to use (overrides PROMPT_GEAR_BACKEND).")
@click.option("--db-url", metavar="URL", help="Database URL (overrides PROMPT_GEAR_DB_URL).")
@click.version_option(__version__, "--version", prog_name="promptgear")
@click.pass_context
def cli(ctx: click.Context, prompt_dir: str | None, backend: str | None, db_url: str | None) -> None:
    """Versioned LLM prompt templates, kept as YAML in git.

    \b
    Example:
      promptgear create greet -s "You are kind." -u "Hello {{name}}"
      promptgear get greet
    """
    app = App(prompt_dir, backend, db_url)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    cli(prog_name="promptgear")


from . import admin_commands, git_commands, prompt_commands, sync_commands  # noqa: E402,F401  (registers the commands)
