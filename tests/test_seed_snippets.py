"""The seed's filesystem snippets, copied as written, give the results the seed states."""

from __future__ import annotations

import contextlib
import io


def test_example_usage(capsys):
    from promptgear import PromptManager

    # --- seed: "Version Management Across Backends / Example Usage" ---
    pm = PromptManager()  # Auto-detects backend

    v1 = pm.create_prompt("example", "v1", "System v1", "User v1")
    print(f"Created: {v1.sequence_number}, Latest: {v1.is_latest}")  # 1, True

    v2 = pm.create_prompt("example", "v2", "System v2", "User v2")
    print(f"Created: {v2.sequence_number}, Latest: {v2.is_latest}")  # 2, True

    v1_updated = pm.get_prompt("example", "v1")
    print(f"v1 Latest: {v1_updated.is_latest}")  # False

    latest = pm.get_prompt("example")
    print(f"Latest version: {latest.version}")  # v2

    pm.delete_prompt("example", "v2")
    new_latest = pm.get_prompt("example")
    print(f"New latest: {new_latest.version}")  # v1
    print(f"Is latest: {new_latest.is_latest}")  # True
    # --- end ---
    assert capsys.readouterr().out.splitlines() == [
        "Created: 1, Latest: True",
        "Created: 2, Latest: True",
        "v1 Latest: False",
        "Latest version: v2",
        "New latest: v1",
        "Is latest: True",
    ]


def test_health_checks():
    from promptgear import PromptManager

    # --- seed: "Backend Monitoring / Health Checks" ---
    def check_backend_health():
        try:
            pm = PromptManager()

            # Test basic operations
            pm.create_prompt("health", "v1", "test", "test", overwrite=True)
            pm.get_prompt("health", "v1")
            pm.delete_prompt("health", "v1")

            return {"status": "healthy", "backend": pm.config.backend}
        except Exception as e:
            return {"status": "unhealthy", "error": str(e)}
    # --- end ---
    assert check_backend_health() == {"status": "healthy", "backend": "filesystem"}
    assert check_backend_health() == {"status": "healthy", "backend": "filesystem"}


def test_best_practices_and_monitoring(isolated_env):
    # --- seed: "Filesystem Backend / Best Practices" ---
    from promptgear.filesystem_backend import FilesystemBackend

    # Custom directory structure
    backend = FilesystemBackend(
        prompt_dir="./my_prompts",
        file_extension=".yml"  # Use .yml instead of .yaml
    )
    # --- end ---
    from promptgear import PromptManager

    pm = PromptManager(backend=backend)
    # --- seed: "Performance Monitoring" ---
    import time
    from contextlib import contextmanager

    @contextmanager
    def monitor_operation(operation_name):
        start_time = time.time()
        try:
            yield
        finally:
            duration = time.time() - start_time
            print(f"{operation_name}: {duration:.3f}s")

    # Usage
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        with monitor_operation("create_prompt"):
            pm.create_prompt("test", "v1", "system", "user")
    # --- end ---
    assert out.getvalue().startswith("create_prompt: 0.0")
    assert (isolated_env / "my_prompts" / "test" / "v1.yml").exists()
    assert pm.get_prompt("test").version == "v1"


def test_original_module_paths_still_import():
    from promptgear.config import get_config, reload_config
    from promptgear.core import BackendBase, PromptAlreadyExistsError, PromptNotFoundError
    from promptgear.manager import PromptManager
    from promptgear.schema import PromptTemplate

    assert issubclass(PromptNotFoundError, Exception) and issubclass(PromptAlreadyExistsError, Exception)
    assert BackendBase.__name__ == "BackendBase" and PromptTemplate.__name__ == "PromptTemplate"
    assert callable(get_config) and callable(reload_config)
    with PromptManager() as pm:
        assert pm.config.backend == "filesystem" and type(pm.backend).__name__ == "FilesystemBackend"
        assert pm.list_prompts() == [] and pm.list_versions("x") == []
