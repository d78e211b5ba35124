"""What every conformance suite needs: a scratch project, a run configuration, and a way to run a small
pipeline with the implementation under test standing in for the configured one.

Suites run real pipelines through the same path as ``runnable execute``: :func:`runnable.engine.run.prepare`
reads a configuration file and builds every service, then the executor runs the graph. The one difference is
that the service under test is put into the prepared run *as the instance the plugin's fixture built*,
rather than rebuilt from a config block: an instance holding a credential (a token, a password) cannot
always be dumped into a YAML file and read back, and test doubles need no entry point to be tested.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml

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
