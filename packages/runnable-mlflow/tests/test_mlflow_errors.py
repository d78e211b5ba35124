"""What goes wrong: a server that is not there, a bad experiment, a server failing during a run."""

from __future__ import annotations

import socket

import pytest
from mlflow import MlflowClient
from mlflow_project import Project
from mlflow_readback import parent_run, step_runs

SABOTAGED = """
dag:
  start_at: sabotage
  steps:
    sabotage: {type: task, command: tasks_sabotage.delete_experiment, next: later}
    later: {type: task, command: tasks_sabotage.later, returns: [finished], next: last}
    last: {type: task, command: tasks_sabotage.later, returns: [finished], next: success}
"""

SABOTAGE = '''
from mlflow import MlflowClient


def delete_experiment(tracking_uri: str, experiment: str) -> None:
    """Someone deletes the experiment while the run goes: the tracker's next calls fail."""
    client = MlflowClient(tracking_uri)
    client.delete_experiment(client.get_experiment_by_name(experiment).experiment_id)


def later() -> bool:
    return True
'''


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_an_unreachable_server_stops_the_run_before_any_step(project: Project) -> None:
    project.tracking_uri = f"http://127.0.0.1:{_closed_port()}"
    done = project.runnable("execute", "pipeline.yaml", "-c", project.config(), "-p", project.parameters())
    assert done.returncode != 0
    (error,) = _errors(done.stderr)
    assert "experiment-tracker mlflow" in error and project.tracking_uri in error
    assert "Retrying" not in done.stderr, "urllib3's retry messages are MLflow noise too"
    assert not (project.root / "report.txt").exists(), "the first step did not run"
    assert "prepare" not in done.stdout


@pytest.mark.parametrize(
    ("name", "complaint"),
    [("x" * 501, "exceeds the maximum length"), ("   ", "experiment_name: invalid value")],
)
def test_an_invalid_experiment_name_stops_the_run_before_any_step(project: Project, name: str, complaint: str) -> None:
    project.experiment = name
    done = project.runnable("execute", "pipeline.yaml", "-c", project.config(), "-p", project.parameters())
    assert done.returncode != 0
    (error,) = _errors(done.stderr)
    assert complaint in error and "experiment" in error
    assert not (project.root / "report.txt").exists()


def test_a_deleted_experiment_is_named(project: Project, mlflow_server: str) -> None:
    client = MlflowClient(mlflow_server)
    client.delete_experiment(client.create_experiment(project.experiment))
    done = project.runnable("execute", "pipeline.yaml", "-c", project.config(), "-p", project.parameters())
    (error,) = _errors(done.stderr)
    assert f"experiment {project.experiment!r}" in error and "is deleted" in error


def _sabotaged(project: Project) -> str:
    project.write("tasks_sabotage.py", SABOTAGE)
    project.write("sabotaged.yaml", SABOTAGED)
    return project.parameters({"tracking_uri": project.tracking_uri, "experiment": project.experiment})


def test_a_tracking_failure_during_a_run_is_reported_once_and_the_run_goes_on(
    project: Project, mlflow_server: str
) -> None:
    parameters = _sabotaged(project)
    done = project.runnable("execute", "sabotaged.yaml", "-c", project.config(), "-p", parameters, "--run-id", "s-1")
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [line for line in done.stderr.splitlines() if "experiment-tracker mlflow" in line]
    assert len(reports) == 1, done.stderr
    assert "recording step 'sabotage'" in reports[0] and "s-1" in reports[0] and "deleted" in reports[0]
    # what was sent before the failure is there
    client = MlflowClient(mlflow_server)
    client.restore_experiment(client.get_experiment_by_name(project.experiment).experiment_id)
    assert set(step_runs(client, project.experiment, "s-1")) == {"sabotage"}
    assert parent_run(client, project.experiment, "s-1").info.status == "RUNNING"


def test_strict_fails_the_run_on_a_tracking_failure(project: Project) -> None:
    parameters = _sabotaged(project)
    config = project.config(strict=True)
    done = project.runnable("execute", "sabotaged.yaml", "-c", config, "-p", parameters, "--run-id", "s-2")
    assert done.returncode != 0
    (error,) = _errors(done.stderr)
    assert "experiment-tracker mlflow" in error and "s-2" in error
