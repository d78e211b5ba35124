"""The experiment tracker conformance suite, against a real MLflow server."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow_readback import tracked_run
from runnable.models.run_log import RunLog
from runnable.testing import ExperimentTrackerSuite, TrackedRunReader
from runnable_mlflow.tracker import MlflowTracker

EXPERIMENT = "conformance"


class TestMlflowTracker(ExperimentTrackerSuite):
    @pytest.fixture
    def experiment_tracker(self, mlflow_server: str) -> MlflowTracker:
        return MlflowTracker(tracking_uri=mlflow_server, experiment_name=EXPERIMENT)

    @pytest.fixture
    def tracked_run_reader(self, mlflow_server: str) -> TrackedRunReader:
        client = MlflowClient(mlflow_server)

        def read(run_log: RunLog):  # noqa: ANN202
            return tracked_run(client, EXPERIMENT, run_log.run_id)

        return read
