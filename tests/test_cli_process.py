"""The main flows through real processes, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import run_cli


def ok(*args, cwd, **kwargs):
    result = run_cli(*args, cwd=cwd, **kwargs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" or args[0] in ("export",), result.stderr
    return result.stdout


def test_main_flow(isolated_env):
    cwd = isolated_env
    subprocess.run(["git", "init", "-q"], cwd=cwd, check=True)
    assert "Next steps:" in ok("init", cwd=cwd)
    (cwd / "system.md").write_text("You are a support agent.\nAnswer in {{language}}.\n")
    (cwd / "config.json").write_text('{"model": "gpt-4o-mini", "temperature": 0.3}')
    assert ok("create", "support", "-S", "system.md", "-u", "Customer: {{message}}", "-C", "config.json", cwd=cwd) == \
        "Created support:v1 (sequence 1, latest)\n"
    ok("create", "support", "-s", "Be concise.", "-u", "Customer: {{message}}", cwd=cwd)
    assert json.loads(ok("get", "support", "v1", "--format", "json", cwd=cwd))["config"]["model"] == "gpt-4o-mini"
    assert ok("get", "support", cwd=cwd).startswith("name: support\nversion: v2\n")
    assert ok("get", "support", "-f", "text", cwd=cwd) == "# system\nBe concise.\n\n# user\nCustomer: {{message}}\n"
    assert "Field" in ok("get", "support", "-f", "table", cwd=cwd)
    assert ok("versions", "support", cwd=cwd).splitlines()[3].split()[:3] == ["v2", "2", "yes"]
    rendered = ok("render", "support", "v1", "--var", "language=French", "--var", "message=Hi", cwd=cwd)
    assert rendered == "# system\nYou are a support agent.\nAnswer in French.\n\n# user\nCustomer: Hi\n"
    assert "+Be concise." in ok("diff", "support", "v1", "v2", cwd=cwd)
    assert "\x1b[" not in ok("diff", "support", "v1", "v2", cwd=cwd)  # no colour when not on a terminal
    ok("export", "-o", "bundle.json", cwd=cwd)
    assert ok("delete", "support", "v2", "--confirm", cwd=cwd) == "Deleted support:v2; v1 is now the latest\n"
    ok("import", "bundle.json", "--overwrite", cwd=cwd)
    assert json.loads(ok("get", "support", "-f", "json", cwd=cwd))["version"] == "v2"
    assert "/.env" in (cwd / ".gitignore").read_text()


def test_python_dash_m_and_errors_without_traceback(isolated_env):
    result = subprocess.run([sys.executable, "-m", "promptgear", "get", "missing"], cwd=isolated_env,
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "Error: prompt missing not found\n")
    (isolated_env / "prompts").mkdir()
    (isolated_env / "prompts" / "broken").mkdir()
    (isolated_env / "prompts" / "broken" / ".metadata.json").write_text("{")
    result = run_cli("get", "broken", cwd=isolated_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and "broken/.metadata.json: not valid JSON" in result.stderr


def test_usage_error_exits_2(isolated_env):
    result = run_cli("get", cwd=isolated_env)
    assert result.returncode == 2 and "Missing argument 'NAME'" in result.stderr


def test_ctrl_c_exits_130(isolated_env):
    proc = subprocess.Popen([sys.executable, "-m", "promptgear", "create", "p", "-i"], cwd=isolated_env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # waiting at the first question
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode in (130, 1), err  # click reports an interrupted prompt as Abort
    assert "Traceback" not in err
    assert not (isolated_env / "prompts" / "p").exists()


def test_debug_shows_traceback(isolated_env):
    env = {"PROMPT_GEAR_DEBUG": "1", "PROMPT_GEAR_POOL_SIZE": "x"}
    result = run_cli("get", "p", cwd=isolated_env, env=env)
    assert result.returncode == 1 and result.stderr.startswith("Error: PROMPT_GEAR_POOL_SIZE")
    assert os.environ.get("PROMPT_GEAR_DEBUG") is None
