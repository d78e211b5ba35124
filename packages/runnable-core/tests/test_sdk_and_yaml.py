"""The Python SDK and the YAML loader compile to the same graph; .py files can be run and rebuilt."""

from __future__ import annotations

import subprocess
import sys

import pytest
from core_helpers import run_log, write
from runnable import Catalog, NotebookTask, Pipeline, PythonTask, ShellTask, Stub, metric, pickled
from runnable.entrypoints import load_graph
from runnable.errors import PipelineDefinitionError
from runnable.yaml_loader import load_pipeline_yaml

YAML = """
dag:
  description: same pipeline, written in YAML
  start_at: prepare
  steps:
    prepare:
      type: task
      command: tasks_graph.prepare
      returns: [{name: model, kind: object}, score]
      catalog: {get: [], put: ["out/*.csv"], store_copy: false}
      secrets: [TOKEN]
      next: notebook
      on_failure: cleanup
    notebook:
      type: task
      command_type: notebook
      command: analysis.ipynb
      returns: [{name: accuracy, kind: metric}]
      next: placeholder
    placeholder:
      type: stub
      anything: goes
      next: shell
    shell:
      type: task
      command_type: shell
      command: echo hello
      next: success
    cleanup:
      type: task
      command_type: shell
      command: echo cleaning
      next: fail
    success:
      type: success
    fail:
      type: fail
"""


def _python_pipeline() -> Pipeline:
    import tasks_graph

    cleanup = Pipeline(steps=[ShellTask(name="cleanup", command="echo cleaning", terminate_with_failure=True)])
    return Pipeline(
        description="same pipeline, written in YAML",
        steps=[
            PythonTask(
                name="prepare",
                function=tasks_graph.prepare,
                returns=[pickled("model"), "score"],
                catalog=Catalog(put=["out/*.csv"], store_copy=False),
                secrets=["TOKEN"],
                on_failure=cleanup,
            ),
            NotebookTask(name="notebook", notebook="analysis.ipynb", returns=[metric("accuracy")]),
            Stub(name="placeholder", anything="goes"),
            ShellTask(name="shell", command="echo hello"),
        ],
    )


def test_yaml_and_python_give_the_same_graph(scratch):
    write(scratch / "tasks_graph.py", "def prepare():\n    return 1, 2\n")
    write(scratch / "pipeline.yaml", YAML)
    from_yaml = load_pipeline_yaml(scratch / "pipeline.yaml")
    from_python = _python_pipeline().return_dag()
    assert from_yaml.name == "pipeline"  # named after its file
    assert from_yaml.model_dump(exclude={"name"}) == from_python.model_dump(exclude={"name"})
    assert from_yaml.dag_hash() == from_python.dag_hash()
    assert from_python.nodes["prepare"].on_failure == "cleanup"


def test_graphs_differ_when_the_pipelines_differ(scratch):
    write(scratch / "tasks_graph.py", "def prepare():\n    return 1, 2\n")
    write(scratch / "pipeline.yaml", YAML.replace("echo hello", "echo bye"))
    assert load_pipeline_yaml(scratch / "pipeline.yaml").dag_hash() != _python_pipeline().return_dag().dag_hash()


def test_steps_chain_in_order_and_end_in_success():
    first = Stub(name="first")
    second = Stub(name="second")
    graph = Pipeline(steps=[first, second]).return_dag()
    assert graph.start_at == "first"
    assert graph.nodes["first"].next_node == "second"
    assert graph.nodes["second"].next_node == "success"
    assert {"success", "fail"} <= set(graph.nodes)


def test_terminate_with_failure_and_duplicates():
    graph = Pipeline(steps=[Stub(name="only", terminate_with_failure=True)]).return_dag()
    assert graph.nodes["only"].next_node == "fail"
    with pytest.raises(PipelineDefinitionError, match="'a' is used twice"):
        Pipeline(steps=[Stub(name="a"), Stub(name="a")])
    with pytest.raises(PipelineDefinitionError, match="cannot contain '.'"):
        Stub(name="a.b")


PY_FILE = """
from runnable import Pipeline, PythonTask

def double(x: int) -> int:
    print("doubling", x)
    return 2 * x

def main():
    pipeline = Pipeline(steps=[PythonTask(name="double", function=double, returns=["y"])], name="pyfile")
    pipeline.execute()
    return pipeline

if __name__ == "__main__":
    main()
"""


def test_python_file_runs_through_the_cli_and_directly(scratch):
    write(scratch / "pipe.py", PY_FILE)
    write(scratch / "params.yaml", "x: 21\n")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "runnable",
            "execute",
            "pipe.py",
            "-p",
            "params.yaml",
            "--run-id",
            "cli-run",
            "--tag",
            "t1",
        ],
        capture_output=True,
        text=True,
        cwd=scratch,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    log = run_log(scratch, "cli-run")
    assert log["parameters"]["y"]["value"] == 42 and log["tag"] == "t1"
    assert log["run_config"]["pipeline_file"] == "pipe.py"

    direct = subprocess.run(
        [sys.executable, "pipe.py"],
        capture_output=True,
        text=True,
        cwd=scratch,
        env={"RUNNABLE_PRM_x": "5", "RUNNABLE_RUN_ID": "direct-run", "PATH": "/usr/bin:/bin"},
    )
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert run_log(scratch, "direct-run")["parameters"]["y"]["value"] == 10


def test_rebuilding_the_graph_from_a_python_file_runs_nothing(scratch):
    write(scratch / "pipe.py", PY_FILE)
    graph = load_graph(scratch / "pipe.py")
    assert list(graph.nodes) == ["double", "success", "fail"]
    assert graph.nodes["double"]._function(4) == 8
    assert not (scratch / ".run_log_store").exists()
