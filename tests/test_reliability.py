"""Concurrent writers lose nothing; a writer killed at any moment leaves a readable store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptgear.backends import backend_from_url

WRITER = str(Path(__file__).parent / "helpers" / "writer.py")


def _spawn(url: str, name: str, prefix: str, count: int, go: str | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, WRITER, url, name, prefix, str(count)] + ([go] if go else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_eight_processes_creating_at_once_lose_nothing(store_url, tmp_path):
    go = str(tmp_path / "go")
    writers = [_spawn(store_url, "shared", f"w{n}", 25, go) for n in range(8)]
    for proc in writers:
        assert proc.stdout.readline() == "ready\n"
    Path(go).touch()  # every process is waiting at the start line
    for proc in writers:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    store = backend_from_url(store_url)
    try:
        history = store.history("shared")
        assert len(history) == 200
        assert sorted(t.sequence_number for t in history) == list(range(1, 201))
        assert [t.version for t in history if t.is_latest] == [history[-1].version]
        assert store.get_prompt("shared").version == history[-1].version
        expected = {f"w{n}-{i}" for n in range(8) for i in range(25)}
        assert {t.version for t in history} == expected
        for template in history:
            prefix, i = template.version.split("-")
            updated = int(i) + 2 if int(i) + 2 < 25 and (int(i) + 2) % 3 == 2 else None
            assert template.system_prompt == (f"updated at {updated}" if updated is not None else f"created {template.version}")
        if store.backend_name == "filesystem":
            folder = Path(store_url) / "shared"
            assert os.readlink(folder / "latest.yaml") == history[-1].version + ".yaml"
            assert len(list(folder.glob("w*.yaml"))) == 200
    finally:
        store.close()


def _crash_trial(url: str, seed: int) -> None:
    rng = random.Random(seed)
    name = f"crash{seed}"
    proc = _spawn(url, name, f"t{seed}", 1000)
    acked: dict[str, str] = {}
    in_flight: tuple[str, str, str] | None = None
    # Wait for the first ack, then kill at a random moment.
    ready = proc.stdout.readline()
    assert ready == "ready\n", proc.stderr.read()
    time.sleep(rng.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    out = proc.stdout.read()  # through the same buffered reader readline() used
    proc.wait()
    proc.stderr.close()
    proc.stdout.close()
    for line in out.splitlines():
        kind, op, version, text = line.split(" ", 3)
        if kind == "begin":
            in_flight = (op, version, text)
        else:
            acked[version] = text
            in_flight = None
    store = backend_from_url(url)
    try:
        history = {t.version: t for t in store.history(name)} if store.list_versions(name) else {}
        assert acked.keys() <= history.keys() or not acked
        for version, text in acked.items():
            assert version in history, f"acknowledged {version} lost"
            allowed = {text}
            if in_flight and in_flight[1] == version:
                allowed.add(in_flight[2])
            assert history[version].system_prompt in allowed
        unexpected = set(history) - set(acked) - ({in_flight[1]} if in_flight else set())
        assert not unexpected
        if history:
            assert sum(t.is_latest for t in history.values()) == 1
        # Whatever instant the kill hit, fix leaves a tree that passes every check, losing nothing.
        from promptgear.hooks.checks import check_tree
        from promptgear.hooks.fix import fix_prompt
        from promptgear.hooks.snapshot import WorkingTree

        fix_prompt(store, name)
        assert check_tree(WorkingTree(url), [name]) == []
        repaired = {t.version: t.system_prompt for t in store.history(name)} if store.list_versions(name) else {}
        for version, text in acked.items():
            assert repaired[version] in {text, in_flight[2] if in_flight and in_flight[1] == version else text}
    finally:
        store.close()


def _crash_trials(url: str, trials: int) -> None:
    for seed in range(trials):
        _crash_trial(url, seed)


def test_writer_killed_at_random_moments(tmp_path):
    _crash_trials(str(tmp_path / "prompts"), 30)


@pytest.mark.slow
def test_writer_killed_at_random_moments_many(tmp_path):
    _crash_trials(str(tmp_path / "prompts"), 300)
