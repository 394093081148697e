"""Setting up a project folder: the prompt folder, ``.env``, ``.gitignore``, the schema."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .backends import backend_from_url, mask_url, sqlite_path, url_kind
from .errors import ValidationError
from .filesystem_backend import FilesystemBackend


@dataclass
class InitReport:
    prompt_dir: str
    env_file: str
    settings: dict[str, str]
    gitignore_added: list[str] = field(default_factory=list)
    schema_created: str | None = None


def find_git_root(start: str) -> str | None:
    folder = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def init_project(cwd: str, backend: str, prompt_dir: str, db_url: str | None, force: bool) -> InitReport:
    """Create the prompt folder, write ``.env``, create a database schema, update ``.gitignore``.

    Refuses to touch an existing ``.env`` unless ``force``; then only PROMPT_GEAR_*
    keys are set and every other line is kept.
    """
    env_file = os.path.join(cwd, ".env")
    if os.path.exists(env_file) and not force:
        raise ValidationError(f"{env_file} already exists; pass --force to set promptgear's settings in it")
    settings = {"PROMPT_GEAR_BACKEND": backend, "PROMPT_GEAR_PROMPT_DIR": prompt_dir}
    if backend != "filesystem":
        if not db_url:
            db_url = "sqlite:///prompts.db" if backend == "sqlite" else ""
        if not db_url:
            raise ValidationError("the postgres backend needs --db-url postgresql://USER:PASSWORD@HOST:PORT/DB")
        if url_kind(db_url) != backend:
            raise ValidationError(f"--db-url {mask_url(db_url)} is not a {backend} URL")
        settings["PROMPT_GEAR_DB_URL"] = db_url
    report = InitReport(os.path.join(cwd, prompt_dir), env_file, settings)

    # Check everything that can fail before writing anything.
    store = backend_from_url(db_url) if backend != "filesystem" and db_url else None
    if store is not None:
        report.schema_created = store.describe()
        store.close()
    FilesystemBackend(report.prompt_dir).initialize()

    from dotenv import set_key

    if not os.path.exists(env_file):
        with open(env_file, "w", encoding="utf-8") as handle:
            handle.write("# promptgear settings (this file may hold a password: never commit it)\n")
        os.chmod(env_file, 0o600)
    for key, value in settings.items():
        set_key(env_file, key, value, quote_mode="never")

    root = find_git_root(cwd)
    if root is not None:
        wanted = [os.path.relpath(env_file, root)]
        # The local database: the sqlite store itself, or the default sync mirror of the files.
        local_db = db_url if backend == "sqlite" and db_url else "sqlite:///prompts.db" if backend == "filesystem" else None
        if local_db and sqlite_path(local_db) != ":memory:":
            db_file = os.path.relpath(os.path.join(cwd, sqlite_path(local_db)), root)
            wanted += [db_file, db_file + "-wal", db_file + "-shm", db_file + ".sync-lock"]
        report.gitignore_added = add_to_gitignore(os.path.join(root, ".gitignore"), wanted)
    return report


def add_to_gitignore(path: str, entries: list[str]) -> list[str]:
    """Append the entries that are not there yet; returns what was added."""
    existing = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            existing = [line.strip() for line in handle]
    added = [entry for entry in entries if entry not in existing and "/" + entry not in existing]
    if added:
        with open(path, "a", encoding="utf-8") as handle:
            if existing and existing[-1] != "":
                handle.write("\n")
            handle.write("# promptgear\n" + "".join(f"/{entry}\n" for entry in added))
    return added
