"""The mocked executor (wiring without the work) and retrying a failed run from its failed step."""

from __future__ import annotations

import pytest
from core_helpers import write
from runnable.entrypoints import load_graph, retry_run, run_graph
from runnable.errors import ConfigurationError, RunnableError

PIPELINE = """
dag:
  start_at: download
  steps:
    download:
      type: task
      command: tasks_wiring.download
      returns: [rows]
      catalog: {put: [raw.csv]}
      next: fan
    fan:
      type: map
      iterate_on: shards
      iterate_as: shard
      next: train
      branch:
        start_at: clean
        steps:
          clean:
            type: task
            command: tasks_wiring.clean
            returns: [cleaned]
            next: success
    train:
      type: task
      command: tasks_wiring.train
      returns: [accuracy]
      catalog: {get: [raw.csv]}
      next: report
    report:
      type: task
      command_type: shell
      command: echo "accuracy $accuracy" > report.txt
      catalog: {put: [report.txt]}
      next: success
"""

TASKS = """
import os
from pathlib import Path

CALLS = Path("calls.txt")


def _called(name):
    with CALLS.open("a") as handle:
        handle.write(name + "\\n")


def download():
    _called("download")
    Path("raw.csv").write_text("a,b\\n1,2\\n")
    return 2


def clean(shard: str):
    _called(f"clean {shard}")
    return shard.upper()


def train(rows: int, cleaned: list):
    _called("train")
    if os.environ.get("TRAIN_FIXED") != "yes":
        raise RuntimeError("training diverged")
    return 0.5 + rows / 10


def fake_download():
    Path("raw.csv").write_text("fake\\n")
    return 99
"""


@pytest.fixture
def wiring(scratch):
    write(scratch / "pipeline.yaml", PIPELINE)
    write(scratch / "tasks_wiring.py", TASKS)
    write(scratch / "params.yaml", "shards: [x, y]\n")
    return scratch


def _calls(folder) -> list[str]:
    path = folder / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_mocked_executor_skips_every_task_but_walks_the_graph(wiring):
    write(wiring / "mocked.yaml", "pipeline-executor: {type: mocked}\n")
    log = run_graph(
        load_graph("pipeline.yaml"), configuration_file="mocked.yaml", parameters_file="params.yaml", run_id="m"
    )
    assert log.status == "SUCCESS"
    assert _calls(wiring) == []
    assert all(step.mock for step in log.iter_steps() if step.step_type == "task")
    assert set(log.steps["fan"].branches) == {"fan.x", "fan.y"}  # branches are still walked


def test_mocked_executor_runs_patches_of_any_command_type(wiring):
    write(
        wiring / "mocked.yaml",
        """
        pipeline-executor:
          type: mocked
          config:
            patches:
              download: tasks_wiring.fake_download
              train: {command_type: shell, command: "echo fake training; export accuracy=0.99"}
              report: {command: "echo \\"accuracy $accuracy\\" > report.txt"}
        """,
    )
    log = run_graph(
        load_graph("pipeline.yaml"), configuration_file="mocked.yaml", parameters_file="params.yaml", run_id="p"
    )
    assert log.status == "SUCCESS"
    assert log.parameters["rows"].value == 99 and log.parameters["accuracy"].value == 0.99
    assert log.steps["fan"].branches["fan.x"].steps["fan.x.clean"].mock is True
    assert (wiring / ".catalog" / "p" / "report.txt").read_text().strip() == "accuracy 0.99"
    assert log.steps["train"].data_catalog[0].name == "raw.csv"  # the patched step's catalog get still ran


def test_mocked_executor_rejects_patches_for_unknown_steps(wiring):
    write(wiring / "mocked.yaml", "pipeline-executor: {type: mocked, config: {patches: {trian: x.y}}}\n")
    with pytest.raises(
        ConfigurationError, match="no task step named 'trian'; task steps: clean, download, report, train"
    ):
        run_graph(load_graph("pipeline.yaml"), configuration_file="mocked.yaml", parameters_file="params.yaml")


def test_retry_reruns_from_the_failed_step_reusing_what_succeeded(wiring, monkeypatch):
    graph = load_graph("pipeline.yaml")
    first = run_graph(graph, parameters_file="params.yaml", run_id="first", pipeline_file="pipeline.yaml")
    assert first.status == "FAIL" and first.steps["train"].status == "FAIL"
    assert _calls(wiring) == ["download", "clean x", "clean y", "train"]
    (wiring / "calls.txt").unlink()
    (wiring / "raw.csv").unlink()

    monkeypatch.setenv("TRAIN_FIXED", "yes")
    monkeypatch.setenv("RUNNABLE_PRM_shards", '["changed"]')  # ignored: a retry uses the original parameters
    second = retry_run("first", run_id="second")
    assert second.status == "SUCCESS" and second.original_run_id == "first"
    assert _calls(wiring) == ["train"]  # download and the map iterations were reused, not run
    assert second.steps["download"].message == "reused from run 'first'"
    assert second.parameters["accuracy"].value == pytest.approx(0.7)
    assert second.parameters["cleaned"].value == ["X", "Y"]
    assert (wiring / ".catalog" / "second" / "raw.csv").is_file()  # copied from the original run, then got

    with pytest.raises(RunnableError, match="succeeded: there is nothing to retry"):
        retry_run("second")


def test_retry_refuses_a_changed_pipeline(wiring):
    run_graph(load_graph("pipeline.yaml"), parameters_file="params.yaml", run_id="orig", pipeline_file="pipeline.yaml")
    write(wiring / "pipeline.yaml", PIPELINE.replace('echo "accuracy', 'echo "acc'))
    with pytest.raises(RunnableError, match="the pipeline's steps changed since run 'orig'"):
        retry_run("orig")


def test_retry_from_the_command_line(wiring):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_") and k != "TRAIN_FIXED"}

    def cli(*args, **extra):
        return subprocess.run(
            [sys.executable, "-m", "runnable", *args], cwd=wiring, env={**env, **extra}, capture_output=True, text=True
        )

    failed = cli("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "broken")
    assert failed.returncode == 1 and "training diverged" in failed.stderr
    still = cli("retry", "broken", "--run-id", "again")
    assert still.returncode == 1
    fixed = cli("retry", "broken", "--run-id", "fixed", TRAIN_FIXED="yes")
    assert fixed.returncode == 0, fixed.stderr
    assert "SUCCESS" in fixed.stdout
    assert (wiring / "calls.txt").read_text().splitlines().count("download") == 1  # never re-run by retries


def test_a_notebook_patch_runs_in_place_of_a_python_task(wiring):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("accuracy = 0.42")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, wiring / "fake_train.ipynb")
    write(
        wiring / "mocked.yaml",
        """
        pipeline-executor:
          type: mocked
          config:
            patches:
              download: tasks_wiring.fake_download   # train gets the file this one puts
              train: {command_type: notebook, command: fake_train.ipynb}
    """,
    )
    log = run_graph(load_graph("pipeline.yaml"), configuration_file="mocked.yaml", parameters_file="params.yaml")
    assert log.status == "SUCCESS" and log.parameters["accuracy"].value == 0.42
    assert _calls(wiring) == []  # the real tasks never ran
