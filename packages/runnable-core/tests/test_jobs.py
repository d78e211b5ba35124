"""Jobs: one task without a pipeline, with catalog, returns and secrets; from Python and from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import ClassVar

import pytest
from core_helpers import run_log, write
from pydantic import ValidationError
from runnable import Catalog, PythonJob, ShellJob, metric, pickled, plugins
from runnable.cli import app
from runnable.hookspecs import hookimpl
from runnable.sdk import ExecutionFailedError
from runnable.services.executor import BaseJobExecutor
from typer.testing import CliRunner


def test_python_job_keeps_returns_catalog_and_uses_secrets(scratch, monkeypatch):
    monkeypatch.setenv("API_KEY", "k-123456")

    def train(epochs: int):
        assert os.environ["API_KEY"] == "k-123456"
        (scratch / "model.txt").write_text(f"trained {epochs}")
        return {"weights": [1, 2]}, 0.9

    log = PythonJob(
        function=train,
        returns=[pickled("model"), metric("accuracy")],
        catalog=Catalog(put=["model.txt"]),
        secrets=["API_KEY"],
    ).execute(job_id="job1", parameters_file=str(write(scratch / "p.yaml", "epochs: 3\n")))
    assert log.status == "SUCCESS" and log.steps == {}
    stored = run_log(scratch, "job1")
    job = stored["job"]
    assert job["status"] == "SUCCESS" and job["step_type"] == "job"
    assert job["attempts"][0]["user_defined_metrics"] == {"accuracy": 0.9}
    assert [e["name"] for e in job["data_catalog"]] == ["model.txt"]
    assert (scratch / ".catalog" / "job1" / "model.pickle").is_file()
    assert stored["parameters"]["accuracy"]["value"] == 0.9


def test_failing_job_raises_and_is_recorded(scratch):
    with pytest.raises(ExecutionFailedError):
        ShellJob(command="echo broken >&2; exit 4").execute(job_id="bad")
    job = run_log(scratch, "bad")["job"]
    assert job["status"] == "FAIL" and "exited with status 4" in job["message"]
    assert "broken" in (scratch / ".catalog" / "bad" / "job.execution.log").read_text()


def test_jobs_cannot_get_from_the_catalog():
    with pytest.raises(ValidationError, match="Catalog get is not supported for jobs"):
        ShellJob(command="true", catalog=Catalog(get=["x"]))


def test_execute_job_cli_with_yaml_and_python(scratch):
    write(
        scratch / "job.yaml", "type: shell\ncommand: 'echo \"x=$x\"; export doubled=$((x * 2))'\nreturns: [doubled]\n"
    )
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}, "RUNNABLE_PRM_x": "21"}
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "execute-job", "job.yaml", "--run-id", "yj"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_log(scratch, "yj")["parameters"]["doubled"]["value"] == 42

    write(
        scratch / "job.py",
        """
        from runnable import PythonJob

        def hello(x: int):
            print("hello", x)
            return x + 1

        def main():
            job = PythonJob(function=hello, returns=["y"])
            job.execute()
            return job
    """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "execute-job", "job.py", "pj"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello 21" in done.stdout
    assert run_log(scratch, "pj")["parameters"]["y"]["value"] == 22


def test_notebook_job_runs_in_a_kernel_and_keeps_the_notebook(scratch):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("total = sum(values)\nprint('total', total)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, scratch / "sum.ipynb")
    write(scratch / "p.yaml", "values: [1, 2, 3]\n")
    from runnable import NotebookJob

    log = NotebookJob(notebook="sum.ipynb", returns=[metric("total")]).execute(job_id="nbj", parameters_file="p.yaml")
    assert log.parameters["total"].value == 6 and log.job.status == "SUCCESS"
    assert (scratch / ".catalog" / "nbj" / "sum-job_out.ipynb").is_file()
    assert "total 6" in (scratch / ".catalog" / "nbj" / "job.execution.log").read_text()


class _SubmittingJobExecutor(BaseJobExecutor):
    """Creates the run and hands the task to "another service": returns the run log while it is PROCESSING."""

    service_name: ClassVar[str] = "submit-test"

    def execute_job(self, context):
        from runnable.engine.run import Run

        Run(context).open()
        return context.run_log


class _SubmittingPlugin:
    @hookimpl
    def register_job_executors(self):
        return [_SubmittingJobExecutor]


@pytest.fixture
def submitting_executor():
    pm = plugins.get_plugin_manager()
    plugin = _SubmittingPlugin()
    pm.register(plugin, name="submit-test")
    plugins.get_registry.cache_clear()
    yield
    pm.unregister(plugin)
    plugins.get_registry.cache_clear()


def test_a_submitted_job_is_not_a_failure(scratch, submitting_executor):
    """A job executor that submits the job (aws-batch) returns the run PROCESSING: execute-job exits 0, execute()
    returns it."""
    write(scratch / "job.yaml", "type: shell\ncommand: echo hi\n")
    write(scratch / "submit.yaml", "job-executor: {type: submit-test}\n")
    result = CliRunner().invoke(app, ["execute-job", "job.yaml", "-c", "submit.yaml", "--run-id", "sub1"])
    assert result.exit_code == 0, result.output
    assert run_log(scratch, "sub1")["status"] == "PROCESSING"
    log = ShellJob(command="echo hi").execute(configuration_file="submit.yaml", job_id="sub2")
    assert log is not None and log.status == "PROCESSING"
