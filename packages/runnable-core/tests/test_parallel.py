"""Branches in separate processes (enable_parallel) with the chunked run log store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from multiprocessing import get_context

import pytest
from core_helpers import write
from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
from runnable.models.run_log import RunLog, StepLog

PIPELINE = """
import os
from runnable import Map, Pipeline, PythonTask


def items(n: int) -> list:
    return list(range(n))


def work(item: int) -> tuple:
    return item * item, os.getpid()


def main():
    pipeline = Pipeline(steps=[
        PythonTask(name="items", function=items, returns=["xs"]),
        Map(name="fan", iterate_on="xs", iterate_as="item",
            branch=Pipeline(steps=[PythonTask(name="work", function=work, returns=["squares", "pids"])])),
    ])
    pipeline.execute()
    return pipeline
"""

CONFIG = """
pipeline-executor: {type: local, config: {enable_parallel: true, min_parallel_seconds: 0}}
run-log-store: {type: chunked-fs}
"""


def test_a_parallel_map_of_50_items_gives_a_complete_run_log_every_time(scratch):
    write(scratch / "fan.py", PIPELINE)
    write(scratch / "parallel.yaml", CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env["RUNNABLE_PRM_n"] = "50"
    pids: set[int] = set()
    for attempt in range(5):
        run_id = f"par-{attempt}"
        done = subprocess.run(
            [sys.executable, "-m", "runnable", "execute", "fan.py", "-c", "parallel.yaml", "--run-id", run_id],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        folder = scratch / ".run_log_store" / run_id
        assert [p.name for p in folder.iterdir()] == ["RunLog.json"]  # chunks folded into the final record
        log = RunLog.model_validate(json.loads((folder / "RunLog.json").read_text()))
        assert log.status == "SUCCESS"
        fan = log.steps["fan"]
        assert len(fan.branches) == 50
        for item in range(50):
            branch = fan.branches[f"fan.{item}"]
            assert branch.status == "SUCCESS"
            assert branch.steps[f"fan.{item}.work"].status == "SUCCESS"
        assert log.parameters["squares"].value == [i * i for i in range(50)]
        pids.update(log.parameters["pids"].value)
    assert os.getpid() not in pids and len(pids) >= 2  # the iterations really ran in worker processes


def _write_steps(folder: str, run_id: str, worker: int, count: int) -> None:
    store = ChunkedFileSystemRunLogStore(log_folder=folder)
    for index in range(count):
        name = f"w{worker}-s{index}"
        store.put_step_log(run_id, StepLog(name=name, internal_name=name, status="SUCCESS"))


def test_chunked_store_loses_nothing_under_concurrent_writers(tmp_path):
    store = ChunkedFileSystemRunLogStore(log_folder=str(tmp_path))
    store.create_run_log(RunLog(run_id="c", status="PROCESSING"))
    context = get_context("fork")
    workers = [context.Process(target=_write_steps, args=(str(tmp_path), "c", w, 40)) for w in range(4)]
    for worker in workers:
        worker.start()
    seen = 0
    while any(w.is_alive() for w in workers):
        seen = max(seen, len(store.get_run_log("c").steps))  # every read while writing is a valid record
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    assert len(store.get_run_log("c").steps) == 160 >= seen


def test_a_worker_that_dies_fails_its_branch_and_the_run_instead_of_hanging(scratch, monkeypatch):
    from runnable import ExecutionFailedError, Map, Pipeline, PythonTask

    write(
        scratch / "config.yaml",
        "pipeline-executor: {type: local, config: {enable_parallel: true, min_parallel_seconds: 0}}\n"
        "run-log-store: {type: chunked-fs}\n",
    )
    write(
        scratch / "tasks_die.py",
        "import os, signal\n\ndef work(item: int):\n    if item == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n    return item\n",
    )
    import tasks_die

    monkeypatch.setenv("RUNNABLE_PRM_items", "[1, 2, 3]")
    pipeline = Pipeline(
        steps=[
            Map(
                name="fan",
                iterate_on="items",
                iterate_as="item",
                branch=Pipeline(steps=[PythonTask(name="work", function=tasks_die.work, returns=["done"])]),
            )
        ]
    )
    with pytest.raises(ExecutionFailedError):
        pipeline.execute(configuration_file="config.yaml", run_id="dies")
    run_log = ChunkedFileSystemRunLogStore().get_run_log("dies")
    assert run_log.status == "FAIL" and run_log.steps["fan"].status == "FAIL"
    assert run_log.steps["fan"].branches["fan.2"].status == "FAIL"


CLASH = """
dag:
  start_at: fan
  steps:
    fan:
      type: map
      iterate_on: items
      iterate_as: item
      next: success
      branch:
        start_at: write
        steps:
          write:
            type: task
            command_type: shell
            command: 'printf "bytes of $item" > out.bin'
            catalog: {put: [out.bin]}
            next: success
"""


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "one after the other"])
def test_branches_putting_one_name_with_different_bytes(scratch, monkeypatch, parallel):
    """Concurrent branches overwriting one catalog item fail their composite; one after the other, the last
    one wins and the step's message says so."""
    from runnable.entrypoints import load_graph, run_graph

    write(scratch / "pipeline.yaml", CLASH)
    write(
        scratch / "config.yaml",
        "pipeline-executor: {type: local, config: "
        f"{{enable_parallel: {str(parallel).lower()}, min_parallel_seconds: 0}}}}\n"
        "run-log-store: {type: chunked-fs}\n",
    )
    monkeypatch.setenv("RUNNABLE_PRM_items", "[1, 2, 3, 4]")
    run_log = run_graph(load_graph("pipeline.yaml"), configuration_file="config.yaml", run_id="clash")
    fan = run_log.steps["fan"]
    assert "catalog item 'out.bin' was put by parallel branches" in fan.message
    assert (fan.status, run_log.status) == (("FAIL", "FAIL") if parallel else ("SUCCESS", "SUCCESS"))


PACED = """
import os, time


def items(n: int) -> list:
    return list(range(n))


def work(item: int, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()
"""

PACED_PIPELINE = """
dag:
  start_at: items
  steps:
    items: {type: task, command: paced.items, returns: [xs], next: fan}
    fan:
      type: map
      iterate_on: xs
      iterate_as: item
      next: success
      branch:
        start_at: work
        steps:
          work: {type: task, command: paced.work, returns: [pids], next: success}
"""


@pytest.mark.parametrize(
    ("seconds", "forked"),
    [
        (0.0, False),  # 8 cheap items: forking would cost more than running them all here
        (0.1, True),  # 8 items of 0.1 s: the first shows the whole map would take 0.8 s; the other 7 go to workers
    ],
)
def test_a_map_runs_its_items_in_workers_only_when_that_pays(scratch, monkeypatch, seconds, forked):
    from runnable.entrypoints import load_graph, run_graph

    write(scratch / "paced.py", PACED)
    write(scratch / "pipeline.yaml", PACED_PIPELINE)
    write(
        scratch / "config.yaml",
        "pipeline-executor: {type: local, config: {enable_parallel: true}}\nrun-log-store: {type: chunked-fs}\n",
    )
    monkeypatch.setenv("RUNNABLE_PRM_n", "8")
    monkeypatch.setenv("RUNNABLE_PRM_seconds", str(seconds))
    run_log = run_graph(load_graph("pipeline.yaml"), configuration_file="config.yaml", run_id=f"paced-{forked}")
    assert run_log.status == "SUCCESS"
    pids = run_log.parameters["pids"].value
    assert len(pids) == 8 and pids[0] == os.getpid(), "the first item always runs here"
    if forked:
        assert os.getpid() not in pids[1:], "after the first item, the map's items ran in worker processes"
    else:
        assert set(pids) == {os.getpid()}
