"""Parity: every example pipeline and every kind of composite step gives the same run under ``local`` (one
process walks the graph) and under ``emulator`` (each step, fan-out and fan-in in a fresh process, exactly
the commands an orchestrator runs): same statuses and attempts per step, same final parameters, same
catalog entries and hashes, same exit status.

Hashes are compared for the files pipelines put in the catalog and for pickled objects; a step's execution
log and an executed notebook are compared by name only (they hold timings and kernel metadata).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import REPO
from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.testing.executors import run_shape

TASKS = """
from pathlib import Path


def setup():
    return [1, 2], "left", 0


def step_up(height: int, item: int, round: int):
    return height + item, round >= 1


def level(item: int):
    return item * 10


def finish(height: int, flat: int, went: str):
    return f"{went}:{height}:{flat}"


def flaky():
    counter = Path("attempts.txt")
    tries = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(tries))
    if tries < 3:
        raise RuntimeError(f"flaky failure number {tries}")
    return tries


def tick(i: int):
    return i + 1


def check(v: int):
    if v == 2:
        raise ValueError("two is not allowed")
    Path(f"checked-{v}.txt").write_text(str(v))
    return v


def patched(v: int):
    return -v


def bad():
    raise RuntimeError("this branch fails")


def recover(checked: list):
    return sum(checked)
"""

NESTED = """
dag:
  start_at: setup
  steps:
    setup: {type: task, command: tasks_parity.setup, returns: [items, choice, height], next: grid}
    grid:
      type: map
      iterate_on: items
      iterate_as: item
      reducer: "lambda *x: max(x)"
      next: pick
      branch:
        start_at: both
        steps:
          both:
            type: parallel
            next: success
            branches:
              climb:
                start_at: rounds
                steps:
                  rounds:
                    type: loop
                    max_iterations: 3
                    break_on: done
                    index_as: round
                    next: success
                    branch:
                      start_at: step_up
                      steps:
                        step_up: {type: task, command: tasks_parity.step_up, returns: [height, done], next: success}
              flat:
                start_at: level
                steps:
                  level: {type: task, command: tasks_parity.level, returns: [flat], next: success}
    pick:
      type: conditional
      parameter: choice
      next: finish
      branches:
        left:
          start_at: go_left
          steps:
            go_left: {type: task, command_type: shell, command: 'echo "left $height"; export went=left',
                      returns: [went], next: success}
        right:
          start_at: go_right
          steps:
            go_right: {type: task, command_type: shell, command: 'export went=right', returns: [went], next: success}
    finish: {type: task, command: tasks_parity.finish, returns: [summary], next: success}
"""

FAILURES = """
dag:
  start_at: flaky
  steps:
    flaky: {type: task, command: tasks_parity.flaky, max_attempts: 3, returns: [tries], next: spin}
    spin:
      type: loop
      max_iterations: 2
      break_on: never_set
      index_as: i
      next: fan
      branch:
        start_at: tick
        steps:
          tick: {type: task, command: tasks_parity.tick, returns: [ticks], next: success}
    fan:
      type: map
      iterate_on: values
      iterate_as: v
      next: split
      branch:
        start_at: check
        steps:
          check:
            type: task
            command: tasks_parity.check
            returns: [checked]
            catalog: {put: ["checked-*.txt"]}
            on_failure: patched
            next: success
          patched: {type: task, command: tasks_parity.patched, returns: [checked], next: success}
    split:
      type: parallel
      next: success
      on_failure: recover
      branches:
        good:
          start_at: fine
          steps:
            fine: {type: stub, next: success}
        bad:
          start_at: boom
          steps:
            boom: {type: task, command: tasks_parity.bad, next: success}
    recover: {type: task, command: tasks_parity.recover, returns: [total], next: success}
"""

BROKEN = """
dag:
  start_at: boom
  steps:
    boom: {type: task, command: tasks_parity.bad, next: success}
"""

EMULATOR = "pipeline-executor: {type: emulator}\n"
PARALLEL_EMULATOR = (
    "pipeline-executor: {type: emulator, config: {enable_parallel: true}}\nrun-log-store: {type: chunked-fs}\n"
)


def _run(folder: Path, command: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env["RUNNABLE_PRM_values"] = "[1, 2, 3]"
    env["RUNNABLE_PRM_name"] = "world"
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode


shape = run_shape  # what two runs of one pipeline must share (runnable.testing)


def _both(tmp_path: Path, files: dict[str, str], pipeline: str, config: str = EMULATOR, cwd: str = ".") -> tuple:
    outcomes = []
    for executor, extra in (("local", ""), ("emulator", config)):
        folder = tmp_path / executor
        shutil.copytree(REPO / "examples", folder / "examples")
        for name, text in files.items():
            (folder / cwd / name).write_text(textwrap.dedent(text).lstrip())
        arguments = [sys.executable, "-m", "runnable", "execute", pipeline, "--run-id", "parity"]
        if extra:
            (folder / cwd / "executor.yaml").write_text(extra)
            arguments += ["-c", "executor.yaml"]
        code = _run(folder / cwd, arguments)
        store = ChunkedFileSystemRunLogStore if "chunked-fs" in extra else FileSystemRunLogStore
        run_log = store(log_folder=str(folder / cwd / ".run_log_store")).get_run_log("parity")
        outcomes.append((code, shape(run_log)))
    return outcomes


def _same(outcomes: tuple) -> dict[str, Any]:
    (local_code, local), (emulated_code, emulated) = outcomes
    assert emulated["steps"] == local["steps"]
    assert emulated["parameters"] == local["parameters"]
    assert emulated["catalog"] == local["catalog"]
    assert (emulated_code, emulated["status"]) == (local_code, local["status"])
    return local


def test_nested_composites_three_deep_with_reducer_loop_break_and_conditional(tmp_path):
    local = _same(_both(tmp_path, {"tasks_parity.py": TASKS, "nested.yaml": NESTED}, "nested.yaml"))
    assert local["status"] == "SUCCESS"
    # per item: two rounds (break_on after the second) climb by the item; the reducer keeps the maxima
    assert local["parameters"]["summary"] == ("json", "left:4:20")
    assert local["steps"]["grid.2.both.climb.rounds"][0] == "SUCCESS"
    assert "grid.2.both.climb.rounds.2" not in {n.rsplit(".", 1)[0] for n in local["steps"]}  # broke after 2


def test_retries_loop_to_max_on_failure_in_branches_and_a_failing_branch(tmp_path):
    local = _same(_both(tmp_path, {"tasks_parity.py": TASKS, "failures.yaml": FAILURES}, "failures.yaml"))
    assert local["status"] == "SUCCESS"
    assert local["steps"]["flaky"] == ("SUCCESS", "task", ["FAIL", "FAIL", "SUCCESS"])
    assert local["parameters"]["ticks"] == ("json", 2)  # max_iterations rounds, break_on never set
    assert local["steps"]["fan.2.check"][0] == "FAIL" and local["steps"]["fan.2.patched"][0] == "SUCCESS"
    assert local["steps"]["split"][0] == "FAIL" and local["parameters"]["total"] == ("json", 2)


def test_a_failing_run_fails_the_same_way(tmp_path):
    local = _same(_both(tmp_path, {"tasks_parity.py": TASKS, "broken.yaml": BROKEN}, "broken.yaml"))
    assert local["status"] == "FAIL"


def test_branches_at_once_through_a_concurrent_store(tmp_path):
    files = {"tasks_parity.py": TASKS, "nested.yaml": NESTED}
    _same(_both(tmp_path, files, "nested.yaml", PARALLEL_EMULATOR))


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("pipeline", "cwd"),
    [
        ("examples/quickstart/pipeline.py", "."),
        ("examples/composites/pipeline.py", "."),
        ("hello.py", "examples/docs"),
        ("hello.yaml", "examples/docs"),
    ],
)
def test_every_example(tmp_path, pipeline, cwd):
    local = _same(_both(tmp_path, {}, pipeline, cwd=cwd))
    assert local["status"] == "SUCCESS"
