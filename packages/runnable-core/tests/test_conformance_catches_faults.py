"""The conformance suites catch real faults: each broken implementation below fails the tests named for it.

A suite that passes everything proves nothing. Each case here is a plausible bug (a listing that is not
recursive, an object store's MD5 ETag recorded as the hash, a read-modify-write store claiming to be safe
for concurrent writers, a secret in a log line or an error message, a manifest that skips a step or embeds
a secret). The suite of its kind runs against it in a nested pytest session (``pytester``), and the test
asserts which suite tests failed. Correct counterparts run the same way and must pass everything, so a
failure is the fault's doing, not the harness's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from runnable.defaults.file_system_catalog import FileSystemCatalog
from runnable.defaults.secrets import EnvSecrets
from runnable.errors import RunLogNotFoundError, RunnableError, SecretNotFoundError
from runnable.hookspecs import hookimpl
from runnable.models.graph import CompositeNode, TaskNode
from runnable.models.parameters import Parameter
from runnable.models.run_log import RunLog, StepLog
from runnable.services.executor import BaseRenderingExecutor
from runnable.services.run_log_store import BaseRunLogStore
from runnable.services.secrets import BaseSecretsManager
from runnable.services.tracking import BaseExperimentTracker
from runnable.testing import TrackedRun

pytest_plugins = ["pytester"]

SECRETS = {"CONFORMANCE_API_TOKEN": "tok-3b1e9c7d5a", "CONFORMANCE_DB_PASSWORD": "pw-f00d-cafe-42"}


# --- catalogs ------------------------------------------------------------------------------------------------


class NestedDroppingCatalog(FileSystemCatalog):
    """Lists two levels of a run only (an ``ls`` where a recursive ``find`` was needed): deeper items vanish."""

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        return [name for name in super().list_files(run_id, pattern) if name.count("/") < 2]

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class ETagHashCatalog(FileSystemCatalog):
    """Records each file's MD5 (what an object store's ETag is) where the SHA-256 is promised."""

    def put(self, run_id: str, pattern: str, folder: Path, store_copy: bool = True) -> list[Any]:
        entries = super().put(run_id, pattern, folder, store_copy)
        return [
            entry.model_copy(update={"data_hash": hashlib.md5((folder / entry.name).read_bytes()).hexdigest()})
            for entry in entries
        ]

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


# --- run log stores --------------------------------------------------------------------------------------------


class JsonRunLogStore(BaseRunLogStore):
    """Correct when it is the only writer: the whole run rewritten atomically on every increment."""

    service_name: ClassVar[str] = "whole-json"
    folder: str

    def _path(self, run_id: str) -> Path:
        return Path(self.folder) / f"{run_id}.json"

    def _write(self, run_log: RunLog) -> None:
        # atomic (readers see the old run or the new one) but not durable: no fsync, so tests stay fast
        temporary = self._path(run_log.run_id).with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(run_log.model_dump_json())
        os.replace(temporary, self._path(run_log.run_id))

    def create_run_log(self, run_log: RunLog) -> None:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        if self._path(run_log.run_id).exists():
            raise RunnableError(f"run {run_log.run_id!r} exists")
        self._write(run_log)

    def get_run_log(self, run_id: str) -> RunLog:
        try:
            return RunLog.model_validate_json(self._path(run_id).read_bytes())
        except FileNotFoundError:
            raise RunLogNotFoundError(f"no run {run_id!r}") from None

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        run_log = self.get_run_log(run_id)
        run_log.put_step(step_log)
        self._write(run_log)

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        run_log = self.get_run_log(run_id)
        run_log.parameters.update(parameters)
        self._write(run_log)

    def finish_run_log(self, run_log: RunLog) -> None:
        self._write(run_log)

    def list_run_ids(self) -> list[str]:
        runs = sorted(Path(self.folder).glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        return [p.stem for p in runs]

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(folder=str(tmp_path / "store-under-test"))


class RacyRunLogStore(JsonRunLogStore):
    """Claims to be safe for concurrent writers, but read-modify-writes the run with no lock."""

    supports_concurrent_writers: ClassVar[bool] = True

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        run_log = self.get_run_log(run_id)
        run_log.put_step(step_log)
        time.sleep(0.002)  # real work (serialising, a network round trip) between the read and the write
        self._write(run_log)


class ParameterDroppingStore(JsonRunLogStore):
    """Replaces the run's parameters with each update instead of merging it into them."""

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        run_log = self.get_run_log(run_id)
        run_log.parameters = dict(parameters)
        self._write(run_log)


# --- secrets managers ------------------------------------------------------------------------------------------


def _set_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


class ControlSecrets(EnvSecrets):
    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        _set_secrets(monkeypatch)
        return cls()


class LoggingSecrets(ControlSecrets):
    """Logs every value it hands out, "for debugging"."""

    def get(self, name: str) -> str:
        value = super().get(name)
        logging.getLogger("conformance.broken").info("secret %s resolved to %s", name, value)
        return value


class HelpfulErrorSecrets(ControlSecrets):
    """On a missing secret, lists the secrets it does have, values included: they land in the step message."""

    def get(self, name: str) -> str:
        try:
            return super().get(name)
        except SecretNotFoundError:
            have = ", ".join(f"{key}={os.environ[key]}" for key in SECRETS)
            raise SecretNotFoundError(
                f"secret {name!r} not found by secrets manager 'env-secrets'; have {have}"
            ) from None


class ValuesInConfigSecrets(BaseSecretsManager):
    """Keeps the secrets in its own config block, unmasked: ``run_config`` of every run log records them."""

    service_name: ClassVar[str] = "values-in-config"
    values: dict[str, str]

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SecretNotFoundError(f"secret {name!r} not found by secrets manager 'values-in-config'")
        return self.values[name]

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(values=dict(SECRETS))


# --- experiment trackers ---------------------------------------------------------------------------------------


@dataclass
class _Backend:
    """What an in-memory tracking server holds: one record per run."""

    runs: dict[str, TrackedRun] = field(default_factory=dict)


BACKEND = _Backend()


def read_memory_tracker(run_log: RunLog) -> TrackedRun:
    return BACKEND.runs[run_log.run_id]


class MemoryTracker(BaseExperimentTracker):
    """A correct tracker observing the lifecycle hooks, recording into :data:`BACKEND`."""

    service_name: ClassVar[str] = "memory"

    @hookimpl
    def run_started(self, run_log: RunLog) -> None:
        parameters = {name: p.value for name, p in run_log.parameters.items() if p.kind == "json"}
        BACKEND.runs[run_log.run_id] = TrackedRun(parameters=parameters)

    @hookimpl
    def step_finished(self, run_id: str, parameters: dict[str, Any], metrics: dict[str, Any]) -> None:
        record = BACKEND.runs[run_id]
        record.parameters.update(parameters)
        for name, value in metrics.items():
            self._log_metric(record, name, value)

    def _log_metric(self, record: TrackedRun, name: str, value: Any) -> None:
        record.metrics.setdefault(name, []).append(value)

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        BACKEND.runs[run_log.run_id].status = run_log.status

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls()


class LastValueTracker(MemoryTracker):
    """Sets a metric instead of appending to its history: earlier values of the same name are lost."""

    def _log_metric(self, record: TrackedRun, name: str, value: Any) -> None:
        record.metrics[name] = [value]


# --- rendering executors ---------------------------------------------------------------------------------------


class ScriptExecutor(BaseRenderingExecutor):
    """Correct: one quoted ``runnable execute-step`` line per top-level task or composite step."""

    service_name: ClassVar[str] = "script"

    def _nodes(self, context: Any) -> list[Any]:
        return [n for n in context.graph.nodes.values() if isinstance(n, (TaskNode, CompositeNode))]

    def _line(self, context: Any, node: Any) -> str:
        arguments = shlex.join([context.pipeline_file, node.internal_name])
        return f'runnable execute-step {arguments} --run-id "$RUN_ID"'

    def render(self, context: Any) -> dict[str, str]:
        lines = ["#!/bin/sh", "set -e", 'RUN_ID="$1"', *(self._line(context, n) for n in self._nodes(context))]
        return {"pipeline.sh": "\n".join(lines) + "\n"}

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls()


class HappyPathExecutor(ScriptExecutor):
    """Follows ``next`` from ``start_at`` only: a step reached through ``on_failure`` is never rendered."""

    def _nodes(self, context: Any) -> list[Any]:
        graph, found, name = context.graph, [], context.graph.start_at
        while not graph.nodes[name].is_terminal:
            found.append(graph.nodes[name])
            name = graph.nodes[name].next_node
        return found


class SecretEmbeddingExecutor(ScriptExecutor):
    """Resolves each task's secrets while rendering and exports them in the script, "to save a look-up"."""

    def _line(self, context: Any, node: Any) -> str:
        exports = [f"export {name}={shlex.quote(context.secrets.get(name))}" for name in getattr(node, "secrets", [])]
        return "\n".join([*exports, super()._line(context, node)])


class UnquotedExecutor(ScriptExecutor):
    """Writes step names unquoted: ``prepare data`` reaches ``execute-step`` as two arguments."""

    def _line(self, context: Any, node: Any) -> str:
        return f'runnable execute-step {context.pipeline_file} {node.internal_name} --run-id "$RUN_ID"'


# --- running a suite against a subject -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    suite: str
    fixture: str
    subject: type
    caught_by: frozenset[str]
    extra: str = ""

    def module(self) -> str:
        return f"""
import pytest
from runnable.testing import {self.suite}
from {__name__} import {self.subject.__name__}, SECRETS, read_memory_tracker


class Test{self.subject.__name__}({self.suite}):
    @pytest.fixture
    def {self.fixture}(self, tmp_path, monkeypatch):
        return {self.subject.__name__}.subject(tmp_path, monkeypatch)
{self.extra}
"""


KNOWN_SECRETS = """
    @pytest.fixture
    def known_secrets(self):
        return dict(SECRETS)
"""
READER = """
    @pytest.fixture
    def tracked_run_reader(self):
        return read_memory_tracker
"""


def case(suite: str, fixture: str, subject: type, *caught_by: str, extra: str = "") -> Any:
    return pytest.param(Case(suite, fixture, subject, frozenset(caught_by), extra), id=subject.__name__)


CASES = [
    case(
        "CatalogSuite",
        "catalog",
        NestedDroppingCatalog,
        "test_put_then_get_round_trips_every_byte_and_hash",
        "test_globs_select_exactly_the_matching_items[double-star]",
        "test_globs_select_exactly_the_matching_items[folder]",
        "test_get_recreates_nested_folders",
        "test_files_and_objects_flow_between_steps_of_a_run",
    ),
    case(
        "CatalogSuite",
        "catalog",
        ETagHashCatalog,
        "test_put_then_get_round_trips_every_byte_and_hash",
        "test_store_copy_false_records_the_hash_and_stores_nothing",
        "test_files_and_objects_flow_between_steps_of_a_run",
    ),
    case("RunLogStoreSuite", "run_log_store", JsonRunLogStore),  # control: passes everything
    case("RunLogStoreSuite", "run_log_store", RacyRunLogStore, "test_concurrent_writers_lose_nothing"),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        ParameterDroppingStore,
        "test_parameter_updates_merge_into_the_current_parameters",
    ),
    case("SecretsManagerSuite", "secrets_manager", ControlSecrets, extra=KNOWN_SECRETS),
    case(
        "SecretsManagerSuite",
        "secrets_manager",
        LoggingSecrets,
        "test_no_secret_value_is_persisted_or_printed",
        "test_a_missing_secret_fails_its_step_naming_it_and_leaks_nothing",
        extra=KNOWN_SECRETS,
    ),
    case(
        "SecretsManagerSuite",
        "secrets_manager",
        HelpfulErrorSecrets,
        "test_a_missing_secret_is_secret_not_found_naming_it_and_the_manager",
        "test_a_missing_secret_fails_its_step_naming_it_and_leaks_nothing",
        extra=KNOWN_SECRETS,
    ),
    case(
        "SecretsManagerSuite",
        "secrets_manager",
        ValuesInConfigSecrets,
        "test_the_recorded_configuration_holds_no_secret_value",
        "test_no_secret_value_is_persisted_or_printed",
        extra=KNOWN_SECRETS,
    ),
    case("ExperimentTrackerSuite", "experiment_tracker", MemoryTracker, extra=READER),
    case(
        "ExperimentTrackerSuite",
        "experiment_tracker",
        LastValueTracker,
        "test_parameters_and_metrics_reach_the_backend",
        "test_a_failed_run_keeps_what_was_tracked_before_the_failure",
        "test_runs_are_tracked_apart",
        extra=READER,
    ),
    case("RenderingExecutorSuite", "pipeline_executor", ScriptExecutor),
    case(
        "RenderingExecutorSuite",
        "pipeline_executor",
        HappyPathExecutor,
        "test_every_task_step_runs_through_execute_step[linear]",
    ),
    case(
        "RenderingExecutorSuite",
        "pipeline_executor",
        SecretEmbeddingExecutor,
        "test_no_secret_value_in_the_rendered_files[linear]",
    ),
    case(
        "RenderingExecutorSuite",
        "pipeline_executor",
        UnquotedExecutor,
        "test_every_task_step_runs_through_execute_step[linear]",
        "test_every_task_step_runs_through_execute_step[composite]",
        "test_commands_name_the_pipeline_file_a_known_step_and_a_run_id[linear]",
        "test_commands_name_the_pipeline_file_a_known_step_and_a_run_id[composite]",
    ),
]


@pytest.mark.parametrize("fault", CASES)
def test_the_suite_fails_a_faulty_implementation(pytester: pytest.Pytester, fault: Case) -> None:
    pytester.makepyfile(**{f"test_{fault.subject.__name__.lower()}": fault.module()})
    recorder = pytester.inline_run("-p", "no:cacheprovider", "-q")
    outcomes: dict[str, str] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        name = report.nodeid.split("::")[-1]
        if report.failed or outcomes.get(name) != "failed":
            outcomes[name] = report.outcome
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert outcomes, "the suite collected no test"
    assert fault.caught_by <= failed, (
        f"{fault.subject.__name__}: expected failures not seen: {sorted(fault.caught_by - failed)}; "
        f"failed: {sorted(failed)}"
    )
    if not fault.caught_by:
        assert not failed, f"the correct {fault.subject.__name__} failed {sorted(failed)}"
    else:
        assert len(failed) < len(outcomes), "every test failed: the harness, not the fault, is at fault"
