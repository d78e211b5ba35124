"""The MLflow side of the tracker: every call runnable makes to the tracking server, through ``MlflowClient``.

Importing this module imports MLflow, so the tracker imports it only when a run is tracked.

Finding the parent run from several processes
---------------------------------------------
Steps of one run may execute in separate processes (forked parallel branches, ``runnable execute-step`` in
containers), several starting at the same moment. They must all log under one MLflow run, yet MLflow assigns
run ids itself and has no "create unless a run with this tag exists". Searching by tag and creating on a miss
is a race: two processes can both miss and both create.

MLflow does have one atomic "create if absent": experiment names are unique (a second ``create_experiment``
with the same name fails with ``RESOURCE_ALREADY_EXISTS``, also while the first one is deleted). So:

1. search the experiment for the run tagged ``runnable.run_id = <id>``; found -> use it;
2. otherwise create the *lock experiment* ``<experiment>.runnable-lock.<id>`` (:func:`lock_name`). The one
   process that succeeds creates the parent run, then deletes the lock experiment (it stays in MLflow's
   deleted list until ``mlflow gc``; deleted, its name still cannot be created again, so the lock is never
   taken twice);
3. every process that fails to take the lock waits until the winner's run appears in the search.

A process that dies between taking the lock and creating the run leaves the others waiting until
``LOCK_WAIT_SECONDS`` pass; they then fail with an error naming the lock experiment.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from runnable_mlflow import values

RUN_ID_TAG = "runnable.run_id"
STEP_TAG = "runnable.step"
LEVEL_TAG = "runnable.level"  # "run" for the parent run, "step" for a step's run
PARENT_TAG = "mlflow.parentRunId"  # what makes MLflow show a run nested under another
LOCK_WAIT_SECONDS = 60.0
MAX_EXPERIMENT_NAME = 500
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"

_CALLS = threading.RLock()

# Batch limits of MLflow's log_batch.
_PARAMS_PER_BATCH = 100  # and as many tags
_ITEMS_PER_BATCH = 1000


class MlflowSession:
    """One tracker's client, experiment and the handful of operations the hooks need."""

    def __init__(self, tracking_uri: str, experiment_name: str, *, timeout: int, retries: int, verbose: bool) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.timeout = timeout
        self.retries = retries
        self.verbose = verbose
        self.client = MlflowClient(tracking_uri or None)
        self.experiment_id = ""

    # --- the conditions every call runs under ----------------------------------------------------------

    @contextlib.contextmanager
    def calls(self) -> Iterator[None]:
        """Bounded retries, and (unless ``verbose``) none of MLflow's console messages.

        MLflow reads its HTTP settings and the switch for the "View run ... at" lines it prints from the
        environment on every request, so they are set for the duration of the tracker's calls only.
        Settings the user exported are left alone. Environment, logger levels and warning filters belong to the
        whole process, so the calls of trackers in several threads (two runs at once) take turns.
        """
        with _CALLS:
            settings = {
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.retries),
                "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.timeout),
            }
            if not self.verbose:
                settings["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
            changed = {name: value for name, value in settings.items() if name not in os.environ}
            os.environ.update(changed)
            # MLflow's messages, and urllib3's "Retrying ..." lines while the server does not answer.
            loggers = [logging.getLogger(name) for name in ("mlflow", "urllib3")]
            levels = [logger.level for logger in loggers]
            try:
                with warnings.catch_warnings():
                    if not self.verbose:
                        for logger in loggers:
                            logger.setLevel(logging.ERROR)
                        warnings.simplefilter("ignore")
                    yield
            finally:
                for logger, level in zip(loggers, levels, strict=True):
                    logger.setLevel(level)
                for name in changed:
                    os.environ.pop(name, None)

    # --- experiment --------------------------------------------------------------------------------------

    def open_experiment(self) -> str:
        """The configured experiment's id, created if it does not exist yet (as ``mlflow.set_experiment`` does)."""
        if not self.experiment_id:
            found = self.client.get_experiment_by_name(self.experiment_name)
            if found is None:
                try:
                    self.experiment_id = self.client.create_experiment(self.experiment_name)
                except MlflowException as error:
                    if error.error_code != ALREADY_EXISTS:  # another process created it a moment ago
                        raise
                    found = self.client.get_experiment_by_name(self.experiment_name)
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    raise ExperimentDeletedError(self.experiment_name)
                self.experiment_id = found.experiment_id
        return self.experiment_id

    # --- runs ----------------------------------------------------------------------------------------------

    def _search(self, filters: dict[str, str]) -> str | None:
        """The MLflow run id of the newest active run carrying all ``filters`` tags, if any."""
        clauses = [f"tags.`{name}` = {_quoted(value)}" for name, value in filters.items()]
        runs = self.client.search_runs(
            [self.open_experiment()],
            filter_string=" and ".join(clauses),
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        return runs[0].info.run_id if runs else None

    def find_parent(self, run_id: str) -> str | None:
        return self._search({RUN_ID_TAG: run_id, LEVEL_TAG: "run"})

    def find_or_create_parent(self, run_id: str, tags: dict[str, str]) -> str:
        """The MLflow run of runnable run ``run_id``, created by exactly one process (see the module doc)."""
        found = self.find_parent(run_id)
        if found:
            return found
        lock = lock_name(self.experiment_name, run_id)
        try:
            lock_id = self.client.create_experiment(lock)
        except MlflowException as error:
            if error.error_code != ALREADY_EXISTS:
                raise
            return self._wait_for_parent(run_id, lock)
        try:
            run = self.client.create_run(
                self.open_experiment(), run_name=run_id, tags={**tags, RUN_ID_TAG: run_id, LEVEL_TAG: "run"}
            )
        finally:
            self.client.delete_experiment(lock_id)
        return run.info.run_id

    def _wait_for_parent(self, run_id: str, lock: str) -> str:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.05
        while time.monotonic() < deadline:
            found = self.find_parent(run_id)
            if found:
                return found
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        raise TimeoutError(
            f"no MLflow run for runnable run {run_id!r} appeared within {LOCK_WAIT_SECONDS:.0f} s although the "
            f"lock experiment {lock!r} exists (its creator may have died: delete it and run `mlflow gc`)"
        )

    def find_step_run(self, run_id: str, internal_name: str) -> str | None:
        return self._search({RUN_ID_TAG: run_id, STEP_TAG: internal_name})

    def create_step_run(self, run_id: str, internal_name: str, parent: str, tags: dict[str, str]) -> str:
        run = self.client.create_run(
            self.open_experiment(),
            run_name=internal_name,
            tags={**tags, RUN_ID_TAG: run_id, STEP_TAG: internal_name, LEVEL_TAG: "step", PARENT_TAG: parent},
        )
        return run.info.run_id

    def logged_params(self, mlflow_run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(mlflow_run_id).data.params)

    def log(
        self,
        mlflow_run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        metrics: list[tuple[str, float, int, int]] | None = None,
    ) -> None:
        """Params, tags and ``(key, value, timestamp ms, step)`` metric points, in as few requests as MLflow allows
        (per request: 100 params, 100 tags, 1000 items in all)."""
        param_items = [Param(k, v) for k, v in (params or {}).items()]
        tag_items = [RunTag(values.key(k), values.truncate(v, values.TAG_VALUE_LIMIT)) for k, v in (tags or {}).items()]
        metric_items = [Metric(k, v, timestamp, step) for k, v, timestamp, step in metrics or []]
        while param_items or tag_items or metric_items:
            batch_params, param_items = param_items[:_PARAMS_PER_BATCH], param_items[_PARAMS_PER_BATCH:]
            batch_tags, tag_items = tag_items[:_PARAMS_PER_BATCH], tag_items[_PARAMS_PER_BATCH:]
            room = _ITEMS_PER_BATCH - len(batch_params) - len(batch_tags)
            batch_metrics, metric_items = metric_items[:room], metric_items[room:]
            self.client.log_batch(mlflow_run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags)

    def terminate(self, mlflow_run_id: str, status: str, end_time: int | None) -> None:
        self.client.set_terminated(mlflow_run_id, status=status, end_time=end_time)

    def upload(self, mlflow_run_id: str, source: str, name: str) -> None:
        """Copy one catalog item (a local path or any fsspec URL) into the run's artifacts as ``name``."""
        import fsspec

        folder = str(Path(name).parent) if Path(name).parent != Path(".") else None
        if Path(source).is_file():
            self.client.log_artifact(mlflow_run_id, source, artifact_path=folder)
            return
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / Path(name).name
            with fsspec.open(source, "rb") as remote, open(local, "wb") as copy:
                copy.write(remote.read())
            self.client.log_artifact(mlflow_run_id, str(local), artifact_path=folder)


def lock_name(experiment_name: str, run_id: str) -> str:
    """The lock experiment's name, next to the experiment (where one may create experiments) and within
    MLflow's 500 characters."""
    name = f"{experiment_name}.runnable-lock.{run_id}"
    if len(name) > MAX_EXPERIMENT_NAME:
        digest = hashlib.sha256(f"{experiment_name}\0{run_id}".encode()).hexdigest()
        name = f"{experiment_name[:400]}.runnable-lock.{digest}"
    return name


class ExperimentDeletedError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"experiment {name!r} is deleted")


def _quoted(value: str) -> str:
    """A string literal for MLflow's search syntax, which has no escapes: pick a quote the value lacks."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"{value!r} holds both kinds of quotes and cannot be searched for in MLflow")


def first_line(error: BaseException) -> str:
    """One line saying what went wrong in an MLflow call (MLflow's messages can run to many lines)."""
    text = error.message if isinstance(error, MlflowException) else str(error)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
