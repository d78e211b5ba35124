"""What every conformance suite needs: a scratch project, a run configuration, and a way to run a small
pipeline with the implementation under test standing in for the configured one.

Suites run real pipelines through the same path as ``runnable execute``: :func:`runnable.engine.run.prepare`
reads a configuration file and builds every service, then the executor runs the graph. The one difference is
that the service under test is put into the prepared run *as the instance the plugin's fixture built*,
rather than rebuilt from a config block: an instance holding a credential (a token, a password) cannot
always be dumped into a YAML file and read back, and test doubles need no entry point to be tested.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.queues
import multiprocessing.reduction
import multiprocessing.synchronize
import os
import queue
import re
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml
from pydantic import BaseModel, SecretBytes, SecretStr

from runnable.services.base import Service

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog

# service kind -> the attribute of RunContext that holds it
_CONTEXT_ATTRIBUTE = {
    "pipeline-executor": "executor",
    "job-executor": "executor",
    "catalog": "catalog",
    "run-log-store": "run_log_store",
    "secrets": "secrets",
    "experiment-tracker": "tracker",
}


def unique_run_id(label: str = "run") -> str:
    """A run id no other test uses, so suites can share one backend (a bucket, a database) safely."""
    return f"conformance-{label}-{uuid.uuid4().hex[:10]}"


S = TypeVar("S", bound=Service)


def rebuilt(service: S) -> S:
    """A second instance built from the same settings, as another process (or a container) would build it."""
    return type(service).model_validate(service.model_dump(round_trip=True))


# Field names that hold a credential when a backend keeps one in a plain ``str`` (better: ``SecretStr``).
CREDENTIAL_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|api_?key|access_?key|private_?key|auth", re.I
)
# Shorter values cannot be searched for without matching by chance.
CREDENTIAL_MIN_LENGTH = 6


# Names that hold where a credential is, or which one, rather than the credential: ``token_file``,
# ``access_key_id``, ``password_env``, ``auth_method``.
REFERENCE_NAME = re.compile(r"_(id|file|path|env|var|name|url|uri|point|method|type|ttl)$", re.I)
# Dict fields whose keys are connection options (``storage_options``, ``client_kwargs``, ``auth``): their keys
# are searched for credential names. Other dicts (``aliases``: secret name -> secret id) map names to names.
OPTIONS_FIELD = re.compile(r"option|kwargs|credential|auth|config|settings|params", re.I)


def credential_values(service: Service) -> list[str]:
    """The credentials in a backend's own configuration: ``SecretStr``/``SecretBytes`` fields anywhere, and
    string values under names like ``password``, ``token``, ``secret_key``, as fields or as keys of option
    dicts (``storage_options``, ``client_kwargs``; not references such as ``access_key_id``, ``token_file``). These must
    never reach a run log or a catalog file. Values must be distinctive (6+ characters) to be searched for;
    a suite's ``backend_credentials`` fixture can be overridden to name them explicitly."""
    found: list[str] = []

    def visit(name: str, value: Any, options: bool) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", "replace"))
        elif isinstance(value, str) and CREDENTIAL_NAME.search(name) and not REFERENCE_NAME.search(name):
            found.append(value)
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                visit(field, getattr(value, field), options)
        elif isinstance(value, dict):
            for key, item in value.items():
                if options or isinstance(item, (dict, SecretStr, SecretBytes, BaseModel)):
                    visit(str(key), item, options)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(name, item, options)

    for name in type(service).model_fields:
        visit(name, getattr(service, name), bool(OPTIONS_FIELD.search(name)))
    return sorted({value for value in found if len(value) >= CREDENTIAL_MIN_LENGTH})


def leaked(values: list[str], **places: str) -> list[str]:
    """``"<place> contains credential #<i>"`` for each value found in a place (never the value itself)."""
    return [
        f"{place} contains credential #{i}" for place, text in places.items() for i, v in enumerate(values) if v in text
    ]


# --- concurrency: threads, forked processes (as ``enable_parallel`` runs branches) and spawned ones --------

START_METHODS = ["thread", "fork", "spawn"]

# The multiprocessing modules a spawn pickles through are imported with this module, once: pytest's
# ``pytester`` (which runs suites in nested sessions) drops modules first imported inside a nested session,
# and a re-imported ``multiprocessing.connection`` no longer pickles the objects of the first import.
if sys.platform != "win32":
    import multiprocessing.popen_fork
    import multiprocessing.popen_spawn_posix
    import multiprocessing.resource_tracker
    import multiprocessing.spawn  # noqa: F401


@dataclass(frozen=True)
class Rebuild:
    """A service as a spawned process receives it: its class and settings, built anew in that process."""

    cls: type[Service]
    fields: dict[str, Any]

    @classmethod
    def of(cls, service: Service) -> Rebuild:
        return cls(type(service), service.model_dump(round_trip=True))


def _resolve(argument: Any) -> Any:
    return argument.cls.model_validate(argument.fields) if isinstance(argument, Rebuild) else argument


def _report(results: Any, index: int, worker: Callable[..., Any], barrier: Any, args: tuple[Any, ...]) -> None:
    try:
        outcome = ("ok", worker(index, barrier, *(_resolve(a) for a in args)))
    except BaseException:  # reported to the test, in its own process
        outcome = ("error", traceback.format_exc(limit=8))
    results.put((index, *outcome))


def run_workers(method: str, count: int, worker: Callable[..., Any], *args: Any, timeout: float = 120.0) -> list[Any]:
    """Run ``worker(index, barrier, *args)`` in ``count`` threads or processes started with ``method``.

    ``thread``: threads sharing the instance; ``fork``: child processes inheriting the instance *after the
    parent used it* (exactly how ``enable_parallel`` runs branches, so a connection, a background thread or a
    lock held by the instance is inherited as is); ``spawn``: fresh processes, where each service among
    ``args`` is rebuilt from its settings (:class:`Rebuild`), as a container would. ``worker`` must be a
    module-level function for ``spawn``. Returns the results in index order; fails the test naming the
    worker that raised or that did not finish within ``timeout`` seconds (a hang).
    """
    if method == "thread":
        results: Any = queue.Queue()
        barrier: Any = threading.Barrier(count)
        threads = [
            threading.Thread(target=_report, args=(results, i, worker, barrier, args), daemon=True)
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        waiting: list[Any] = threads
    else:
        context = multiprocessing.get_context(method)
        results = context.Queue()
        barrier = context.Barrier(count)
        if method == "spawn":  # fork children inherit the very instance; spawned ones build their own
            args = tuple(Rebuild.of(a) if isinstance(a, Service) else a for a in args)
        processes = [
            context.Process(target=_report, args=(results, i, worker, barrier, args), name=f"conformance-{method}-{i}")
            for i in range(count)
        ]
        for process in processes:
            process.start()
        waiting = processes
    collected: dict[int, tuple[str, Any]] = {}
    try:
        for _ in range(count):
            index, status, value = results.get(timeout=timeout)
            collected[index] = (status, value)
    except queue.Empty:
        hung = sorted(set(range(count)) - set(collected))
        pytest.fail(
            f"{len(hung)} of {count} {method} workers did not finish within {timeout:.0f}s (workers {hung[:5]}): "
            "a hang, typically a connection, lock or background thread inherited across fork()",
            pytrace=False,
        )
    finally:
        for item in waiting:
            if isinstance(item, threading.Thread):
                item.join(timeout=1)
            else:
                item.join(timeout=5)
                if item.is_alive():
                    item.kill()
                    item.join()
    errors = {i: v for i, (status, v) in collected.items() if status == "error"}
    if errors:
        first = min(errors)
        pytest.fail(
            f"{len(errors)} of {count} {method} workers failed; worker {first}:\n{errors[first]}", pytrace=False
        )
    return [collected[i][1] for i in range(count)]


@dataclass
class Workspace:
    """An empty project folder, the working directory while a test runs.

    Its configuration keeps the run log store and the catalog under the folder (``run-logs/`` and
    ``catalog/``), so everything a run persists with the defaults can be read back and searched.
    """

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    @property
    def run_log_folder(self) -> Path:
        return self.root / "run-logs"

    @property
    def catalog_folder(self) -> Path:
        return self.root / "catalog"

    def write_config(self) -> None:
        config = {
            "run-log-store": {"type": "file-system", "config": {"log_folder": str(self.run_log_folder)}},
            "catalog": {"type": "file-system", "config": {"catalog_location": str(self.catalog_folder)}},
        }
        self.config_file.write_text(yaml.safe_dump(config))

    def parameters_file(self, values: dict[str, Any]) -> str:
        path = self.root / f"parameters-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(values))
        return str(path)

    def prepare(
        self, graph: Graph, *services: Service, parameters: dict[str, Any] | None = None, run_id: str = "", **kw: Any
    ) -> RunContext:
        """A prepared :class:`~runnable.engine.context.RunContext` with ``services`` in place of configured ones."""
        from runnable.engine.run import prepare

        context = prepare(
            graph,
            configuration_file=str(self.config_file),
            parameters_file=self.parameters_file(parameters) if parameters else "",
            run_id=run_id or unique_run_id(),
            **kw,
        )
        for service in services:
            setattr(context, _CONTEXT_ATTRIBUTE[service.service_kind], service)
        return context

    def run(
        self,
        graph: Graph,
        *services: Service,
        parameters: dict[str, Any] | None = None,
        run_id: str = "",
        job: bool = False,
    ) -> RunLog:
        """Run ``graph`` like ``runnable execute`` would, with ``services`` standing in for the configured ones."""
        context = self.prepare(graph, *services, parameters=parameters, run_id=run_id, job=job)
        if job:
            return context.executor.execute_job(context)  # type: ignore[union-attr]
        return context.executor.execute_pipeline(context)  # type: ignore[union-attr]

    def persisted_text(self) -> str:
        """Every file the default run log store and catalog wrote, as text (binary content decoded loosely)."""
        texts = []
        for folder in (self.run_log_folder, self.catalog_folder):
            if folder.is_dir():
                texts.extend(
                    p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file()
                )
        return "\n".join(texts)


class ServiceSuite:
    """Fixtures shared by every suite; a suite subclass adds the fixture naming the instance under test."""

    @pytest.fixture
    def workspace(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
        """A fresh project folder as working directory, with no ``RUNNABLE_*`` variable leaking in."""
        root = tmp_path / "workspace"
        root.mkdir()
        monkeypatch.chdir(root)
        for key in list(os.environ):
            if key.startswith("RUNNABLE_"):
                monkeypatch.delenv(key)
        space = Workspace(root)
        space.write_config()
        return space

    @pytest.fixture
    def run_id(self) -> str:
        return unique_run_id()


def missing_fixture(suite: str, fixture: str, what: str) -> None:
    """Fail with instructions when a plugin's test class forgot to provide a fixture."""
    pytest.fail(
        f"{suite} needs a `{fixture}` fixture: define one in your test class that returns {what}",
        pytrace=False,
    )
