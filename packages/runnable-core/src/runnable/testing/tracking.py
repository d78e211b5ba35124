"""The experiment tracker suite: what a run returned reaches the tracker's backend, run by run.

A tracker observes the run lifecycle (``runnable.hookspecs``) and sends parameters and metrics somewhere.
The suite runs real pipelines with the tracker under test and reads back what its backend recorded through
a *reader* the plugin provides, so the same tests hold for the run log, MLflow, or anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from runnable.models.graph import Graph
from runnable.models.run_log import RunLog
from runnable.services.tracking import BaseExperimentTracker
from runnable.testing import tasks
from runnable.testing.harness import ServiceSuite, Workspace, credential_values, leaked, missing_fixture, run_workers


@dataclass
class TrackedRun:
    """What a tracker's backend holds for one pipeline run, in backend-neutral terms.

    ``parameters``: initial and returned json parameters by name (latest value). ``metrics``: every value
    logged under each name, in the order the steps ran. ``status``: the run's final status as recorded
    (``SUCCESS``/``FAIL``), or None if the backend keeps no status.
    """

    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    status: str | None = None


TrackedRunReader = Callable[[RunLog], TrackedRun]


def read_from_run_log(run_log: RunLog) -> TrackedRun:
    """The reader for the ``run-log`` tracker: the run log itself is its backend."""
    metrics: dict[str, list[Any]] = {}
    for step in run_log.iter_steps():
        for attempt in step.attempts:
            for name, value in attempt.user_defined_metrics.items():
                metrics.setdefault(name, []).append(value)
    parameters = {name: p.value for name, p in run_log.parameters.items() if p.kind == "json"}
    return TrackedRun(parameters=parameters, metrics=metrics, status=run_log.status)


def _run_in_child(
    index: int, barrier: Any, workspace: Workspace, graph: Graph, tracker: BaseExperimentTracker, parameters: Any
) -> RunLog:
    return workspace.run(graph, tracker, parameters=parameters)


class ExperimentTrackerSuite(ServiceSuite):
    """Subclass it and provide the tracker and a reader of what its backend recorded::

    class TestMyTracker(ExperimentTrackerSuite):
        @pytest.fixture
        def experiment_tracker(self, tmp_path):
            return MyTracker(tracking_uri=f"file://{tmp_path}/runs")

        @pytest.fixture
        def tracked_run_reader(self, experiment_tracker):
            def read(run_log):  # find the backend's record of run_log.run_id
                record = my_backend_client(experiment_tracker).find(tag=run_log.run_id)
                return TrackedRun(parameters=record.params, metrics=record.metric_history,
                                  status=record.status)
            return read
    """

    @pytest.fixture
    def experiment_tracker(self) -> BaseExperimentTracker:
        missing_fixture(type(self).__name__, "experiment_tracker", "the experiment tracker instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    @pytest.fixture
    def tracked_run_reader(self) -> TrackedRunReader:
        missing_fixture(
            type(self).__name__,
            "tracked_run_reader",
            "a function (run_log) -> runnable.testing.TrackedRun reading what the backend recorded for that run",
        )
        raise AssertionError  # unreachable

    def _graph(self, failing: bool = False) -> Graph:
        from runnable import Pipeline, PythonTask, metric

        steps = [
            PythonTask(name="train", function=tasks.train, returns=["epochs", metric("accuracy")]),
            PythonTask(name="evaluate", function=tasks.evaluate, returns=[metric("accuracy"), metric("loss")]),
        ]
        if failing:
            steps.append(PythonTask(name="break", function=tasks.fail))
        return Pipeline(steps=steps).return_dag()

    @pytest.fixture
    def backend_credentials(self, experiment_tracker: BaseExperimentTracker) -> list[str]:
        """The credentials in the tracker's own configuration (a token to its server); override if elsewhere."""
        return credential_values(experiment_tracker)

    def test_its_own_credentials_never_reach_a_run_log_or_catalog_file(
        self, experiment_tracker: BaseExperimentTracker, workspace: Workspace, backend_credentials: list[str]
    ) -> None:
        if not backend_credentials:
            pytest.skip("the tracker's configuration holds no credential (no SecretStr, no token-like field)")
        run_log = workspace.run(self._graph(), experiment_tracker, parameters={"learning_rate": 0.25})
        leaks = leaked(
            backend_credentials, run_log=run_log.model_dump_json(), persisted_files=workspace.persisted_text()
        )
        assert not leaks, leaks

    def test_branches_in_forked_processes_reach_the_backend(
        self, experiment_tracker: BaseExperimentTracker, tracked_run_reader: TrackedRunReader, workspace: Workspace
    ) -> None:
        """With ``enable_parallel`` the branches of a map run in processes forked from the run's: the tracker
        observes their steps there (a client inherited across fork must still deliver). ``min_parallel_seconds:
        0`` sends even these quick items to the workers."""
        from runnable import Map, Pipeline, PythonTask, metric

        config = yaml.safe_load(workspace.config_file.read_text())
        config["run-log-store"] = {"type": "chunked-fs", "config": {"log_folder": str(workspace.run_log_folder)}}
        config["pipeline-executor"] = {"type": "local", "config": {"enable_parallel": True, "min_parallel_seconds": 0}}
        workspace.config_file.write_text(yaml.safe_dump(config))
        branch = Pipeline(
            steps=[PythonTask(name="train", function=tasks.train, returns=["epochs", metric("accuracy")])]
        )
        graph = Pipeline(
            steps=[Map(name="sweep", branch=branch, iterate_on="rates", iterate_as="learning_rate")]
        ).return_dag()
        # The run goes in a process of its own, so that a hang (a worker that never ends) fails this test
        # after a while instead of blocking the whole session.
        (run_log,) = run_workers(
            "fork", 1, _run_in_child, workspace, graph, experiment_tracker, {"rates": [0.1, 0.2, 0.3, 0.4]}, timeout=180
        )
        assert run_log.status == "SUCCESS", [s.message for s in run_log.iter_steps() if s.message]
        # Each branch logs its own value (the map step may add the reduced list too)
        values = [v for v in tracked_run_reader(run_log).metrics.get("accuracy") or [] if not isinstance(v, list)]
        assert sorted(values) == [0.6, 0.7, 0.8, 0.9], "metrics of branches run in forked processes were lost"

    def test_is_an_experiment_tracker(self, experiment_tracker: BaseExperimentTracker) -> None:
        assert isinstance(experiment_tracker, BaseExperimentTracker)
        assert isinstance(type(experiment_tracker).service_name, str) and type(experiment_tracker).service_name

    def test_parameters_and_metrics_reach_the_backend(
        self, experiment_tracker: BaseExperimentTracker, tracked_run_reader: TrackedRunReader, workspace: Workspace
    ) -> None:
        run_log = workspace.run(self._graph(), experiment_tracker, parameters={"learning_rate": 0.25, "model": "tree"})
        assert run_log.status == "SUCCESS", [s.message for s in run_log.iter_steps() if s.message]
        tracked = tracked_run_reader(run_log)
        expected = {"learning_rate": 0.25, "model": "tree", "epochs": 3}
        assert {k: tracked.parameters.get(k) for k in expected} == expected, "initial and returned parameters"
        assert tracked.metrics.get("accuracy") == [0.75, 0.9], "every value of a metric, in step order"
        assert tracked.metrics.get("loss") == [0.75]
        assert tracked.status in (None, "SUCCESS")

    def test_a_failed_run_keeps_what_was_tracked_before_the_failure(
        self, experiment_tracker: BaseExperimentTracker, tracked_run_reader: TrackedRunReader, workspace: Workspace
    ) -> None:
        run_log = workspace.run(self._graph(failing=True), experiment_tracker, parameters={"learning_rate": 0.25})
        assert run_log.status == "FAIL"
        tracked = tracked_run_reader(run_log)
        assert tracked.metrics.get("accuracy") == [0.75, 0.9]
        assert tracked.status in (None, "FAIL")

    def test_runs_are_tracked_apart(
        self, experiment_tracker: BaseExperimentTracker, tracked_run_reader: TrackedRunReader, workspace: Workspace
    ) -> None:
        first = workspace.run(self._graph(), experiment_tracker, parameters={"learning_rate": 0.1})
        second = workspace.run(self._graph(), experiment_tracker, parameters={"learning_rate": 0.3})
        assert tracked_run_reader(first).parameters.get("learning_rate") == 0.1
        assert tracked_run_reader(second).parameters.get("learning_rate") == 0.3
        assert tracked_run_reader(first).metrics.get("accuracy") == [0.6, 0.9]
        assert tracked_run_reader(second).metrics.get("accuracy") == [0.8, 0.9]
