"""The ``mlflow`` experiment tracker: one MLflow run per pipeline run, a nested run per step.

What goes where:

* the *parent run* (named after the runnable run id, tagged ``runnable.run_id``) holds the initial
  parameters, the parameters the run returned, every metric as a series over the steps that returned it,
  and tags for the run's tag, pipeline, code (git commit) and final status;
* each step, map iteration and loop round gets a *nested run* named by its internal name
  (``train``, ``fan.lr_0_1.train``, ``loop.2.fit``), nested under the composite step around it, holding the
  json parameters and metrics that step returned, its status and (``log_artifacts``) its catalog items.

MLflow is imported only when a run is tracked (:mod:`runnable_mlflow.session`), never by ``import runnable``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, PrivateAttr, field_validator
from runnable.errors import ConfigurationError, RunnableError
from runnable.hookspecs import hookimpl
from runnable.models.run_log import SUCCESS, RunLog, StepLog
from runnable.services.tracking import BaseExperimentTracker

from runnable_mlflow import values

if TYPE_CHECKING:
    from runnable_mlflow.session import MlflowSession

logger = logging.getLogger("runnable.mlflow")

# Terminal nodes are markers in the graph, not steps anyone wants a run for.
_NOT_STEPS = ("success", "fail")
# Steps whose metrics are their own (a composite's metrics repeat those of its branches).
_TASKS = ("task", "job")


@dataclass
class _RunState:
    """What this process knows about one runnable run's MLflow runs."""

    parent: str = ""
    steps: dict[str, str] = field(default_factory=dict)  # internal name -> MLflow run id
    initial_logged: bool = False
    code_tagged: bool = False
    broken: bool = False  # a tracking call failed: reported once, nothing more is sent for this run


class MlflowTracker(BaseExperimentTracker):
    """Parameters, metrics, statuses and (optionally) catalog items of every run, in an MLflow tracking server."""

    service_name: ClassVar[str] = "mlflow"

    # The tracking server (``http://mlflow:5000``) or any URI MLflow accepts; empty: MLflow's own default
    # (the ``MLFLOW_TRACKING_URI`` environment variable).
    tracking_uri: str = ""
    # Created when missing, like ``mlflow.set_experiment``.
    experiment_name: str = "runnable"
    # Upload the files each step put in the catalog (and its execution log) to the step's run.
    log_artifacts: bool = False
    # A failed tracking call fails the run; by default it is reported once and the run goes on untracked.
    strict: bool = False
    # Let MLflow print what it prints ("View run ... at: <url>") and log its warnings.
    verbose: bool = False
    # Extra tags on every parent run.
    tags: dict[str, str] = Field(default_factory=dict)
    # Per request: seconds before giving up, and retries (MLflow's own default retries for minutes).
    request_timeout: int = Field(default=30, gt=0)
    request_retries: int = Field(default=2, ge=0)

    _session: MlflowSession | None = PrivateAttr(default=None)
    _runs: dict[str, _RunState] = PrivateAttr(default_factory=dict)

    @field_validator("experiment_name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("an experiment needs a name")
        return name

    def masked_config(self) -> dict[str, Any]:
        """The configuration for the run log, without a password written into ``tracking_uri``."""
        config = super().masked_config()
        parts = urlsplit(self.tracking_uri)
        if parts.password:
            netloc = f"{parts.username}:**********@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            config["config"]["tracking_uri"] = urlunsplit(parts._replace(netloc=netloc))
        return config

    # --- lifecycle hooks ---------------------------------------------------------------------------------

    @hookimpl
    def run_started(self, run_log: RunLog) -> None:
        self._connect()  # an unreachable server or a bad experiment stops the run here, before any step

        def start(session: MlflowSession, state: _RunState) -> None:
            state.parent = session.find_or_create_parent(run_log.run_id, self._run_tags(run_log))
            session.log(state.parent, params=values.params(_json(run_log.initial_parameters)))
            state.initial_logged = True

        self._track(run_log.run_id, "creating the MLflow run", start)

    @hookimpl
    def step_started(self, run_id: str, step_log: StepLog) -> None:
        if step_log.step_type in _NOT_STEPS:
            return

        def start(session: MlflowSession, state: _RunState) -> None:
            parent = self._parent(session, state, run_id)
            code = _code_tags(step_log)
            if not state.code_tagged:
                session.log(parent, tags=code)
                state.code_tagged = True
            container = self._container(session, state, run_id, step_log.internal_name)
            tags = {**code, "runnable.step_type": step_log.step_type}
            state.steps[step_log.internal_name] = session.create_step_run(
                run_id, step_log.internal_name, container, tags
            )

        self._track(run_id, f"starting the run of step {step_log.internal_name!r}", start)

    @hookimpl
    def step_finished(
        self, run_id: str, step_log: StepLog, parameters: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        if step_log.step_type in _NOT_STEPS:
            return

        def finish(session: MlflowSession, state: _RunState) -> None:
            name = step_log.internal_name
            run = state.steps.get(name) or session.find_step_run(run_id, name)
            if run is None:  # started in another process that did not get to create it
                container = self._container(session, state, run_id, name)
                run = session.create_step_run(run_id, name, container, {"runnable.step_type": step_log.step_type})
            ended = _millis(step_log.attempts[-1].end_time if step_log.attempts else None)
            points = [p for metric, value in metrics.items() for p in _points(metric, value, ended)]
            tags = {"runnable.status": step_log.status, "runnable.attempts": str(len(step_log.attempts))}
            if step_log.message:
                tags["runnable.message"] = step_log.message
            session.log(run, params=values.params(parameters), metrics=points, tags=tags)
            if self.log_artifacts:
                for entry in step_log.data_catalog:
                    if entry.stage == "put" and entry.store_copy:
                        source = f"{entry.catalog_handler_location.rstrip('/')}/{entry.catalog_relative_path}"
                        session.upload(run, source, entry.name)
            session.terminate(run, "FINISHED" if step_log.status == SUCCESS else "FAILED", ended)

        self._track(run_id, f"recording step {step_log.internal_name!r}", finish)

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        def finish(session: MlflowSession, state: _RunState) -> None:
            parent = self._parent(session, state, run_log.run_id)
            wanted = {} if state.initial_logged else values.params(_json(run_log.initial_parameters))
            returned = {n: v for n, v in _json(run_log.parameters).items() if n not in run_log.initial_parameters}
            wanted.update(values.params(returned))
            logged = session.logged_params(parent)  # params cannot change: only those not there yet
            tags = {**self._run_tags(run_log), "runnable.status": run_log.status}
            params = {k: v for k, v in wanted.items() if k not in logged}
            session.log(parent, params=params, metrics=_series(run_log), tags=tags)
            session.terminate(parent, "FINISHED" if run_log.status == SUCCESS else "FAILED", _millis(run_log.end_time))

        try:
            self._track(run_log.run_id, "closing the MLflow run", finish)
        finally:
            self._runs.pop(run_log.run_id, None)

    # --- helpers -----------------------------------------------------------------------------------------

    def _connect(self) -> MlflowSession:
        """The session, with the experiment open; a one-line :class:`ConfigurationError` when that fails."""
        if self._session is None:
            from runnable_mlflow.session import MlflowSession

            self._session = MlflowSession(
                self.tracking_uri,
                self.experiment_name,
                timeout=self.request_timeout,
                retries=self.request_retries,
                verbose=self.verbose,
            )
        session = self._session
        if not session.experiment_id:
            from runnable_mlflow.session import ExperimentDeletedError, first_line

            where = f"experiment {self.experiment_name!r} at {self._where()}"
            try:
                with session.calls():
                    session.open_experiment()
            except ExperimentDeletedError:
                raise ConfigurationError(
                    f"experiment-tracker mlflow: {where} is deleted",
                    hint="restore it (mlflow experiments restore) or choose another experiment_name",
                ) from None
            except Exception as error:
                raise ConfigurationError(
                    f"experiment-tracker mlflow: {where}: {first_line(error)}",
                    hint="check that the tracking server is running and tracking_uri / experiment_name are right",
                ) from None
        return session

    def _where(self) -> str:
        return self.masked_config()["config"]["tracking_uri"] or "the default tracking URI"

    def _track(self, run_id: str, doing: str, action: Callable[[MlflowSession, _RunState], None]) -> None:
        """Run ``action`` against MLflow; a failure is reported once per run (or raised when ``strict``)."""
        from runnable_mlflow.session import first_line

        state = self._runs.setdefault(run_id, _RunState())
        if state.broken:
            return
        try:
            session = self._connect()
            with session.calls():
                action(session, state)
        except Exception as error:
            detail = error.message if isinstance(error, RunnableError) else first_line(error)
            message = f"experiment-tracker mlflow: {doing} for run {run_id!r} failed: {detail}"
            if self.strict:
                raise RunnableError(message, hint="strict: false keeps running untracked instead") from error
            state.broken = True
            logger.warning("%s; nothing more of this run is sent to MLflow (strict: true fails the run)", message)

    def _parent(self, session: MlflowSession, state: _RunState, run_id: str) -> str:
        if not state.parent:  # a step of a run started in another process
            state.parent = session.find_or_create_parent(run_id, self._run_tags(None))
        return state.parent

    def _container(self, session: MlflowSession, state: _RunState, run_id: str, internal_name: str) -> str:
        """The run a step's run nests under: its composite step's (``fan`` for ``fan.a.train``), else the parent."""
        parts = internal_name.split(".")
        while len(parts) >= 3:
            parts = parts[:-2]
            composite = ".".join(parts)
            found = state.steps.get(composite) or session.find_step_run(run_id, composite)
            if found:
                state.steps[composite] = found
                return found
        return self._parent(session, state, run_id)

    def _run_tags(self, run_log: RunLog | None) -> dict[str, str]:
        tags = {values.key(k): v for k, v in self.tags.items()}
        if run_log is not None:
            tags.update(
                {
                    "runnable.tag": run_log.tag,
                    "runnable.pipeline": run_log.pipeline_name,
                    "runnable.original_run_id": run_log.original_run_id,
                }
            )
        return {k: v for k, v in tags.items() if v}


def _json(parameters: dict[str, Any]) -> dict[str, Any]:
    return {name: p.value for name, p in parameters.items() if p.kind == "json"}


def _millis(moment: datetime | None) -> int:
    return int((moment or datetime.now()).timestamp() * 1000)


def _points(name: str, value: Any, timestamp: int, first_step: int = 0) -> list[tuple[str, float, int, int]]:
    """``(key, value, timestamp, step)`` of one metric; a list of numbers is a series over steps."""
    return [(values.key(name), n, timestamp, first_step + i) for i, n in enumerate(values.numbers(value))]


def _series(run_log: RunLog) -> list[tuple[str, float, int, int]]:
    """Every metric the run's tasks returned, as series on the parent run: the n-th value is step n, in the
    order the run log lists steps (pipeline order, map iterations and loop rounds in order).

    Built from the run log at the end rather than live, because steps finish in separate processes that
    cannot agree on a counter, while the final run log holds them all in order.
    """
    points: list[tuple[str, float, int, int]] = []
    count: dict[str, int] = {}
    for step in run_log.iter_steps():
        if step.step_type not in _TASKS or not step.attempts:
            continue
        attempt = step.attempts[-1]
        for name, value in attempt.user_defined_metrics.items():
            new = _points(name, value, _millis(attempt.end_time), count.get(name, 0))
            count[name] = count.get(name, 0) + len(new)
            points.extend(new)
    return points


def _code_tags(step_log: StepLog) -> dict[str, str]:
    """The code that ran: MLflow's own git commit tag, or runnable's identifier (an image) otherwise."""
    for identity in step_log.code_identities:
        if identity.code_identifier and identity.code_identifier_type == "git":
            return {"mlflow.source.git.commit": identity.code_identifier}
        if identity.code_identifier:
            return {"runnable.code_identifier": identity.code_identifier}
    return {}
