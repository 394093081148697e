from __future__ import annotations

import pytest

from promptgear.config import get_config, load_config, reload_config
from promptgear.errors import ConfigError


def test_defaults(isolated_env):
    config = load_config()
    assert (config.backend, config.prompt_dir, config.db_url, config.pool_size, config.max_connections) == (
        "filesystem", "./prompts", "sqlite:///prompts.db", 5, 20)
    assert config.debug is False and config.sources["backend"] == "default"


def test_precedence_env_over_dotenv_over_yaml(isolated_env, monkeypatch):
    (isolated_env / ".promptgear.yml").write_text("backend: sqlite\nprompt_dir: from-yaml\npool_size: 2\nmax_connections: 3\n")
    (isolated_env / ".env").write_text("PROMPT_GEAR_PROMPT_DIR=from-dotenv\nPROMPT_GEAR_POOL_SIZE=3\n")
    monkeypatch.setenv("PROMPT_GEAR_POOL_SIZE", "1")
    config = load_config()
    assert (config.backend, config.prompt_dir, config.pool_size, config.max_connections) == ("sqlite", "from-dotenv", 1, 3)
    assert config.sources["backend"] == ".promptgear.yml" and config.sources["pool_size"] == "environment"


def test_dotenv_is_found_in_a_parent_folder(isolated_env, monkeypatch):
    (isolated_env / ".env").write_text("PROMPT_GEAR_BACKEND=sqlite\n")
    sub = isolated_env / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_config().backend == "sqlite"


def test_explicit_config_file_dotenv_and_yaml(isolated_env):
    (isolated_env / "custom.env").write_text("PROMPT_GEAR_PROMPT_DIR=custom\n")
    (isolated_env / "conf.yml").write_text("prompt_dir: yamlcustom\n")
    assert load_config("custom.env").prompt_dir == "custom"
    assert load_config("conf.yml").prompt_dir == "yamlcustom"
    with pytest.raises(ConfigError, match="missing.env does not exist"):
        load_config("missing.env")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROMPT_GEAR_BACKEND": "mysql"}, r"unknown backend 'mysql'; use one of filesystem, sqlite, postgres"),
        ({"PROMPT_GEAR_POOL_SIZE": "five"}, r"PROMPT_GEAR_POOL_SIZE \(from environment\): 'five' is not an integer"),
        ({"PROMPT_GEAR_POOL_SIZE": "0"}, r"must be positive"),
        ({"PROMPT_GEAR_DEBUG": "maybe"}, r"PROMPT_GEAR_DEBUG .*'maybe' is not a boolean"),
        ({"PROMPT_GEAR_POOL_SIZE": "30"}, r"PROMPT_GEAR_MAX_CONNECTIONS \(20\) must be at least PROMPT_GEAR_POOL_SIZE \(30\)"),
    ],
)
def test_malformed_settings_name_the_setting(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_unknown_key_in_yaml_config(isolated_env):
    (isolated_env / ".promptgear.yml").write_text("backnd: sqlite\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config()


def test_get_and_reload(monkeypatch):
    assert get_config().backend == "filesystem"
    monkeypatch.setenv("PROMPT_GEAR_BACKEND", "sqlite")
    assert get_config().backend == "filesystem"  # read once
    assert reload_config().backend == "sqlite"


def test_debug_flag(monkeypatch):
    monkeypatch.setenv("PROMPT_GEAR_DEBUG", "true")
    assert load_config().debug is True
