"""The filesystem store: ``prompts/NAME/vN.yaml`` + ``.metadata.json`` + ``latest.yaml``.

This store is the source of truth. Writers follow one protocol (DESIGN.md section 1):
take the prompt's lock, re-read the metadata, replace the version file, replace the
metadata (the commit point), swap the ``latest`` symlink. Readers take no lock: every
file they read was replaced atomically, and they resolve the latest version from the
metadata, never from the symlink.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from typing import Any

from .atomic import file_lock, fsync_dir, read_file, remove_tree, swap_symlink, write_atomic
from .errors import IntegrityError, PromptAlreadyExistsError, PromptNotFoundError, ValidationError
from .filecache import FileCache, stat_key
from .ledger import Ledger, RemoveResult
from .metadata import parse_metadata, render_metadata
from .names import validate_label, validate_name, validate_version
from .store import BackendBase, PromptRecord, checked_records, make_template, merged_content, new_content
from .template import PromptTemplate
from .versionfile import dump_yaml, parse_version

log = logging.getLogger(__name__)

METADATA = ".metadata.json"
STATE_DIR = ".promptgear"
TOMBSTONE = ".deleted"
EXTENSIONS = (".yaml", ".yml")


def render_version(content: dict[str, Any]) -> str:
    """Version file text: fixed field order, config keys sorted so every store writes the same bytes."""
    data: dict[str, Any] = {
        "name": content["name"],
        "version": content["version"],
        "system_prompt": content["system_prompt"],
        "user_prompt": content["user_prompt"],
        "config": _sorted(content.get("config") or {}),
    }
    if content.get("description"):
        data["description"] = content["description"]
    if content.get("tags"):
        data["tags"] = list(content["tags"])
    return dump_yaml(data)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def prompt_names(root: str) -> list[str]:
    """The prompt folders under ``root``: real folders with valid names (symlinks are not followed)."""
    names = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(root):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                validate_name(entry.name)
            except ValidationError:
                continue
            names.append(entry.name)
    return sorted(names)


class FilesystemBackend(BackendBase):
    """Prompts as YAML files in a folder tree; the source of truth.

    ``FilesystemBackend(prompt_dir="./prompts", file_extension=".yaml")``; ``.yml`` works too.
    """

    backend_name = "filesystem"

    def __init__(self, prompt_dir: str = "./prompts", file_extension: str = ".yaml", lock_timeout: float = 10.0) -> None:
        if file_extension not in EXTENSIONS:
            raise ValidationError(f"file_extension must be one of {', '.join(EXTENSIONS)}, not {file_extension!r}")
        self.prompt_dir = os.path.abspath(os.fspath(prompt_dir))
        self.file_extension = file_extension
        self.lock_timeout = lock_timeout
        self.state_dir = os.path.join(self.prompt_dir, STATE_DIR)
        self._ledgers: dict[str, tuple[tuple[int, int, int], Ledger]] = {}
        self._contents = FileCache(os.path.join(self.state_dir, "cache", "contents.json"))

    # -- paths ----------------------------------------------------------------------
    def folder(self, name: str) -> str:
        return os.path.join(self.prompt_dir, validate_name(name))

    def version_path(self, name: str, version: str) -> str:
        return os.path.join(self.folder(name), validate_version(version) + self.file_extension)

    def latest_link(self, name: str) -> str:
        return os.path.join(self.folder(name), "latest" + self.file_extension)

    def describe(self) -> str:
        return self.prompt_dir

    def initialize(self) -> None:
        self._ensure_state_dir()

    def _ensure_state_dir(self) -> None:
        """The prompt folder and its state folder, made on the first write (reads write nothing)."""
        if not os.path.isdir(self.state_dir):
            os.makedirs(os.path.join(self.state_dir, "locks"), exist_ok=True)
            ignore = os.path.join(self.state_dir, ".gitignore")
            if not os.path.exists(ignore):
                write_atomic(ignore, "# promptgear's local state (locks, caches); never committed\n*\n", durable=False)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        self._ensure_state_dir()
        path = os.path.join(self.state_dir, "locks", validate_name(name) + ".lock")
        with file_lock(path, self.lock_timeout, f"prompt {name!r}"):
            yield

    # -- reading --------------------------------------------------------------------
    def _checked_folder(self, name: str) -> str:
        folder = self.folder(name)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            raise PromptNotFoundError(f"prompt {name} not found") from None
        if stat.S_ISLNK(st.st_mode):
            raise IntegrityError(f"{folder}: is a symlink; prompt folders must be real folders")
        if not stat.S_ISDIR(st.st_mode):
            raise PromptNotFoundError(f"prompt {name} not found")
        return folder

    def _ledger(self, name: str) -> Ledger:
        """The prompt's metadata, cached while ``.metadata.json`` is unchanged."""
        path = self.prompt_dir + "/" + validate_name(name) + "/" + METADATA
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return self._missing_metadata(name)
        hit = self._ledgers.get(name)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if hit is not None and hit[0] == key:
            return hit[1]
        ledger = self._read_ledger(name, path, st)
        self._ledgers[name] = (key, ledger)
        return ledger

    def _read_ledger(self, name: str, path: str, st: os.stat_result) -> Ledger:
        self._checked_folder(name)
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{path}: must be a regular file, not a symlink")
        return parse_metadata(read_file(path), name, path)

    def _fresh_ledger(self, name: str) -> Ledger | None:
        """The metadata read from disk (under the lock), or None for a new prompt."""
        path = os.path.join(self.folder(name), METADATA)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            try:
                self._missing_metadata(name)
            except PromptNotFoundError:
                return None
            raise  # pragma: no cover - _missing_metadata always raises
        return self._read_ledger(name, path, st)

    def _missing_metadata(self, name: str) -> Ledger:
        folder = self._checked_folder(name)
        if self._version_files(folder):
            raise IntegrityError(
                f"{os.path.join(folder, METADATA)}: missing, but the folder holds version files; "
                f"run 'promptgear fix {name}'"
            )
        raise PromptNotFoundError(f"prompt {name} not found")

    def _version_files(self, folder: str) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            return sorted(
                entry.name
                for entry in os.scandir(folder)
                if entry.name.endswith(EXTENSIONS) and not entry.name.startswith(".")
                and entry.name not in ("latest.yaml", "latest.yml")
            )
        return []

    def _content(self, name: str, version: str) -> dict[str, Any]:
        # ``name`` was validated by _ledger and ``version`` comes from a validated ledger.
        path = self.prompt_dir + "/" + name + "/" + version + self.file_extension
        st = os.lstat(path)  # FileNotFoundError is handled by the callers
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{path}: must be a regular file, not a symlink")

        def load(file_path: str) -> dict[str, Any]:
            return parse_version(read_file(file_path), file_path, name, version)

        content: dict[str, Any] = self._contents.get(path, st, load)
        return content

    def _template(self, ledger: Ledger, version: str) -> PromptTemplate:
        return make_template(ledger, version, self._content(ledger.name, version))

    def get_prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> PromptTemplate:
        ledger = self._ledger(name)
        resolved = ledger.resolve(version, label)
        try:
            return self._template(ledger, resolved)
        except FileNotFoundError:
            # A writer may have just replaced the metadata: look once more.
            self._ledgers.pop(name, None)
            ledger = self._ledger(name)
            resolved = ledger.resolve(version, label)
            try:
                return self._template(ledger, resolved)
            except FileNotFoundError:
                path = self.version_path(name, resolved)
                raise IntegrityError(
                    f"{path}: registered in {METADATA} but missing; run 'promptgear fix {name}'"
                ) from None

    def list_names(self) -> list[str]:
        return prompt_names(self.prompt_dir)

    def history(self, name: str) -> list[PromptTemplate]:
        ledger = self._ledger(name)
        try:
            return [self._template(ledger, version) for version in ledger.ordered()]
        except FileNotFoundError as exc:
            raise IntegrityError(
                f"{exc.filename}: registered in {METADATA} but missing; run 'promptgear fix {name}'"
            ) from None

    def all_templates(self) -> list[PromptTemplate]:
        """Every readable version; a broken prompt is logged and skipped, not fatal."""
        self._contents.load()
        templates: list[PromptTemplate] = []
        for name in self.list_names():
            try:
                templates.extend(self.history(name))
            except PromptNotFoundError:
                continue
            except IntegrityError as exc:
                log.warning("skipping prompt %s: %s", name, exc)
        if self._contents.dirty:
            with contextlib.suppress(OSError):  # a read-only tree simply keeps no cache
                self._ensure_state_dir()
                self._contents.save()
        return templates

    def peek_ledger(self, name: str) -> Ledger | None:
        try:
            return self._ledger(name)
        except PromptNotFoundError:
            return None

    def export_prompt(self, name: str) -> PromptRecord:
        ledger = self._ledger(name)
        try:
            contents = {version: self._content(name, version) for version in ledger.ordered()}
        except FileNotFoundError as exc:
            raise IntegrityError(f"{exc.filename}: registered in {METADATA} but missing") from None
        return PromptRecord(ledger, contents)

    # -- writing --------------------------------------------------------------------
    def _commit(self, name: str, ledger: Ledger, writes: dict[str, str], durable: bool = True, new: bool = False) -> None:
        """Steps 3-5 of the write protocol: version files, metadata (commit point), symlink.

        A ``new`` prompt is built in a staging folder and renamed into place, so its first
        write has a single commit point too.
        """
        folder = self.folder(name)
        if new and self._commit_new(name, ledger, writes, durable):
            return
        os.makedirs(folder, exist_ok=True)
        for version, text in writes.items():
            # The folder fsync after the metadata replace persists this rename too.
            write_atomic(self.version_path(name, version), text, durable=durable, sync_dir=False)
        write_atomic(os.path.join(folder, METADATA), render_metadata(ledger), durable=durable)
        self._ledgers.pop(name, None)
        latest = ledger.latest()
        if latest is not None:
            swap_symlink(self.latest_link(name), latest + self.file_extension)

    def _commit_new(self, name: str, ledger: Ledger, writes: dict[str, str], durable: bool) -> bool:
        """Stage and rename a new prompt folder; False if a non-empty folder is in the way."""
        staging = os.path.join(self.state_dir, "staging")
        os.makedirs(staging, exist_ok=True)
        temp = os.path.join(staging, f"{name}.{secrets.token_hex(4)}")
        os.mkdir(temp)
        try:
            for version, text in writes.items():
                write_atomic(os.path.join(temp, version + self.file_extension), text, durable=durable, sync_dir=False)
            write_atomic(os.path.join(temp, METADATA), render_metadata(ledger), durable=durable)
            latest = ledger.latest()
            if latest is not None:
                swap_symlink(os.path.join(temp, "latest" + self.file_extension), latest + self.file_extension)
            os.rename(temp, self.folder(name))  # replaces an empty folder atomically
        except OSError as exc:
            remove_tree(temp)
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False  # stray files in the folder: fall back to writing in place
            raise
        except BaseException:
            remove_tree(temp)
            raise
        if durable:
            fsync_dir(self.prompt_dir)
        self._ledgers.pop(name, None)
        return True

    def create_prompt(
        self,
        name: str,
        version: str,
        system_prompt: str,
        user_prompt: str,
        config: dict[str, Any] | None = None,
        overwrite: bool = False,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> PromptTemplate:
        content = new_content(name, version, system_prompt, user_prompt, config, description, tags)
        text = render_version(content)  # rendered before the lock: short critical sections
        with self._locked(name):
            existing = self._fresh_ledger(name)
            ledger = existing or Ledger(name)
            if version in ledger.versions and not overwrite:
                raise PromptAlreadyExistsError(
                    f"prompt {name}:{version} already exists; use overwrite=True (--overwrite) to replace it"
                )
            ledger.add(version)
            self._commit(name, ledger, {version: text}, new=existing is None)
        return make_template(ledger, version, content)

    def update_prompt(
        self,
        name: str,
        version: str,
        system_prompt: str | None = None,
        user_prompt: str | None = None,
        config: dict[str, Any] | None = None,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> PromptTemplate:
        validate_version(version)
        with self._locked(name):
            ledger = self._fresh_ledger(name)
            if ledger is None:
                raise PromptNotFoundError(f"prompt {name} not found")
            ledger.entry(version)
            current = self._content(name, version)
            content = merged_content(
                current, system_prompt=system_prompt, user_prompt=user_prompt, config=config,
                description=description, tags=tags,
            )
            ledger.touch(version)
            folder = self.folder(name)
            write_atomic(self.version_path(name, version), render_version(content), sync_dir=False)
            write_atomic(os.path.join(folder, METADATA), render_metadata(ledger))
            self._ledgers.pop(name, None)
        return make_template(ledger, version, content)

    def delete_prompt(self, name: str, version: str, force: bool = False) -> RemoveResult:
        validate_version(version)
        with self._locked(name):
            ledger = self._fresh_ledger(name)
            if ledger is None:
                raise PromptNotFoundError(f"prompt {name}:{version} not found")
            result = ledger.remove(version, force=force)
            folder = self.folder(name)
            if result.prompt_removed:
                self._remove_folder(name)
            else:
                # Move the file aside first, so a crash never leaves an unregistered
                # version file that 'fix' would bring back: it restores or finishes.
                path = self.version_path(name, version)
                tomb = os.path.join(folder, "." + os.path.basename(path) + TOMBSTONE)
                with contextlib.suppress(FileNotFoundError):
                    os.replace(path, tomb)
                write_atomic(os.path.join(folder, METADATA), render_metadata(ledger))
                if result.promoted:
                    swap_symlink(self.latest_link(name), result.promoted + self.file_extension)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tomb)
            self._ledgers.pop(name, None)
        return result

    def _remove_folder(self, name: str) -> None:
        """Remove a whole prompt with one rename (the commit point), then clean up."""
        trash = os.path.join(self.state_dir, "trash")
        os.makedirs(trash, exist_ok=True)
        target = os.path.join(trash, f"{name}.{secrets.token_hex(4)}")
        os.rename(self.folder(name), target)
        fsync_dir(self.prompt_dir)
        remove_tree(target)

    def _rewrite_metadata(self, name: str, change: Any) -> Ledger:
        """Apply ``change(ledger)`` under the lock and commit the metadata."""
        with self._locked(name):
            ledger = self._fresh_ledger(name)
            if ledger is None:
                raise PromptNotFoundError(f"prompt {name} not found")
            change(ledger)
            folder = self.folder(name)
            write_atomic(os.path.join(folder, METADATA), render_metadata(ledger))
            self._ledgers.pop(name, None)
            latest = ledger.latest()
            if latest is not None:
                swap_symlink(self.latest_link(name), latest + self.file_extension)
        return ledger

    def promote_prompt(self, name: str, version: str) -> PromptTemplate:
        validate_version(version)
        ledger = self._rewrite_metadata(name, lambda ledger: ledger.promote(version))
        return self._template(ledger, version)

    def set_label(self, name: str, version: str, label: str) -> PromptTemplate:
        validate_version(version)
        validate_label(label)
        ledger = self._rewrite_metadata(name, lambda ledger: ledger.set_label(label, version))
        return self._template(ledger, version)

    def remove_label(self, name: str, label: str) -> str:
        removed: list[str] = []
        self._rewrite_metadata(name, lambda ledger: removed.append(ledger.remove_label(label)))
        return removed[0]

    def import_prompts(self, records: Iterable[PromptRecord], overwrite: bool = False) -> int:
        records = checked_records(records)
        if not overwrite:
            clashes = [r.name for r in records if os.path.exists(os.path.join(self.folder(r.name), METADATA))]
            if clashes:
                raise PromptAlreadyExistsError(
                    f"prompt(s) already exist: {', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''}; "
                    "use overwrite to replace them"
                )
        count = 0
        for record in records:
            with self._locked(record.name):
                old = self._version_files(self.folder(record.name))
                texts = {version: render_version(content) for version, content in record.contents.items()}
                self._commit(record.name, record.ledger, texts, durable=False, new=not old)
                keep = {version + self.file_extension for version in record.ledger.versions}
                for stale in old:
                    if stale not in keep:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(os.path.join(self.folder(record.name), stale))
            count += len(record.ledger.versions)
        os.sync()  # one flush for the whole import instead of two fsyncs per file
        return count
