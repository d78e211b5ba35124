"""The example plugin of docs/writing-a-plugin.md works as the guide says, installed the way a user would.

``examples/plugins/runnable-sqlite`` is pip-installed into a fresh venv that sees this test environment's
packages through a ``.pth`` file (runnable-core editable, pytest, hatchling), the technique of
``test_plugins.py``. Then, in that venv: ``runnable plugins`` lists it, a configuration file selects its
``sqlite`` run log store for ``runnable execute``, and its own tests (the conformance suites) pass.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import REPO

PLUGIN = REPO / "examples" / "plugins" / "runnable-sqlite"


@dataclass
class Venv:
    python: Path

    def run(self, *args: str, cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_") and k != "PYTHONPATH"}
        env.update(COLUMNS="250", PYTHONIOENCODING="utf-8", NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run(
            [str(self.python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv with the example plugin installed by pip, from a copy of its folder (the repo stays clean)."""
    for needed in ("hatchling", "pip"):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is needed to build and install the plugin (it is in the hatch-test env)")
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "runnable-sqlite"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "build", "dist"))
    home = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, capture_output=True)
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "zz_test_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*install, "--no-index", "--disable-pip-version-check", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Venv(python=python)


def test_runnable_plugins_lists_the_example_plugin(venv: Venv, tmp_path: Path):
    result = venv.run("-m", "runnable", "plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {tuple(c.strip() for c in line.split("│")) for line in result.stdout.splitlines() if "│" in line}
    assert ("run-log-store", "sqlite", "runnable-sqlite", "0.1.0", "sqlite") in rows
    assert ("pipeline-executor", "bash-script", "runnable-sqlite", "0.1.0", "sqlite") in rows


TASKS = """
def prepare(rows: int) -> list[int]:
    return list(range(rows))


def total(numbers: list[int]) -> int:
    return sum(numbers)
"""

PIPELINE = """
dag:
  start_at: prepare
  steps:
    prepare: {type: task, command: tasks.prepare, returns: [numbers], next: total}
    total: {type: task, command: tasks.total, returns: [sum], next: success}
"""


def test_a_config_file_selects_the_sqlite_store_for_a_run(venv: Venv, tmp_path: Path):
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "parameters.yaml").write_text("rows: 5\n")
    (tmp_path / "config.yaml").write_text("run-log-store:\n  type: sqlite\n  config: {database: store/runs.db}\n")

    run = venv.run(
        "-m", "runnable", "execute", "pipeline.yaml", "-c", "config.yaml", "-p", "parameters.yaml", "--run-id", "ex1",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "store" / "runs.db").is_file()
    assert not (tmp_path / ".run_log_store").exists(), "the default store must not have been used"

    shown = venv.run("-m", "runnable", "runs", "show", "ex1", "-c", "config.yaml", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    log = json.loads(shown.stdout)
    assert log["status"] == "SUCCESS" and list(log["steps"]) == ["prepare", "total", "success"]
    assert log["parameters"]["sum"]["value"] == 10
    assert log["run_config"]["run-log-store"] == {
        "type": "sqlite",
        "config": {"database": "store/runs.db", "timeout": 30.0},
    }


def test_the_example_plugin_passes_its_conformance_tests(venv: Venv, tmp_path: Path):
    """``python -m pytest examples/plugins/runnable-sqlite/tests`` with the venv's python, as its README says."""
    result = venv.run("-m", "pytest", str(PLUGIN / "tests"), "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert "supports_concurrent_writers" not in result.stdout, "the concurrent-writers test must run, not skip"
