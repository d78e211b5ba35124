"""The run protocol as containers drive it: execute-step, fan-out, fan-in, one call at a time, the run kept in
the run log store between calls; addresses checked against the graph and the recorded plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from core_helpers import run_log, write
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.entrypoints import execute_step, fan_in, fan_out, find_step, load_graph
from runnable.errors import AddressError

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
      command: 'echo "base is $base, shifted is $shifted"'
      next: success
"""

PARALLEL = """
dag:
  start_at: split
  steps:
    split:
      type: parallel
      next: after
      branches:
        L:
          start_at: left
          steps:
            left: {type: task, command: tasks_step.left, returns: [l], next: success}
        R:
          start_at: right
          steps:
            right: {type: task, command: tasks_step.right, returns: [r], next: success}
    after: {type: task, command: tasks_step.after, returns: [total], next: success}
"""

TASKS = """
def first(start: int) -> int:
    return start * 10


def scale(base: int, item: int) -> int:
    return base * item


def shift(scaled: int) -> int:
    return scaled + 1


def left() -> int:
    return 1


def right() -> int:
    return 2


def after(l: int, r: int) -> int:
    return l + r
"""


def cli(scratch, *arguments: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    return subprocess.run(
        [sys.executable, "-m", "runnable", *arguments], cwd=scratch, env=env, capture_output=True, text=True
    )


def test_find_step_by_internal_name(scratch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    graph = load_graph("pipeline.yaml")
    node, prefix = find_step(graph, "fan.7.shift")
    assert node.name == "shift" and prefix == "fan.7"
    assert find_step(graph, "first")[1] == ""
    with pytest.raises(AddressError, match="'fan.7.nope' names no step"):
        find_step(graph, "fan.7.nope")
    with pytest.raises(AddressError, match="names branch '7' of 'fan', not a step"):
        find_step(graph, "fan.7")


def test_a_map_run_call_by_call_as_an_orchestrator_would(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "2")
    monkeypatch.setenv("RUNNABLE_PRM_items", "[3, 5]")
    assert execute_step("pipeline.yaml", "first", run_id="c").status == "SUCCESS"
    monkeypatch.delenv("RUNNABLE_PRM_start")
    monkeypatch.delenv("RUNNABLE_PRM_items")
    plan = fan_out("pipeline.yaml", "fan", run_id="c")
    assert [(b.name, b.iteration) for b in plan.branches] == [("fan.3", {"item": 3}), ("fan.5", {"item": 5})]
    assert plan.done
    for key in plan.keys:
        # a branch step sees the run's parameters, its planned item and what its branch returned before it
        assert execute_step("pipeline.yaml", f"fan.{key}.scale", run_id="c").status == "SUCCESS"
        execute_step("pipeline.yaml", f"fan.{key}.shift", run_id="c")
        execute_step("pipeline.yaml", f"fan.{key}.success", run_id="c")
    merged = fan_in("pipeline.yaml", "fan", run_id="c")
    assert merged.status == "SUCCESS"
    assert merged.attempts[-1].output_parameters["shifted"].value == [61, 101]

    done = cli(scratch, "execute-step", "pipeline.yaml", "last", "--run-id", "c")
    assert done.returncode == 0, done.stderr
    assert cli(scratch, "execute-step", "pipeline.yaml", "success", "--run-id", "c").returncode == 0
    final = run_log(scratch, "c")
    assert final["status"] == "SUCCESS"
    assert final["steps"]["fan"]["status"] == "SUCCESS"
    assert final["parameters"]["shifted"]["value"] == [61, 101]
    assert final["initial_parameters"]["start"]["value"] == 2
    assert final["steps"]["fan"]["branches"]["fan.5"]["steps"]["fan.5.shift"]["status"] == "SUCCESS"
    output = (scratch / ".catalog" / "c" / "last.execution.log").read_text()
    assert "base is 20, shifted is [61, 101]" in output


def test_parallel_branches_merge_before_the_next_step(scratch):
    """The issue's case: branches run one at a time; their returns reach the step after the composite."""
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PARALLEL)
    plan = fan_out("pipeline.yaml", "split", run_id="p")
    assert plan.keys == ["L", "R"]
    for address in ("split.L.left", "split.L.success", "split.R.right", "split.R.success"):
        assert execute_step("pipeline.yaml", address, run_id="p").status == "SUCCESS"
    assert fan_in("pipeline.yaml", "split", run_id="p").status == "SUCCESS"
    assert execute_step("pipeline.yaml", "after", run_id="p").attempts[-1].output_parameters["total"].value == 3
    execute_step("pipeline.yaml", "success", run_id="p")
    final = run_log(scratch, "p")
    assert final["status"] == "SUCCESS" and final["steps"]["split"]["status"] == "SUCCESS"
    assert final["parameters"]["total"]["value"] == 3


def test_a_branch_that_did_not_finish_fails_its_composite(scratch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PARALLEL)
    fan_out("pipeline.yaml", "split", run_id="q")
    execute_step("pipeline.yaml", "split.L.left", run_id="q")
    execute_step("pipeline.yaml", "split.L.success", run_id="q")
    execute_step("pipeline.yaml", "split.R.fail", run_id="q")
    merged = fan_in("pipeline.yaml", "split", run_id="q")
    assert merged.status == "FAIL" and "split.R" in merged.message


def test_addresses_outside_the_plan_are_refused(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "2")
    monkeypatch.setenv("RUNNABLE_PRM_items", "[3, 5]")
    execute_step("pipeline.yaml", "first", run_id="a")
    with pytest.raises(AddressError, match="step 'fan' did not plan it"):
        execute_step("pipeline.yaml", "fan.3.scale", run_id="a")  # before the fan-out
    fan_out("pipeline.yaml", "fan", run_id="a")
    with pytest.raises(AddressError, match="no branch 'fan.999'"):
        execute_step("pipeline.yaml", "fan.999.scale", run_id="a", iteration={"item": 5})
    with pytest.raises(AddressError, match="item=4 was not planned"):
        execute_step("pipeline.yaml", "fan.3.scale", run_id="a", iteration={"item": 4})
    done = cli(scratch, "execute-step", "pipeline.yaml", "fan.999.scale", "--run-id", "a")
    assert done.returncode == 2 and "no branch 'fan.999'" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert list(FileSystemRunLogStore().get_run_log("a").steps["fan"].branches) == ["fan.3", "fan.5"]


def test_exit_statuses(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    failed = cli(scratch, "execute-step", "pipeline.yaml", "first", "--run-id", "bad")
    assert failed.returncode == 1
    assert "argument 'start' of tasks_step.first has no parameter of that name" in failed.stderr
    assert cli(scratch, "execute-step", "pipeline.yaml", "nope", "--run-id", "bad").returncode == 2
    assert cli(scratch, "fan-out", "pipeline.yaml", "first", "--run-id", "bad").returncode == 2
    plan = cli(
        scratch, "fan-out", "pipeline.yaml", "fan", "--run-id", "bad", "--plan-file", "plan.json", "--keys-file", "k"
    )
    assert plan.returncode == 1  # no parameter 'items': the map cannot be planned, the run log says why
    assert json.loads((scratch / "plan.json").read_text())["status"] == "FAIL"
    assert json.loads((scratch / "k").read_text()) == []
    assert "iterate_on names no parameter 'items'" in FileSystemRunLogStore().get_run_log("bad").steps["fan"].message
    write(scratch / "blocked", "a file where the run log folder should be")
    write(scratch / "config.yaml", "run-log-store: {type: file-system, config: {log_folder: blocked/runs}}")
    unreachable = cli(scratch, "execute-step", "pipeline.yaml", "first", "--run-id", "x", "-c", "config.yaml")
    assert unreachable.returncode == 3, unreachable.stderr


def test_the_terminal_step_closes_the_run(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "1")
    execute_step("pipeline.yaml", "first", run_id="t")
    assert execute_step("pipeline.yaml", "success", run_id="t").status == "SUCCESS"
    closed = run_log(scratch, "t")
    assert closed["status"] == "SUCCESS" and closed["end_time"]
    assert closed["end_time"].endswith("Z") or "+00:00" in closed["end_time"]  # timezone-aware UTC
    assert closed["parameters"]["base"]["value"] == 10 and "first" in closed["steps"]
    assert not (scratch / ".run_log_store" / "t.journal").exists()


def test_a_succeeded_step_run_again_runs_nothing(scratch, monkeypatch):
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.setenv("RUNNABLE_PRM_start", "1")
    first = execute_step("pipeline.yaml", "first", run_id="twice")
    again = execute_step("pipeline.yaml", "first", run_id="twice")
    assert again.attempts == first.attempts and len(again.attempts) == 1


THREADED = """
dag:
  start_at: nap
  steps:
    nap: {type: task, command: tasks_threads.nap, returns: [slept], next: again}
    again: {type: task, command: tasks_threads.nap, returns: [slept], next: success}
"""


def test_two_runs_in_two_threads_see_only_their_own_events(scratch):
    import threading
    from typing import Any, ClassVar

    from pydantic import PrivateAttr
    from runnable.engine.prepare import prepare
    from runnable.hookspecs import hookimpl
    from runnable.services.tracking import BaseExperimentTracker

    class Recorder(BaseExperimentTracker):
        service_name: ClassVar[str] = "recorder"
        _events: list = PrivateAttr(default_factory=list)

        @hookimpl
        def run_started(self, run_log: Any) -> None:
            self._events.append((run_log.run_id, "started"))

        @hookimpl
        def step_finished(self, run_id: str, step_log: Any) -> None:
            self._events.append((run_id, step_log.internal_name))

        @hookimpl
        def run_finished(self, run_log: Any) -> None:
            self._events.append((run_log.run_id, run_log.status))

    write(scratch / "tasks_threads.py", "import time\n\ndef nap():\n    time.sleep(0.2)\n    return 1\n")
    write(scratch / "pipeline.yaml", THREADED)
    graph = load_graph("pipeline.yaml")
    trackers = {run_id: Recorder() for run_id in ("one", "two")}
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def run(run_id: str) -> None:
        context = prepare(graph, run_id=run_id, pipeline_file="pipeline.yaml")
        context.tracker = trackers[run_id]
        barrier.wait()
        results[run_id] = context.executor.execute_pipeline(context).status

    threads = [threading.Thread(target=run, args=(run_id,)) for run_id in trackers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {"one": "SUCCESS", "two": "SUCCESS"}
    for run_id, tracker in trackers.items():
        assert tracker._events == [
            (run_id, "started"),
            (run_id, "nap"),
            (run_id, "again"),
            (run_id, "success"),
            (run_id, "SUCCESS"),
        ]


def test_an_observer_refusing_the_run_leaves_it_closed_as_failed(scratch):
    from typing import Any, ClassVar

    from runnable.engine.prepare import prepare
    from runnable.hookspecs import hookimpl
    from runnable.services.tracking import BaseExperimentTracker

    class Unreachable(BaseExperimentTracker):
        service_name: ClassVar[str] = "unreachable"

        @hookimpl
        def run_started(self, run_log: Any) -> None:
            raise ConnectionError("tracking server down")

    write(scratch / "tasks_threads.py", "def nap():\n    return 1\n")
    write(scratch / "pipeline.yaml", THREADED)
    context = prepare(load_graph("pipeline.yaml"), run_id="refused", pipeline_file="pipeline.yaml")
    context.tracker = Unreachable()
    with pytest.raises(ConnectionError):
        context.executor.execute_pipeline(context)
    stored = FileSystemRunLogStore().get_run_log("refused")
    assert stored.status == "FAIL" and stored.steps == {}


SLOW = """
dag:
  start_at: first
  steps:
    first: {type: task, command: tasks_slow.quick, returns: [done], next: sleepy}
    sleepy: {type: task, command_type: shell, command: "echo started; sleep 60", next: success}
"""


def test_sigterm_closes_the_run_and_fails_the_running_step_and_a_live_run_is_not_retried(scratch):
    import signal
    import time

    write(scratch / "tasks_slow.py", "def quick():\n    return True\n")
    write(scratch / "pipeline.yaml", SLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    running = subprocess.Popen(
        [sys.executable, "-m", "runnable", "execute", "pipeline.yaml", "--run-id", "term"],
        cwd=scratch,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = FileSystemRunLogStore()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the shell step is running
        try:
            if "sleepy" in store.get_run_log("term").steps:
                break
        except Exception:
            pass
        time.sleep(0.05)
    refused = cli(scratch, "retry", "term")
    assert refused.returncode == 2 and "is still running" in refused.stderr
    running.send_signal(signal.SIGTERM)
    running.communicate(timeout=60)
    assert running.returncode != 0
    closed = store.get_run_log("term")
    assert closed.status == "FAIL"
    assert closed.steps["first"].status == "SUCCESS"
    assert closed.steps["sleepy"].status == "FAIL" and "SIGTERM" in closed.steps["sleepy"].message


def test_container_commands_parse_their_options_without_the_typer_app(scratch, monkeypatch):
    # An orchestrator starts one process per step: `runnable` runs these commands without importing typer.
    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env.update(RUNNABLE_PRM_start="2", RUNNABLE_RUN_ID="from-env")  # the run id may come from the environment
    started = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runnable", "execute-step", "pipeline.yaml", "first"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in started.stderr.splitlines() if line.startswith("import")}
    assert "runnable.entrypoints" in imported and not {"typer", "runnable.cli", "rich"} & imported
    assert FileSystemRunLogStore().get_run_log("from-env").steps["first"].status == "SUCCESS"

    bad = cli(scratch, "fan-out", "pipeline.yaml", "fan", "--run-id", "from-env", "--iter-variable", "{item: 3}")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --iter-variable: not JSON: '{item: 3}'"
    missing = cli(scratch, "fan-in", "pipeline.yaml", "fan")
    assert missing.returncode == 2 and "the following arguments are required: --run-id" in missing.stderr
    helped = cli(scratch, "execute-step", "--help")
    assert helped.returncode == 0 and "usage: runnable execute-step" in helped.stdout
    assert "fan.3.train --run-id my-run" in helped.stdout and "3 a service" in helped.stdout


def test_the_typer_app_lists_the_container_commands_and_runs_them_the_same_way(scratch, monkeypatch):
    from runnable.cli import app
    from typer.testing import CliRunner

    write(scratch / "tasks_step.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    monkeypatch.chdir(scratch)
    monkeypatch.setenv("RUNNABLE_PRM_start", "2")
    monkeypatch.setenv("RUNNABLE_PRM_items", "[3, 5]")
    listing = CliRunner().invoke(app, ["--help"])
    assert all(name in listing.output for name in ("execute-step", "fan-out", "fan-in"))
    assert CliRunner().invoke(app, ["execute-step", "pipeline.yaml", "first", "--run-id", "t"]).exit_code == 0
    planned = CliRunner().invoke(app, ["fan-out", "pipeline.yaml", "fan", "--run-id", "t", "-o", "plan.json"])
    assert planned.exit_code == 0
    assert [b["key"] for b in json.loads((scratch / "plan.json").read_text())["branches"]] == ["3", "5"]
    assert CliRunner().invoke(app, ["execute-step", "pipeline.yaml", "nope", "--run-id", "t"]).exit_code == 2
