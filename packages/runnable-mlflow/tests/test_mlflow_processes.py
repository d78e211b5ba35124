"""Steps of one run in separate processes share one MLflow parent run, even when they all start at once."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime

import pytest
from mlflow import MlflowClient
from mlflow_project import Project
from mlflow_readback import parent_run, series, step_runs

PROCESSES = 6


@pytest.fixture
def client(mlflow_server: str) -> MlflowClient:
    return MlflowClient(mlflow_server)


def _track_one_step(uri: str, experiment: str, run_id: str, index: int, barrier: multiprocessing.Barrier) -> None:
    """A fresh process doing what a step's process does: start and finish one step of run ``run_id``."""
    import runnable_mlflow.session  # noqa: F401 - import MLflow before the start line, so the calls race
    from runnable.models.run_log import StepAttempt, StepLog
    from runnable_mlflow.tracker import MlflowTracker

    tracker = MlflowTracker(tracking_uri=uri, experiment_name=experiment, strict=True)
    step = StepLog(name="train", internal_name=f"fan.{index}.train", status="PROCESSING")
    barrier.wait(timeout=120)
    tracker.step_started(run_id=run_id, step_log=step)
    step.status = "SUCCESS"
    step.attempts = [StepAttempt(status="SUCCESS", start_time=datetime.now(), end_time=datetime.now())]
    tracker.step_finished(run_id=run_id, step_log=step, parameters={"index": index}, metrics={"accuracy": index})


def test_processes_starting_at_once_create_one_parent_run(project: Project, client: MlflowClient) -> None:
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, nothing shared but the server
    barrier = spawn.Barrier(PROCESSES)
    workers = [
        spawn.Process(target=_track_one_step, args=(project.tracking_uri, project.experiment, "race-1", index, barrier))
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * PROCESSES

    parent = parent_run(client, project.experiment, "race-1")  # exactly one, or this fails
    steps = step_runs(client, project.experiment, "race-1")
    assert set(steps) == {f"fan.{i}.train" for i in range(PROCESSES)}
    for index, run in enumerate(steps[f"fan.{i}.train"] for i in range(PROCESSES)):
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.params == {"index": str(index)} and run.data.metrics == {"accuracy": index}
    lock = client.get_experiment_by_name(f"{project.experiment}.runnable-lock.race-1")
    assert lock is not None and lock.lifecycle_stage == "deleted", "the lock was taken once and released"


STEPPED = """
dag:
  start_at: first
  steps:
    first: {type: task, command: tasks_mlflow.prepare, returns: [settings, {name: rows, kind: metric}], next: fan}
    fan:
      type: map
      iterate_on: rates
      iterate_as: rate
      next: success
      branch:
        start_at: train
        steps:
          train: {type: task, command: tasks_mlflow.train, returns: [{name: accuracy, kind: metric}], next: success}
"""


def test_container_processes_share_the_parent_run(project: Project, client: MlflowClient) -> None:
    """As an orchestrator runs a pipeline: one process per ``runnable execute-step | fan-out | fan-in``, the
    map's iterations at once.

    The first step and the fan-out run untracked, so the iterations, started together, are the processes
    that race to create the parent run.
    """
    project.write("stepped.yaml", STEPPED)
    tracked, untracked = project.config(), project.config("untracked.yaml", tracked=False)
    common = ["--run-id", "stepped-1", "-p", project.parameters()]
    first = project.runnable("execute-step", "stepped.yaml", "first", "-c", untracked, *common)
    assert first.returncode == 0, first.stderr
    planned = project.runnable("fan-out", "stepped.yaml", "fan", "-c", untracked, *common, "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    branches = json.loads((project.root / "plan.json").read_text())["branches"]
    assert len(branches) == 3
    for step in ("train", "success"):  # each branch's steps, the branches at once
        running = [
            project.start(
                "execute-step", "stepped.yaml", f"{branch['name']}.{step}", "-c", tracked, *common,
                "--iter-variable", json.dumps(branch["iteration"]),
            )
            for branch in branches
        ]  # fmt: skip
        for process in running:
            done = process.communicate_result()
            assert done.returncode == 0, done.stderr
    for command, address in (("fan-in", "fan"), ("execute-step", "success")):
        done = project.runnable(command, "stepped.yaml", address, "-c", tracked, *common)
        assert done.returncode == 0, done.stderr

    parent = parent_run(client, project.experiment, "stepped-1")
    assert parent.info.status == "FINISHED" and parent.data.tags["runnable.status"] == "SUCCESS"
    steps = step_runs(client, project.experiment, "stepped-1")
    iterations = {f"{branch['name']}.train" for branch in branches}
    assert set(steps) == {"fan", *iterations}, "the untracked first step and fan-out have no runs"
    assert {steps[name].data.tags["mlflow.parentRunId"] for name in iterations} == {parent.info.run_id}
    assert {run.info.status for run in steps.values()} == {"FINISHED"}
    # the closing process reads every step from the run log: one series over the iterations
    accuracy = series(client, parent.info.run_id, "accuracy")
    assert [step for step, _ in accuracy] == [0, 1, 2]
    assert sorted(value for _, value in accuracy) == [0.2, 0.4, 0.6]
    assert parent.data.params["model.depth"] == "3", "initial parameters reach the parent run at the end"


def test_forked_parallel_branches_nest_under_one_parent(project: Project, client: MlflowClient) -> None:
    config = project.config(
        "parallel.yaml", executor={"type": "local", "config": {"enable_parallel": True, "min_parallel_seconds": 0}}
    )
    done = project.runnable("execute", "pipeline.yaml", "-c", config, "-p", project.parameters(), "--run-id", "fork-1")
    assert done.returncode == 0, done.stdout + done.stderr

    parent = parent_run(client, project.experiment, "fork-1")
    steps = step_runs(client, project.experiment, "fork-1")
    iterations = [name for name in steps if name.startswith("fan.")]
    assert len(iterations) == 3
    assert {steps[name].data.tags["mlflow.parentRunId"] for name in iterations} == {steps["fan"].info.run_id}
    assert steps["fan"].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert {run.info.status for run in steps.values()} == {"FINISHED"}
    assert series(client, parent.info.run_id, "accuracy") == [(0, 0.2), (1, 0.4), (2, 0.6)]


def test_the_emulator_tracks_one_run_from_its_many_processes(project: Project, client: MlflowClient) -> None:
    """Every step, fan-out and fan-in in a process of its own, map iterations at the same time."""
    config = project.config("emulator.yaml", executor={"type": "emulator", "config": {"enable_parallel": True}})
    done = project.runnable("execute", "pipeline.yaml", "-c", config, "-p", project.parameters(), "--run-id", "emu-1")
    assert done.returncode == 0, done.stdout + done.stderr

    parent = parent_run(client, project.experiment, "emu-1")
    assert parent.info.status == "FINISHED" and parent.data.tags["runnable.status"] == "SUCCESS"
    assert parent.data.params["model.depth"] == "3" and parent.data.params["settings.kind"] == "tree"
    steps = step_runs(client, project.experiment, "emu-1")
    iterations = {"fan.0_1.train", "fan.0_2.train", "fan.0_3.train"}
    assert set(steps) == {"prepare", "fan", *iterations, "refine", "refine.0.fit", "refine.1.fit"}
    assert {run.info.status for run in steps.values()} == {"FINISHED"}, "fan-in processes close the composites"
    nested_in = {name: run.data.tags["mlflow.parentRunId"] for name, run in steps.items()}
    assert {nested_in[name] for name in ("prepare", "fan", "refine")} == {parent.info.run_id}
    assert {nested_in[name] for name in iterations} == {steps["fan"].info.run_id}
    assert {nested_in["refine.0.fit"], nested_in["refine.1.fit"]} == {steps["refine"].info.run_id}
    assert sorted(v for _, v in series(client, parent.info.run_id, "accuracy")) == [0.2, 0.4, 0.6]
    assert series(client, parent.info.run_id, "loss") == [(0, 1.0), (1, 0.5)]
