"""The bash-script executor passes runnable's rendering suite, and the script it renders really runs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runnable.testing import RenderingExecutorSuite
from runnable_sqlite.bash_script import BashScriptExecutor


class TestBashScriptExecutor(RenderingExecutorSuite):
    @pytest.fixture
    def pipeline_executor(self):
        return BashScriptExecutor(runnable_command=f"{shlex.quote(sys.executable)} -m runnable")

    @pytest.fixture
    def artifact_runner(self):
        def run(files: dict[str, str], folder: Path) -> None:
            (script,) = files
            (folder / script).write_text(files[script])
            _run("bash", script, "suite-run", cwd=folder)

        return run


PIPELINE = """
dag:
  start_at: make
  steps:
    make: {type: task, command: tasks.make, returns: [value], next: double}
    double: {type: task, command: tasks.double, returns: [doubled], next: success}
"""
TASKS = """
def make(start: int) -> int:
    return start + 1


def double(value: int) -> int:
    return value * 2
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_runnable_render_writes_a_script_that_runs_the_pipeline(tmp_path: Path):
    """Chosen in a config file with the sqlite store; ``runnable render`` writes the script; bash runs it, one
    ``runnable execute-step`` process per step, the run kept in SQLite between them."""
    from runnable_sqlite.store import SQLiteRunLogStore

    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "params.yaml").write_text("start: 20\n")
    runnable_command = f"{shlex.quote(sys.executable)} -m runnable"  # the runnable of this environment
    (tmp_path / "config.yaml").write_text(
        "run-log-store: {type: sqlite, config: {database: runs.db}}\n"
        f"pipeline-executor: {{type: bash-script, config: {{runnable_command: '{runnable_command}'}}}}\n"
    )
    rendered = _run(
        sys.executable, "-m", "runnable", "render", "pipeline.yaml", "-c", "config.yaml", "-p", "params.yaml",
        "-o", "pipeline.sh", cwd=tmp_path,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr

    done = _run("bash", "pipeline.sh", "bash-run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run = SQLiteRunLogStore(database=str(tmp_path / "runs.db")).get_run_log("bash-run")
    assert [(name, step.status) for name, step in run.steps.items()] == [
        ("make", "SUCCESS"),
        ("double", "SUCCESS"),
        ("success", "SUCCESS"),
    ]
    assert run.parameters["doubled"].value == 42
