"""execute-step: one step at a time, the run kept in the run log store between calls (as in containers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from core_helpers import run_log, write
from runnable.entrypoints import execute_step, find_step, load_graph
from runnable.errors import PipelineDefinitionError

PIPELINE = """
dag:
  start_at: first
  steps:
    first:
      type: task
      command: tasks_step.first
      returns: [base]
      next: fan
    fan:
      type: map
      iterate_on: items
      iterate_as: item
      next: last
      branch:
        start_at: scale
        steps:
          scale: {type: task, command: tasks_step.scale, returns: [scaled], next: shift}
          shift: {type: task, command: tasks_step.shift, returns: [shifted], next: success}
    last:
      type: task
      command_type: shell
      command: 'echo "base is $base"'
      next: success
"""

TASKS = """
def first(start: int) -> int:
    return start * 10


def scale(base: int, item: int) -> int:
    return base * item


def shift(scaled: int) -> int:
    return scaled + 1
"""


def test_find_step_by_internal_name(scratch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    graph = load_graph("pipeline.yaml")
    node, prefix = find_step(graph, "fan.7.shift")
    assert node.name == "shift" and prefix == "fan.7"
    assert find_step(graph, "first")[1] == ""
    with pytest.raises(PipelineDefinitionError, match="'fan.7.nope' names no step"):
        find_step(graph, "fan.7.nope")


def test_steps_run_one_by_one_share_the_run_through_the_store(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "2")
    assert execute_step("pipeline.yaml", "first", run_id="c").status == "SUCCESS"
    monkeypatch.delenv("RUNNABLE_PRM_start")
    # a branch step sees the run's parameters, its iteration value and what its branch returned before it
    assert execute_step("pipeline.yaml", "fan.3.scale", run_id="c", iteration={"item": 3}).status == "SUCCESS"
    shift = execute_step("pipeline.yaml", "fan.3.shift", run_id="c", iteration={"item": 3})
    assert shift.attempts[0].output_parameters["shifted"].value == 61

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "execute-step", "pipeline.yaml", "last", "--run-id", "c"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "base is 20" in done.stdout
    store = json.loads((scratch / ".run_log_store" / "c.json").read_text())
    journal = (scratch / ".run_log_store" / "c.journal").read_text()
    assert store["initial_parameters"]["start"]["value"] == 2
    assert '"fan.3.shift"' in journal and '"last"' in journal


def test_a_failing_step_exits_non_zero_with_one_line(scratch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "execute-step", "pipeline.yaml", "first", "--run-id", "bad"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "argument 'start' of tasks_step.first has no parameter of that name" in done.stderr


def test_the_terminal_step_closes_the_run(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "1")
    execute_step("pipeline.yaml", "first", run_id="t")
    assert execute_step("pipeline.yaml", "success", run_id="t").status == "SUCCESS"
    closed = run_log(scratch, "t")
    assert closed["status"] == "SUCCESS" and closed["end_time"]
    assert closed["parameters"]["base"]["value"] == 10 and "first" in closed["steps"]
    assert not (scratch / ".run_log_store" / "t.journal").exists()
