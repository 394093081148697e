"""Atomic file replacement and per-prompt locks: the one write helper every writer uses."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

from .errors import LockTimeoutError

TEMP_SUFFIX = ".tmp"


def temp_name(path: str) -> str:
    """A hidden sibling temp name: not a YAML file, so checks and sync ignore it."""
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: str) -> bytes:
    """A file's bytes in a few system calls (``open()`` adds fstat, ioctl and lseeks).

    Never follows a symlink: one raises ``OSError`` (ELOOP).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        data = os.read(fd, 65536)
        if len(data) < 65536:
            return data  # a regular file reads short only at its end
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_atomic(path: str, data: str | bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file, flush, fsync, ``os.replace``, fsync folder.

    A reader sees the old file or the new one, never a mix; a crash leaves at worst a
    hidden temp file, which ``promptgear fix`` removes. ``sync_dir=False`` leaves the
    folder's fsync to a later write in the same folder (one fsync persists both renames).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fdatasync(fd)  # data and size; timestamps need no flush
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable and sync_dir:
        fsync_dir(os.path.dirname(path) or ".")


def swap_symlink(path: str, target: str) -> None:
    """Point the symlink ``path`` at ``target`` (relative) atomically.

    Where symlinks cannot be made, the target's bytes are copied instead.
    """
    tmp = temp_name(path)
    try:
        os.symlink(target, tmp)
    except OSError:
        folder = os.path.dirname(path)
        with open(os.path.join(folder, target), "rb") as source:
            write_atomic(path, source.read(), durable=False)
        return
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


_locks: dict[str, Any] = {}


@contextlib.contextmanager
def file_lock(lock_path: str, timeout: float, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``; a timeout raises :class:`LockTimeoutError`.

    The lock file is stable (never a data file, never deleted), which is what keeps the
    lock mutually exclusive across processes. One FileLock per path is kept: building
    one costs more than taking it, and its state is per thread, so threads still exclude
    each other.
    """
    from filelock import FileLock, Timeout

    lock = _locks.get(lock_path)
    if lock is None:
        os.makedirs(os.path.dirname(lock_path), exist_ok=True)
        lock = _locks[lock_path] = FileLock(lock_path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise LockTimeoutError(
            f"{what} is locked by another writer (waited {timeout:g} s); "
            "try again, or raise PROMPT_GEAR_LOCK_TIMEOUT"
        ) from None
    try:
        yield
    finally:
        lock.release()
