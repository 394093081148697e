"""The CLI as users drive it: exact messages and exit codes, every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptgear.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def seeded(run):
    assert run("create", "greet", "-s", "You are kind.\nBe brief.", "-u", "Hello {{name}}", "-c", '{"model": "gpt-4"}').exit_code == 0
    assert run("create", "greet", "-s", "Short.", "-u", "Hi {{name}}").exit_code == 0
    return run


def test_every_command_has_help_with_an_example(run):
    names = sorted(cli.commands)
    assert {"create", "get", "list", "versions", "delete", "status", "search", "init", "update", "promote",
            "render", "diff", "export", "import", "migrate", "label", "unlabel"} <= set(names)
    import click

    commands = [[name] for name in names]
    commands += [[name, sub] for name in names if isinstance(cli.commands[name], click.Group)
                 for sub in cli.commands[name].commands]
    for words in commands:
        result = run(*words, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.output and f"promptgear {' '.join(words)}" in result.output, words


def test_version_flag(run):
    from promptgear import __version__

    assert run("--version").output == f"promptgear, version {__version__}\n"


def test_create_defaults_to_next_sequence_version(run, isolated_env):
    result = run("create", "greet", "-s", "S", "-u", "U")
    assert (result.exit_code, result.output) == (0, "Created greet:v1 (sequence 1, latest)\n")
    assert run("create", "greet", "-s", "S", "-u", "U").output == "Created greet:v2 (sequence 2, latest)\n"
    assert run("create", "greet", "-v", "v9", "-s", "S", "-u", "U").output == "Created greet:v9 (sequence 3, latest)\n"
    assert (isolated_env / "prompts" / "greet" / "v9.yaml").exists()


def test_create_from_files(run, isolated_env):
    (isolated_env / "system.txt").write_text("Line one\nLine two\n")
    (isolated_env / "user.txt").write_text("{{q}}")
    (isolated_env / "config.yaml").write_text("model: gpt-4\ntemperature: 0.2\n")
    result = run("create", "p", "-S", "system.txt", "-U", "user.txt", "-C", "config.yaml")
    assert result.exit_code == 0, result.output
    got = json.loads(run("get", "p", "--format", "json").output)
    assert (got["system_prompt"], got["user_prompt"], got["config"]) == ("Line one\nLine two", "{{q}}", {"model": "gpt-4", "temperature": 0.2})


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "p", "-s", "S", "-S", "f.txt", "-u", "U"], 2,
         "Error: give the system prompt as text (-s/--system) or as a file (-S/--SYSTEM-file), not both"),
        (["create", "p", "-u", "U"], 2, "Error: missing the system prompt: give -s/--system TEXT or -S/--system-file PATH"),
        (["create", "p", "-s", "S", "-u", "U", "-c", "{bad"], 1,
         "Error: --config is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (["create", "p", "-s", "S", "-u", "U", "-c", "[1]"], 1, "Error: --config must be a JSON object, like '{\"model\": \"gpt-4\"}'"),
        (["create", "p", "-s", "S", "-U", "missing.txt"], 1, "Error: the user prompt file missing.txt does not exist"),
        (["create", "p", "-s", "S", "-u", "U", "-C", "c.txt"], 1, "Error: config file c.txt: use a .json, .yaml or .yml file"),
        (["create", "../x", "-s", "S", "-u", "U"], 1, "Error: invalid prompt name '../x': must not contain a path separator"),
        (["create", "p", "-v", "latest", "-s", "S", "-u", "U"], 1, "Error: invalid version 'latest': 'latest' is reserved"),
        (["get", "nothing"], 1, "Error: prompt nothing not found"),
        (["get", "greet", "v7"], 1, "Error: prompt greet:v7 not found"),
        (["get", "greet", "v1", "-v", "v2"], 2, "Error: two different versions given: v1 and v2"),
        (["get", "greet", "--label", "production"], 1, "Error: prompt greet has no label 'production'"),
        (["create", "greet", "-v", "v1", "-s", "S", "-u", "U"], 1,
         "Error: prompt greet:v1 already exists; use overwrite=True (--overwrite) to replace it"),
        (["delete", "greet", "v1"], 1, "Error: refusing to delete greet:v1 without confirmation; pass --confirm"),
        (["delete", "greet", "v7", "--confirm"], 1, "Error: prompt greet:v7 not found"),
        (["update", "greet", "v1"], 2, "Error: nothing to update: give --system, --user, --config, --description or --tag"),
        (["promote", "greet", "v7"], 1, "Error: prompt greet:v7 not found"),
        (["render", "greet"], 1, "Error: cannot render greet:v2: missing name variable(s)"),
        (["render", "greet", "--var", "name"], 2, "Error: --var takes key=value, not 'name'"),
        (["search", "  "], 1, "Error: search query has no words"),
        (["import", "nope.json"], 1, "Error: bundle file nope.json does not exist"),
        (["get"], 2, "Error: Missing argument 'NAME'."),
    ],
)
def test_errors_are_one_line_with_exit_codes(seeded, args, code, message, isolated_env):
    (isolated_env / "f.txt").write_text("x")
    (isolated_env / "c.txt").write_text("x")
    before = sorted(str(p) for p in (isolated_env / "prompts").rglob("*") if ".promptgear" not in p.parts)
    result = seeded(*args)
    assert result.exit_code == code
    assert result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.output
    after = sorted(str(p) for p in (isolated_env / "prompts").rglob("*") if ".promptgear" not in p.parts)
    assert after == before  # a failed command writes nothing


def test_get_formats(seeded):
    yaml_out = seeded("get", "greet", "v1").output
    assert yaml_out.startswith("name: greet\nversion: v1\nsystem_prompt: |-\n  You are kind.\n  Be brief.\n")
    assert "sequence_number: 1\nis_latest: false\n" in yaml_out
    data = json.loads(seeded("get", "greet", "--format", "json").output)
    assert (data["version"], data["is_latest"], data["sequence_number"]) == ("v2", True, 2)
    assert data["created_at"].endswith("+00:00")
    assert seeded("get", "greet", "-f", "text").output == "# system\nShort.\n\n# user\nHi {{name}}\n"
    table = seeded("get", "greet", "v1", "-f", "table").output.splitlines()
    assert table[0].split() == ["Field", "Value"] and "Variables        name" in table


def test_list_and_versions(seeded):
    lines = seeded("list").output.splitlines()
    assert lines[0].split() == ["Name", "Version", "Seq", "Latest", "Labels", "Updated", "At", "System", "Prompt"]
    assert lines[2].split()[:3] == ["greet", "v1", "1"] and lines[3].split()[:4] == ["greet", "v2", "2", "yes"]
    listed = json.loads(seeded("list", "--format", "json").output)
    assert [(p["name"], p["version"]) for p in listed] == [("greet", "v1"), ("greet", "v2")]
    assert json.loads(seeded("list", "--config-filter", '{"model": "gpt-4"}', "-f", "json").output)[0]["version"] == "v1"
    assert seeded("list", "nothing").output == "No prompts found.\n"
    versions = seeded("versions", "greet").output.splitlines()
    assert versions[0].split() == ["Version", "Sequence", "Number", "Is", "Latest", "Labels", "Created", "At", "Updated", "At"]
    assert versions[2].split()[:3] == ["v1", "1", "no"] and versions[3].split()[:3] == ["v2", "2", "yes"]


def test_delete_reports_promotion_and_removal(seeded):
    assert seeded("delete", "greet", "v2", "--confirm").output == "Deleted greet:v2; v1 is now the latest\n"
    assert seeded("delete", "greet", "v1", "--confirm").output == "Deleted greet:v1 (its last version: prompt greet removed)\n"


def test_delete_labelled_version(seeded):
    assert seeded("label", "greet", "v2", "production").output == "greet:production -> v2\n"
    refused = seeded("delete", "greet", "v2", "--confirm")
    assert refused.exit_code == 1 and "carries label(s) production" in refused.stderr
    forced = seeded("delete", "greet", "v2", "--confirm", "--force")
    assert forced.output == "Deleted greet:v2; v1 is now the latest\nRemoved label(s) production with it\n"


def test_update_promote_render_diff(seeded, isolated_env):
    assert seeded("update", "greet", "v1", "-c", '{"model": "gpt-5"}').output == "Updated greet:v1 (sequence 1)\n"
    assert seeded("promote", "greet", "v1").output == "greet:v1 is now the latest\n"
    assert seeded("render", "greet", "--var", "name=Ada").output == "# system\nYou are kind.\nBe brief.\n\n# user\nHello Ada\n"
    (isolated_env / "vars.json").write_text('{"name": "Bo"}')
    rendered = json.loads(seeded("render", "greet", "v2", "--vars-file", "vars.json", "-f", "json").output)
    assert rendered["messages"] == [{"role": "system", "content": "Short."}, {"role": "user", "content": "Hi Bo"}]
    diff = seeded("diff", "greet", "v1", "v2").output.splitlines()
    assert diff[:2] == ["--- greet:v1", "+++ greet:v2"]
    assert "-Hello {{name}}" in diff and "+Hi {{name}}" in diff and '-  "model": "gpt-5"' in diff
    assert seeded("diff", "greet", "v1", "v1").output == "greet:v1 and greet:v1 hold the same content\n"


def test_labels(seeded):
    seeded("label", "greet", "v1", "staging")
    assert json.loads(seeded("get", "greet", "--label", "staging", "-f", "json").output)["version"] == "v1"
    assert "staging" in seeded("versions", "greet").output
    assert seeded("unlabel", "greet", "staging").output == "Removed greet:staging (was v1)\n"


def test_search(seeded):
    found = json.loads(seeded("search", "kind", "-f", "json").output)
    assert [(p["name"], p["version"]) for p in found] == [("greet", "v1")]


def test_export_import_round_trip(seeded, isolated_env):
    seeded("label", "greet", "v1", "production")
    assert seeded("export", "-o", "bundle.json").exit_code == 0
    before = seeded("versions", "greet", "-f", "json").output
    seeded("--prompt-dir", "other", "import", "bundle.json")
    assert seeded("--prompt-dir", "other", "versions", "greet", "-f", "json").output == before
    again = seeded("--prompt-dir", "other", "import", "bundle.json")
    assert again.exit_code == 1 and "already exist: greet" in again.stderr
    assert seeded("--prompt-dir", "other", "import", "bundle.json", "--overwrite").output == "Imported 1 prompt(s), 2 version(s)\n"
    seeded("export", "-o", "bundle.yaml", "--format", "yaml")
    seeded("--prompt-dir", "third", "import", "bundle.yaml")
    assert seeded("--prompt-dir", "third", "versions", "greet", "-f", "json").output == before


def test_init_writes_env_and_gitignore(run, isolated_env):
    (isolated_env / ".git").mkdir()
    result = run("init", "--backend", "sqlite", "--db-url", "sqlite:///data/prompts.db")
    assert result.exit_code == 1 and "folder" in result.stderr  # data/ does not exist: nothing written
    assert not (isolated_env / ".env").exists()
    result = run("init", "--backend", "sqlite")
    assert result.exit_code == 0, result.output
    env = (isolated_env / ".env").read_text()
    assert "PROMPT_GEAR_BACKEND=sqlite" in env and "PROMPT_GEAR_DB_URL=sqlite:///prompts.db" in env
    assert (isolated_env / "prompts" / ".promptgear" / ".gitignore").exists()
    assert (isolated_env / "prompts.db").exists()
    ignore = (isolated_env / ".gitignore").read_text().splitlines()
    assert {"/.env", "/prompts.db", "/prompts.db-wal"} <= set(ignore)
    again = run("init")
    assert again.exit_code == 1
    assert again.stderr.strip().endswith(".env already exists; pass --force to set promptgear's settings in it")
    (isolated_env / ".env").write_text((isolated_env / ".env").read_text() + "OTHER=keep\n")
    assert run("init", "--force").exit_code == 0
    env = (isolated_env / ".env").read_text()
    assert "PROMPT_GEAR_BACKEND=filesystem" in env and "OTHER=keep" in env
    assert "/prompts.db.sync-lock" in (isolated_env / ".gitignore").read_text().splitlines()  # sync's mirror
    assert run("create", "p", "-s", "S", "-u", "U").exit_code == 0
    assert (isolated_env / "prompts" / "p" / "v1.yaml").exists()


def test_status(seeded):
    lines = seeded("status").output.splitlines()
    assert lines[0] == "Backend:     filesystem" and "Connected:   yes" in lines and "Versions:    2" in lines
    info = json.loads(seeded("status", "-f", "json").output)
    assert (info["prompts"], info["versions"], info["most_recent"]) == (1, 2, "greet:v2")


def test_status_masks_password_and_reports_down_database(run, monkeypatch):
    monkeypatch.setenv("PROMPT_GEAR_BACKEND", "postgres")
    monkeypatch.setenv("PROMPT_GEAR_DB_URL", "postgresql://bob:topsecret@127.0.0.1:1/x")
    result = run("status", "-v")
    assert result.exit_code == 1
    assert "topsecret" not in result.output
    assert "Location:    postgresql://bob:***@127.0.0.1:1/x" in result.output
    assert "Connected:   no (cannot reach PostgreSQL at postgresql://bob:***@127.0.0.1:1/x" in result.output


def test_config_error_is_one_line(run, monkeypatch):
    monkeypatch.setenv("PROMPT_GEAR_BACKEND", "mysql")
    result = run("get", "x")
    assert (result.exit_code, result.stderr) == (
        1, "Error: PROMPT_GEAR_BACKEND (from environment): unknown backend 'mysql'; use one of filesystem, sqlite, postgres\n")


def test_global_options_override_configuration(run, isolated_env, tmp_path):
    db = tmp_path / "x.db"
    assert run("--backend", "sqlite", "--db-url", f"sqlite:///{db}", "create", "p", "-s", "S", "-u", "U").exit_code == 0
    assert db.exists() and not (isolated_env / "prompts" / "p").exists()
    assert run("--prompt-dir", "elsewhere", "create", "p", "-s", "S", "-u", "U").exit_code == 0
    assert (isolated_env / "elsewhere" / "p" / "v1.yaml").exists()


def test_migrate_command(seeded, tmp_path, pg_url):
    target = f"sqlite:///{tmp_path / 'm.db'}"
    assert seeded("migrate", "--from", "prompts", "--to", target).output == (
        f"Migrated 2 version(s) from prompts to {target}\n")
    assert seeded("migrate", "--from", target, "--to", pg_url).exit_code == 0
    assert json.loads(seeded("--backend", "postgres", "--db-url", pg_url, "get", "greet", "-f", "json").output)["version"] == "v2"


def test_completion_of_names_and_versions(seeded):
    from click.shell_completion import ShellComplete

    complete = ShellComplete(cli, {}, "promptgear", "_PROMPTGEAR_COMPLETE")
    assert [c.value for c in complete.get_completions(["get"], "gr")] == ["greet"]
    assert [c.value for c in complete.get_completions(["get", "greet"], "v")] == ["v1", "v2"]


def test_unexpected_errors_hide_the_traceback_unless_debug(run, monkeypatch):
    import promptgear.manager

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(promptgear.manager.PromptManager, "list_prompts", boom)
    result = run("list")
    assert (result.exit_code, result.stderr) == (1, "Error: unexpected RuntimeError: kaboom (set PROMPT_GEAR_DEBUG=1 for a traceback)\n")
    monkeypatch.setenv("PROMPT_GEAR_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run("list")
