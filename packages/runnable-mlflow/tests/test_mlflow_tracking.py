"""Pipelines run through the CLI with the tracker configured, everything read back from the MLflow server."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow_project import Project
from mlflow_readback import parent_run, series, step_runs
from runnable_mlflow.values import PARAM_VALUE_LIMIT, TRUNCATED


@pytest.fixture
def client(mlflow_server: str) -> MlflowClient:
    return MlflowClient(mlflow_server)


def test_a_run_becomes_a_parent_run_with_a_nested_run_per_step(project: Project, client: MlflowClient) -> None:
    config = project.config(log_artifacts=True)
    commit = project.commit()
    done = project.runnable(
        "execute", "pipeline.yaml", "-c", config, "-p", project.parameters(), "--run-id", "demo-1", "--tag", "nightly"
    )
    assert done.returncode == 0, done.stdout + done.stderr

    parent = parent_run(client, project.experiment, "demo-1")
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "demo-1"
    tags = parent.data.tags
    assert tags["runnable.run_id"] == "demo-1"
    assert tags["runnable.tag"] == "nightly"
    assert tags["runnable.pipeline"] == "demo"
    assert tags["runnable.status"] == "SUCCESS"
    assert tags["mlflow.source.git.commit"] == commit

    # initial parameters (nested ones flattened, a long one truncated) and what the run returned
    params = parent.data.params
    assert params["model.depth"] == "3" and params["model.name"] == "forest"
    assert params["rates"] == "[0.1, 0.2, 0.3]"
    assert len(params["note"]) == PARAM_VALUE_LIMIT and params["note"].endswith(TRUNCATED)
    assert params["settings.depth"] == "4" and params["settings.kind"] == "tree"
    assert params["done"] == "true"

    # every metric is a series over the steps that returned it, in the order they ran
    assert series(client, parent.info.run_id, "rows") == [(0, 100.0)]
    assert series(client, parent.info.run_id, "accuracy") == [(0, 0.2), (1, 0.4), (2, 0.6)]
    assert series(client, parent.info.run_id, "loss") == [(0, 1.0), (1, 0.5)]

    steps = step_runs(client, project.experiment, "demo-1")
    iterations = ["fan.0_1.train", "fan.0_2.train", "fan.0_3.train"]
    assert set(steps) == {"prepare", "fan", *iterations, "refine", "refine.0.fit", "refine.1.fit"}
    for name, run in steps.items():
        assert run.info.run_name == name
        assert run.info.status == "FINISHED", name
        assert run.data.tags["runnable.status"] == "SUCCESS"
    nested_in = {name: run.data.tags["mlflow.parentRunId"] for name, run in steps.items()}
    for name in ("prepare", "fan", "refine"):
        assert nested_in[name] == parent.info.run_id, name
    for name in iterations:
        assert nested_in[name] == steps["fan"].info.run_id, name
    for name in ("refine.0.fit", "refine.1.fit"):
        assert nested_in[name] == steps["refine"].info.run_id, name

    # a step's run holds what that step returned
    prepare = steps["prepare"]
    assert prepare.data.params == {"settings.depth": "4", "settings.kind": "tree"}
    assert prepare.data.metrics == {"rows": 100.0}
    assert steps["fan.0_2.train"].data.metrics == {"accuracy": 0.4}
    assert steps["refine.1.fit"].data.params == {"done": "true"}
    # the map's run: the metric of each iteration is a series over the iterations
    assert series(client, steps["fan"].info.run_id, "accuracy") == [(0, 0.2), (1, 0.4), (2, 0.6)]

    # log_artifacts: the step's catalog items (and its execution log) are artifacts of its run
    artifacts = {a.path for a in client.list_artifacts(prepare.info.run_id)}
    assert artifacts == {"report.txt", "prepare.execution.log"}
    local = client.download_artifacts(prepare.info.run_id, "report.txt", str(project.root / "downloaded"))
    assert open(local).read() == "depth 3"

    # MLflow's console messages stay out of the run's output
    for output in (done.stdout, done.stderr):
        assert "View run" not in output and "View experiment" not in output and "mlflow" not in output.lower()


def test_a_failing_run_leaves_failed_runs(project: Project, client: MlflowClient) -> None:
    done = project.runnable(
        "execute", "failing.yaml", "-c", project.config(), "-p", project.parameters(), "--run-id", "broken-1"
    )
    assert done.returncode != 0

    parent = parent_run(client, project.experiment, "broken-1")
    assert parent.info.status == "FAILED"
    assert parent.data.tags["runnable.status"] == "FAIL"
    steps = step_runs(client, project.experiment, "broken-1")
    assert set(steps) == {"prepare", "broken"}
    assert steps["prepare"].info.status == "FINISHED"
    assert steps["broken"].info.status == "FAILED"
    assert "no data for this step" in steps["broken"].data.tags["runnable.message"]
    assert series(client, parent.info.run_id, "rows") == [(0, 100.0)], "what was tracked before the failure stays"
    assert client.list_artifacts(steps["prepare"].info.run_id) == [], "artifacts are logged only when asked for"


def test_verbose_lets_mlflow_print(project: Project) -> None:
    config = project.config(verbose=True)
    done = project.runnable("execute", "failing.yaml", "-c", config, "-p", project.parameters())
    assert "View run" in done.stdout


def test_many_params_and_metric_points_are_sent_in_batches_mlflow_accepts(mlflow_server: str) -> None:
    from runnable_mlflow.session import MlflowSession

    session = MlflowSession(mlflow_server, "batches", timeout=30, retries=2, verbose=False)
    run = session.client.create_run(session.open_experiment()).info.run_id
    params = {f"p{i}": str(i) for i in range(250)}
    points = [("loss", float(i), 1_700_000_000_000, i) for i in range(2500)]
    session.log(run, params=params, tags={"a": "1", "b": "2"}, metrics=points)
    data = session.client.get_run(run).data
    assert data.params == params
    assert {k: data.tags[k] for k in ("a", "b")} == {"a": "1", "b": "2"}
    assert [m.step for m in session.client.get_metric_history(run, "loss")] == list(range(2500))
