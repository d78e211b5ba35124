"""Executed: rendered manifests run, container by container, in the order Argo would (``argo_interpreter``),
and give the same run log as a ``local`` run of the same pipeline: statuses and attempts per step, final
parameters, catalog entries and their hashes, the run's status.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from argo_helpers import MINIMAL, REPO, clean_env, render
from argo_interpreter import run_files
from argo_pipelines import ALL_KINDS, FAILING, TASKS
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.models.run_log import RunLog
from runnable.testing.executors import run_shape

PARAMETERS = {"RUNNABLE_PRM_values": "[1, 2, 3]", "RUNNABLE_PRM_name": "world"}


def _prepare(folder: Path, files: dict[str, str], cwd: str) -> Path:
    shutil.copytree(REPO / "examples", folder / "examples")
    for name, text in files.items():
        (folder / cwd / name).write_text(textwrap.dedent(text).lstrip())
    return folder / cwd


def _read(workdir: Path) -> RunLog:
    return FileSystemRunLogStore(log_folder=str(workdir / ".run_log_store")).get_run_log("parity")


def both(
    tmp_path: Path, files: dict[str, str], pipeline: str, cwd: str = ".", *render_options: str
) -> tuple[dict[str, Any], str]:
    """The shape of a local run and of an interpreted Argo run of the pipeline; the workflow's phase."""
    local = _prepare(tmp_path / "local", files, cwd)
    command = [sys.executable, "-m", "runnable", "execute", pipeline, "--run-id", "parity"]
    done = subprocess.run(command, cwd=local, env=clean_env(**PARAMETERS), capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    argo = _prepare(tmp_path / "argo", files, cwd)
    render(argo, pipeline, MINIMAL, *render_options)
    rendered = {"workflow.yaml": (argo / "workflow.yaml").read_text()}
    interpreter = run_files(rendered, argo, uid="parity", env=clean_env(**PARAMETERS))
    local_shape, argo_shape = run_shape(_read(local)), run_shape(_read(argo))
    assert argo_shape["steps"] == local_shape["steps"]
    assert argo_shape["parameters"] == local_shape["parameters"]
    assert argo_shape["catalog"] == local_shape["catalog"]
    assert argo_shape["status"] == local_shape["status"]
    assert (interpreter.phase == "Succeeded") == (done.returncode == 0)
    return local_shape, interpreter.phase


def test_every_kind_of_step_three_deep_with_retries_and_failure_paths(tmp_path: Path) -> None:
    local, phase = both(tmp_path, {"tasks_argo.py": TASKS, "all.yaml": ALL_KINDS}, "all.yaml")
    assert local["status"] == "SUCCESS" and phase == "Succeeded"
    assert local["steps"]["flaky"] == ("SUCCESS", "task", ["FAIL", "SUCCESS"])
    assert local["steps"]["grid.1.both.climb.rounds"][0] == "SUCCESS"
    assert "grid.1.both.climb.rounds.2.step_up" not in local["steps"]  # break_on after the second round
    assert local["parameters"]["went"] == ("json", "left")
    assert local["steps"]["split"][0] == "FAIL" and local["steps"]["recover"][0] == "SUCCESS"


def test_a_step_failing_without_on_failure_fails_the_run_and_the_workflow(tmp_path: Path) -> None:
    local, phase = both(tmp_path, {"tasks_argo.py": TASKS, "failing.yaml": FAILING}, "failing.yaml")
    assert local["status"] == "FAIL" and phase == "Failed"
    assert "never" not in local["steps"] and local["steps"]["fail"][0] == "SUCCESS"


# `runnable render` reads no parameters file from a Python pipeline's execute() call: it is given on the command line.
QUICKSTART_PARAMETERS = ("--parameters", "examples/quickstart/parameters.yaml")


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("pipeline", "cwd", "options"),
    [
        ("examples/quickstart/pipeline.py", ".", QUICKSTART_PARAMETERS),
        ("examples/composites/pipeline.py", ".", ()),
        ("hello.py", "examples/docs", ()),
        ("hello.yaml", "examples/docs", ()),
    ],
)
def test_every_example(tmp_path: Path, pipeline: str, cwd: str, options: tuple[str, ...]) -> None:
    local, phase = both(tmp_path, {}, pipeline, cwd, *options)
    assert local["status"] == "SUCCESS" and phase == "Succeeded"
