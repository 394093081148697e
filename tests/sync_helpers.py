"""Helpers for the sync tests: a daemon subprocess, waiting for equality, a TCP proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from promptgear.sync import Syncer


def wait_until(condition, timeout: float = 10.0, interval: float = 0.01) -> float:
    """Seconds it took for ``condition()`` to hold; AssertionError after ``timeout``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def in_sync(prompt_dir: Path, url: str) -> bool:
    syncer = Syncer(str(prompt_dir), url)
    try:
        plan = syncer.plan()
        return plan.in_sync
    except Exception:
        return False
    finally:
        syncer.close()


class Daemon:
    """``promptgear sync --watch`` as a real process."""

    def __init__(self, cwd: Path, url: str, *extra: str) -> None:
        self.log_path = cwd / f"daemon-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        env = {**os.environ, "PROMPT_GEAR_PROMPT_DIR": str(cwd / "prompts")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "promptgear", "sync", "--watch", "--to", url, *extra],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 20) -> None:
        wait_until(lambda: "full reconcile" in self.output() or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.output()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.log.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()


class Proxy:
    """A TCP proxy to PostgreSQL that a test can cut and restore: a server made unreachable."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._sockets.clear()

    def url(self, pg_url: str) -> str:
        return pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{self.port}")
