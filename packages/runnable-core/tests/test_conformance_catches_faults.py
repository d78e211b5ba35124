"""The conformance suites catch real faults: each broken implementation below fails the tests named for it.

A suite that passes everything proves nothing. Each case here is a plausible bug (a listing that is not
recursive, an object store's MD5 ETag recorded as the hash, a read-modify-write store claiming to be safe
for concurrent writers, a secret in a log line or an error message, a manifest that skips a step or embeds
a secret). The suite of its kind runs against it in a nested pytest session (``pytester``), and the test
asserts which suite tests failed. Correct counterparts run the same way and must pass everything, so a
failure is the fault's doing, not the harness's.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import json
import logging
import os
import queue
import shlex
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from core_helpers import run_script, walking_script  # noqa: F401  (run_script: used by the generated suites)
from pydantic import PrivateAttr, SecretStr
from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
from runnable.defaults.file_system_catalog import FileSystemCatalog
from runnable.defaults.secrets import EnvSecrets
from runnable.errors import CatalogError, RunLogNotFoundError, RunnableError, SecretNotFoundError
from runnable.hookspecs import hookimpl
from runnable.models.graph import CompositeNode, TaskNode
from runnable.models.parameters import Parameter
from runnable.models.run_log import RunLog, StepLog
from runnable.services import globs
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


class ControlCatalog(FileSystemCatalog):
    """The core's own catalog on a local folder: passes everything."""

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class DotfileSkippingCatalog(FileSystemCatalog):
    """Lists like ``glob.glob`` does by default: names starting with a dot are hidden."""

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        return [n for n in super().list_files(run_id, pattern) if not any(p.startswith(".") for p in n.split("/"))]

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class NearMissCatalog(DotfileSkippingCatalog):
    """Matches a glob as a name *prefix* (``startswith``, or ``fnmatch(name, pattern + "*")``):
    ``reports`` also brings ``reports-archive/...`` and ``reports.txt``."""

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        everything = FileSystemCatalog.list_files(self, run_id, "**")
        return sorted(n for n in everything if fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(n, pattern + "*"))


class NaiveCopyCatalog(FileSystemCatalog):
    """Overrides ``put`` and ``get`` with the obvious code: ``glob.glob`` under the folder (skips dotfiles,
    follows links, accepts ``..``) and ``open(folder / name, "wb")`` (writes through a link)."""

    def put(self, run_id: str, pattern: str, folder: Path, store_copy: bool = True) -> list[Any]:
        entries = []
        for match in sorted(glob.glob(str(folder / pattern), recursive=True)):
            paths = [Path(match)] if os.path.isfile(match) else [p for p in Path(match).rglob("*") if p.is_file()]
            for path in paths:
                name = os.path.relpath(path, folder).replace(os.sep, "/")
                stored = Path(self.catalog_location) / run_id / name  # straight to disk, names unchecked
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_bytes(path.read_bytes())
                entries.append(self._entry(run_id, name, hashlib.sha256(stored.read_bytes()).hexdigest(), "put", True))
        if not entries:
            raise CatalogError(f"nothing matches {pattern!r}")
        return entries

    def get(self, run_id: str, pattern: str, folder: Path) -> list[Any]:
        entries = []
        for name in self.list_files(run_id, pattern) or glob.glob(pattern, root_dir=folder):
            with self.open_read(run_id, name) as source:
                data = source.read()
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            entries.append(self._entry(run_id, name, hashlib.sha256(data).hexdigest(), "get", True))
        if not entries:
            raise CatalogError(f"nothing matches {pattern!r}")
        return entries

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class _BlobWriter(io.BytesIO):
    def __init__(self, catalog: FirstMiBBlobCatalog, run_id: str, name: str) -> None:
        super().__init__()
        self.catalog, self.run_id, self.name = catalog, run_id, name

    def close(self) -> None:
        if not self.closed:
            data = self.getvalue()
            key = hashlib.sha256(data[: 1024 * 1024]).hexdigest()  # "the first MiB is enough to tell files apart"
            blob = Path(self.catalog.catalog_location) / "blobs" / key
            if not blob.exists():  # deduplicated: the blob is already stored
                blob.parent.mkdir(parents=True, exist_ok=True)
                blob.write_bytes(data)
            with FileSystemCatalog.open_write(self.catalog, self.run_id, self.name) as pointer:
                pointer.write(key.encode())
        super().close()


class FirstMiBBlobCatalog(FileSystemCatalog):
    """Content-addressed: blobs named by the SHA-256 of their first MiB, items point at blobs."""

    def open_write(self, run_id: str, name: str) -> Any:
        return _BlobWriter(self, run_id, name)

    def open_read(self, run_id: str, name: str) -> Any:
        with super().open_read(run_id, name) as pointer:
            key = pointer.read().decode()
        return open(Path(self.catalog_location) / "blobs" / key, "rb")

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class IndexedCatalog(FileSystemCatalog):
    """Keeps an index of its items (read it, add the name, write it back) with no lock: writers at once lose
    each other's names."""

    def _index(self, run_id: str) -> Path:
        return Path(self.catalog_location) / f"{run_id}.index.json"

    def open_write(self, run_id: str, name: str) -> Any:
        handle = super().open_write(run_id, name)
        close = handle.close

        def close_and_index() -> None:
            close()
            index = self._index(run_id)
            names = json.loads(index.read_text()) if index.exists() else []
            time.sleep(0.005)  # a round trip to the object store between the read and the write
            index.write_text(json.dumps(sorted({*names, name})))

        handle.close = close_and_index  # type: ignore[method-assign]
        return handle

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        index = self._index(run_id)
        return globs.select(pattern, json.loads(index.read_text()) if index.exists() else [])

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class ReadBackHashCatalog(FileSystemCatalog):
    """Records the hash of the stored item, read back after the put (an object store's checksum): with
    branches putting one name at once, it records another branch's bytes."""

    def put(self, run_id: str, pattern: str, folder: Path, store_copy: bool = True) -> list[Any]:
        entries = super().put(run_id, pattern, folder, store_copy)
        time.sleep(0.01)
        fixed = []
        for entry in entries:
            with self.open_read(run_id, entry.name) as handle:
                fixed.append(entry.model_copy(update={"data_hash": hashlib.sha256(handle.read()).hexdigest()}))
        return fixed

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(catalog_location=str(tmp_path / "catalog-under-test"))


class PasswordInLocationCatalog(FileSystemCatalog):
    """Keeps its password in a SecretStr, then builds its location URL with it: every entry records it."""

    password: SecretStr = SecretStr("catalog-pw-6d1f0a")

    def location(self) -> str:
        return f"file://user:{self.password.get_secret_value()}@localhost{self.catalog_location}"

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
        try:  # claim the id: O_EXCL fails if the file exists, atomically
            os.close(os.open(self._path(run_log.run_id).with_suffix(".claim"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            raise RunnableError(f"run {run_log.run_id!r} exists") from None
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


class CheckThenCreateStore(JsonRunLogStore):
    """Checks that the run id is free, then writes: two runs started at once both "claim" it."""

    def create_run_log(self, run_log: RunLog) -> None:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        if self._path(run_log.run_id).exists():
            raise RunnableError(f"run {run_log.run_id!r} exists")
        time.sleep(0.01)  # the gap between the check and the write
        self._write(run_log)


class FirstAttemptStore(JsonRunLogStore):
    """Keeps a step's first attempt only (a ``UNIQUE (run_id, step)`` attempts table with ``INSERT OR IGNORE``)."""

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        super().put_step_log(run_id, step_log.model_copy(update={"attempts": step_log.attempts[:1]}))


class TruncatingStore(JsonRunLogStore):
    """Stores messages in a ``VARCHAR(255)`` column."""

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        attempts = [a.model_copy(update={"message": a.message[:255]}) for a in step_log.attempts]
        super().put_step_log(
            run_id, step_log.model_copy(update={"message": step_log.message[:255], "attempts": attempts})
        )


class DoubleJobStore(JsonRunLogStore):
    """Writes every record of ``iter_steps()`` as a step, the job's included: the job is read back twice."""

    def finish_run_log(self, run_log: RunLog) -> None:
        run_log = run_log.model_copy(deep=True)
        if run_log.job is not None:
            run_log.put_step(run_log.job)
        self._write(run_log)


class CachingStore(JsonRunLogStore):
    """Caches runs in memory and hands the cached object out by reference."""

    _cache: dict[str, RunLog] = PrivateAttr(default_factory=dict)

    def create_run_log(self, run_log: RunLog) -> None:
        super().create_run_log(run_log)
        self._cache[run_log.run_id] = run_log

    def get_run_log(self, run_id: str) -> RunLog:
        if run_id not in self._cache:
            self._cache[run_id] = super().get_run_log(run_id)
        return self._cache[run_id]

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        run_log = self.get_run_log(run_id)
        run_log.put_step(step_log)
        self._write(run_log)

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        run_log = self.get_run_log(run_id)
        run_log.parameters.update(parameters)
        self._write(run_log)

    def finish_run_log(self, run_log: RunLog) -> None:
        self._cache[run_log.run_id] = run_log
        self._write(run_log)


class PasswordStore(JsonRunLogStore):
    """A database password kept in a plain ``str`` field: ``masked_config()`` puts it in every run log."""

    password: str = "pg-secret-91c7e2"


class BackgroundWriterStore(ChunkedFileSystemRunLogStore):
    """Hands increments to a writer thread it starts on first use (a batching client): a process forked
    after that inherits the store but not the thread, and waits for it forever."""

    _queue: Any = PrivateAttr(default=None)

    def _submit(self, write: Any) -> None:
        if self._queue is None:
            self._queue = queue.Queue()
            threading.Thread(target=self._drain, args=(self._queue,), daemon=True).start()
        self._queue.put(write)
        self._queue.join()  # durable before returning: wait for the writer thread

    @staticmethod
    def _drain(jobs: Any) -> None:
        while True:
            write = jobs.get()
            try:
                write()
            finally:
                jobs.task_done()

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._submit(lambda: ChunkedFileSystemRunLogStore.put_step_log(self, run_id, step_log))

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        self._submit(lambda: ChunkedFileSystemRunLogStore.put_parameters(self, run_id, parameters))

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls(log_folder=str(tmp_path / "store-under-test"))


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


class BackgroundClientSecrets(ControlSecrets):
    """Answers look-ups through a client thread started on first use (a token-renewing session): a process
    forked after that inherits the manager but not the thread, and waits forever."""

    _requests: Any = PrivateAttr(default=None)

    def get(self, name: str) -> str:
        if self._requests is None:
            self._requests = queue.Queue()
            threading.Thread(target=self._serve, args=(self._requests,), daemon=True).start()
        answer: queue.Queue[Any] = queue.Queue()
        self._requests.put((name, answer))
        outcome = answer.get()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _serve(self, requests: Any) -> None:
        while True:
            name, answer = requests.get()
            try:
                answer.put(EnvSecrets.get(self, name))
            except BaseException as error:
                answer.put(error)


class TokenInConfigSecrets(ControlSecrets):
    """Its vault token in a plain ``str`` field: ``masked_config()`` writes it into every run log."""

    vault_token: str = "hvs.tok-3e8a90b1"


# --- experiment trackers ---------------------------------------------------------------------------------------


BACKEND = Path(tempfile.mkdtemp(prefix="conformance-tracker-"))  # a tracking server's storage, shared by processes


def _record(run_id: str, event: dict[str, Any]) -> None:
    """Append one event to the run's record: one ``write`` on an ``O_APPEND`` file, whole even across processes."""
    line = (json.dumps(event) + "\n").encode()
    handle = os.open(BACKEND / f"{run_id}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(handle, line)
    finally:
        os.close(handle)


def read_memory_tracker(run_log: RunLog) -> TrackedRun:
    record = TrackedRun()
    for line in (BACKEND / f"{run_log.run_id}.jsonl").read_text().splitlines():
        event = json.loads(line)
        record.parameters.update(event.get("parameters", {}))
        for name, values in event.get("metrics", {}).items():
            record.metrics[name] = values if event.get("replace") else [*record.metrics.get(name, []), *values]
        record.status = event.get("status", record.status)
    return record


class MemoryTracker(BaseExperimentTracker):
    """A correct tracker observing the lifecycle hooks, recording into a shared backend (files under
    :data:`BACKEND`, as a tracking server would), so branches in forked processes are recorded too."""

    service_name: ClassVar[str] = "memory"

    def _send(self, run_id: str, event: dict[str, Any]) -> None:
        _record(run_id, event)

    @hookimpl
    def run_started(self, run_log: RunLog) -> None:
        parameters = {name: p.value for name, p in run_log.parameters.items() if p.kind == "json"}
        self._send(run_log.run_id, {"parameters": parameters})

    @hookimpl
    def step_finished(self, run_id: str, parameters: dict[str, Any], metrics: dict[str, Any]) -> None:
        self._send(run_id, {"parameters": parameters})
        for name, value in metrics.items():
            self._log_metric(run_id, name, value)

    def _log_metric(self, run_id: str, name: str, value: Any) -> None:
        self._send(run_id, {"metrics": {name: [value]}})

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        self._send(run_log.run_id, {"status": run_log.status})

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls()


class ProcessLocalTracker(MemoryTracker):
    """Buffers events in this process and sends them when the run finishes: events of branches run in
    forked processes stay in those processes."""

    _buffer: dict[str, list[dict[str, Any]]] = PrivateAttr(default_factory=dict)

    def _send(self, run_id: str, event: dict[str, Any]) -> None:
        self._buffer.setdefault(run_id, []).append(event)

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        for event in self._buffer.pop(run_log.run_id, []):
            _record(run_log.run_id, event)
        _record(run_log.run_id, {"status": run_log.status})


class TokenTracker(MemoryTracker):
    """Its API token in a plain ``str`` field: ``masked_config()`` writes it into every run log."""

    api_token: str = "mlflow-tok-77aa31"


class LastValueTracker(MemoryTracker):
    """Sets a metric instead of appending to its history: earlier values of the same name are lost."""

    def _log_metric(self, run_id: str, name: str, value: Any) -> None:
        self._send(run_id, {"metrics": {name: [value]}, "replace": True})


# --- rendering executors ---------------------------------------------------------------------------------------


class ScriptExecutor(BaseRenderingExecutor):
    """Correct: a bash script walking the graph, one quoted ``runnable execute-step`` per top-level step."""

    service_name: ClassVar[str] = "script"

    def _nodes(self, context: Any) -> list[Any]:
        return [n for n in context.graph.nodes.values() if isinstance(n, (TaskNode, CompositeNode))]

    def _line(self, context: Any, node: Any) -> str:
        arguments = shlex.join([context.pipeline_file, node.internal_name])
        return f'runnable execute-step {arguments} --run-id "$RUN_ID"'

    def render(self, context: Any) -> dict[str, str]:
        return {"pipeline.sh": walking_script(context)}

    @classmethod
    def subject(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        return cls()


class StraightLineExecutor(ScriptExecutor):
    """Runs the top-level task and composite steps one after the other with ``set -e``: never a terminal step
    (the run is never closed) nor an ``on_failure`` path."""

    def render(self, context: Any) -> dict[str, str]:
        lines = ["#!/bin/sh", "set -e", 'RUN_ID="$1"', *(self._line(context, n) for n in self._nodes(context))]
        return {"pipeline.sh": "\n".join(lines) + "\n"}


class HappyPathExecutor(StraightLineExecutor):
    """Follows ``next`` from ``start_at`` only: a step reached through ``on_failure`` is never rendered."""

    def _nodes(self, context: Any) -> list[Any]:
        graph, found, name = context.graph, [], context.graph.start_at
        while not graph.nodes[name].is_terminal:
            found.append(graph.nodes[name])
            name = graph.nodes[name].next_node
        return found


class SecretEmbeddingExecutor(StraightLineExecutor):
    """Resolves each task's secrets while rendering and exports them in the script, "to save a look-up"."""

    def _line(self, context: Any, node: Any) -> str:
        exports = [f"export {name}={shlex.quote(context.secrets.get(name))}" for name in getattr(node, "secrets", [])]
        return "\n".join([*exports, super()._line(context, node)])


class UnquotedExecutor(StraightLineExecutor):
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

    def selection(self) -> list[str]:
        """A correct control runs the whole suite; a fault runs the tests that must catch it, plus the suite's
        shape test (which it must pass: proof that the harness, not the fault, is not what fails)."""
        if not self.caught_by:
            return []
        names = sorted({name.split("[")[0] for name in self.caught_by} | {"test_is_a"})
        return ["-k", " or ".join(names)]

    def module(self) -> str:
        return f"""
import pytest
from runnable.testing import {self.suite}
from {__name__} import {self.subject.__name__}, SECRETS, read_memory_tracker, run_script


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
RUNNER = """
    @pytest.fixture
    def artifact_runner(self):
        return run_script
"""
QUICK_HANG = """
    concurrency_timeout = 8.0
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
    case("CatalogSuite", "catalog", ControlCatalog),  # control: passes everything
    case(
        "CatalogSuite",
        "catalog",
        DotfileSkippingCatalog,
        "test_globs_select_exactly_the_matching_items[star]",
        "test_globs_select_exactly_the_matching_items[double-star]",
        "test_globs_select_exactly_the_matching_items[dot-folder]",
        "test_globs_select_exactly_the_matching_items[dotfiles]",
        "test_put_then_get_round_trips_every_byte_and_hash",
    ),
    case(
        "CatalogSuite",
        "catalog",
        NearMissCatalog,
        "test_globs_select_exactly_the_matching_items[near-miss-folder]",
        "test_globs_select_exactly_the_matching_items[exact]",
        "test_globs_select_exactly_the_matching_items[star]",
    ),
    case(
        "CatalogSuite",
        "catalog",
        NaiveCopyCatalog,
        "test_put_selects_local_files_by_the_same_rules[star]",
        "test_put_selects_local_files_by_the_same_rules[double-star]",
        "test_a_glob_reaching_outside_is_refused_and_nothing_moves[../../../f]",
        "test_a_glob_reaching_outside_is_refused_and_nothing_moves[../*]",
        "test_put_does_not_follow_symbolic_links",
        "test_get_never_writes_through_a_symbolic_link",
    ),
    case("CatalogSuite", "catalog", FirstMiBBlobCatalog, "test_large_files_differing_after_the_first_mib_stay_apart"),
    case(
        "CatalogSuite",
        "catalog",
        IndexedCatalog,
        "test_branches_writing_different_names_at_once_lose_nothing[thread]",
        "test_branches_writing_different_names_at_once_lose_nothing[fork]",
    ),
    case(
        "CatalogSuite",
        "catalog",
        ReadBackHashCatalog,
        "test_branches_putting_one_name_at_once_record_their_own_hash[thread]",
        "test_branches_putting_one_name_at_once_record_their_own_hash[fork]",
    ),
    case(
        "CatalogSuite",
        "catalog",
        PasswordInLocationCatalog,
        "test_its_own_credentials_never_reach_a_run_log_or_catalog_file",
    ),
    case("RunLogStoreSuite", "run_log_store", JsonRunLogStore),  # control: passes everything
    case(
        "RunLogStoreSuite",
        "run_log_store",
        CheckThenCreateStore,
        "test_one_run_id_is_claimed_by_exactly_one_run[thread]",
        "test_one_run_id_is_claimed_by_exactly_one_run[fork]",
    ),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        FirstAttemptStore,
        "test_step_records_read_back_unchanged_and_in_order",
        "test_putting_a_step_again_replaces_it",
        "test_steps_inside_branches_are_kept_under_their_dotted_names",
    ),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        TruncatingStore,
        "test_step_records_read_back_unchanged_and_in_order",
        "test_putting_a_step_again_replaces_it",
        "test_steps_inside_branches_are_kept_under_their_dotted_names",
    ),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        DoubleJobStore,
        "test_a_job_record_is_stored_once",
        "test_a_real_job_is_recorded_once",
    ),
    case("RunLogStoreSuite", "run_log_store", CachingStore, "test_returned_records_are_copies_not_the_stores_own"),
    case("RunLogStoreSuite", "run_log_store", PasswordStore, "test_its_own_credentials_never_reach_a_run_log"),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        BackgroundWriterStore,
        "test_concurrent_writers_lose_nothing[fork]",
        extra=QUICK_HANG,
    ),
    case(
        "RunLogStoreSuite",
        "run_log_store",
        RacyRunLogStore,
        "test_concurrent_writers_lose_nothing[fork]",
        "test_concurrent_writers_lose_nothing[spawn]",
    ),
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
    case(
        "SecretsManagerSuite",
        "secrets_manager",
        BackgroundClientSecrets,
        "test_look_ups_work_from_threads_and_forked_branches[fork]",
        extra=KNOWN_SECRETS + QUICK_HANG,
    ),
    case(
        "SecretsManagerSuite",
        "secrets_manager",
        TokenInConfigSecrets,
        "test_its_own_credentials_never_reach_a_run_log_or_catalog_file",
        extra=KNOWN_SECRETS,
    ),
    case("ExperimentTrackerSuite", "experiment_tracker", MemoryTracker, extra=READER),
    case(
        "ExperimentTrackerSuite",
        "experiment_tracker",
        ProcessLocalTracker,
        "test_branches_in_forked_processes_reach_the_backend",
        extra=READER,
    ),
    case(
        "ExperimentTrackerSuite",
        "experiment_tracker",
        TokenTracker,
        "test_its_own_credentials_never_reach_a_run_log_or_catalog_file",
        extra=READER,
    ),
    case(
        "ExperimentTrackerSuite",
        "experiment_tracker",
        LastValueTracker,
        "test_parameters_and_metrics_reach_the_backend",
        "test_a_failed_run_keeps_what_was_tracked_before_the_failure",
        "test_runs_are_tracked_apart",
        extra=READER,
    ),
    case("RenderingExecutorSuite", "pipeline_executor", ScriptExecutor, extra=RUNNER),
    case(
        "RenderingExecutorSuite",
        "pipeline_executor",
        StraightLineExecutor,
        "test_running_the_rendered_files_records_what_a_local_run_records[every node kind]",
        "test_running_the_rendered_files_records_what_a_local_run_records[a failing run]",
        extra=RUNNER,
    ),
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
    recorder = pytester.inline_run("-p", "no:cacheprovider", "-q", *fault.selection())
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
