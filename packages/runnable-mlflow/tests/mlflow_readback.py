"""Reading back, with MLflow's own client, what the tracker sent to the server."""

from __future__ import annotations

import json
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run
from runnable.testing import TrackedRun

MLFLOW_TO_RUNNABLE = {"FINISHED": "SUCCESS", "FAILED": "FAIL"}


def parsed(text: str) -> Any:
    """A param as the tracker wrote it: JSON for non-strings, the string itself otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def runs_of(client: MlflowClient, experiment: str, run_id: str) -> list[Run]:
    """Every MLflow run (parent and steps) tagged with runnable run ``run_id``, oldest first."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`runnable.run_id` = '{run_id}'",
        order_by=["attributes.start_time ASC"],
        max_results=1000,
    )


def parent_run(client: MlflowClient, experiment: str, run_id: str) -> Run:
    parents = [r for r in runs_of(client, experiment, run_id) if r.data.tags.get("runnable.level") == "run"]
    assert len(parents) == 1, f"{len(parents)} parent runs for {run_id!r}"
    return parents[0]


def step_runs(client: MlflowClient, experiment: str, run_id: str) -> dict[str, Run]:
    """Step runs by internal name."""
    runs = [r for r in runs_of(client, experiment, run_id) if r.data.tags.get("runnable.level") == "step"]
    by_name = {r.data.tags["runnable.step"]: r for r in runs}
    assert len(by_name) == len(runs), "two MLflow runs for one step"
    return by_name


def series(client: MlflowClient, mlflow_run_id: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` points of a metric, in step order."""
    return sorted((m.step, m.value) for m in client.get_metric_history(mlflow_run_id, key))


def tracked_run(client: MlflowClient, experiment: str, run_id: str) -> TrackedRun:
    """The conformance suite's view of a run, read from the parent run only."""
    parent = parent_run(client, experiment, run_id)
    metrics = {key: [value for _, value in series(client, parent.info.run_id, key)] for key in parent.data.metrics}
    return TrackedRun(
        parameters={key: parsed(value) for key, value in parent.data.params.items()},
        metrics=metrics,
        status=MLFLOW_TO_RUNNABLE.get(parent.info.status, parent.info.status),
    )
