"""Every implementation runnable-core ships passes the conformance suite of its kind (``runnable.testing``).

These classes are exactly what a third-party plugin writes: subclass the suite, provide the instance.
runnable-core has no rendering executor, so the rendering suite runs against a minimal one defined here.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import fsspec
import pytest
from core_helpers import run_script, walking_script
from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
from runnable.defaults.file_system_catalog import FileSystemCatalog
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.defaults.run_log_tracker import RunLogTracker
from runnable.defaults.secrets import DotEnvSecrets, EnvSecrets
from runnable.executors.local import LocalJobExecutor
from runnable.services.executor import BaseRenderingExecutor
from runnable.testing import (
    CatalogSuite,
    ExperimentTrackerSuite,
    JobExecutorSuite,
    RenderingExecutorSuite,
    RunLogStoreSuite,
    SecretsManagerSuite,
    read_from_run_log,
)

# Values a user might really have: spaces, '=', quotes, '#', non-ASCII.
SECRETS = {"CONFORMANCE_API_TOKEN": "tok-8d9f7a61c2", "CONFORMANCE_DB_PASSWORD": "p@ss w0rd='x' #1 ✓"}


class TestFileSystemCatalogOnDisk(CatalogSuite):
    @pytest.fixture
    def catalog(self, tmp_path):
        return FileSystemCatalog(catalog_location=str(tmp_path / "catalog"))


class TestFileSystemCatalogInMemory(CatalogSuite):
    @pytest.fixture
    def catalog(self):
        location = f"memory://conformance-{uuid.uuid4().hex}"
        yield FileSystemCatalog(catalog_location=location)
        fs, root = fsspec.core.url_to_fs(location)
        if fs.exists(root):
            fs.rm(root, recursive=True)


class TestFileSystemRunLogStore(RunLogStoreSuite):
    @pytest.fixture
    def run_log_store(self, tmp_path):
        return FileSystemRunLogStore(log_folder=str(tmp_path / "run-logs-under-test"))


class TestChunkedFileSystemRunLogStore(RunLogStoreSuite):
    """Claims supports_concurrent_writers: the suite also runs several writer processes against it."""

    @pytest.fixture
    def run_log_store(self, tmp_path):
        return ChunkedFileSystemRunLogStore(log_folder=str(tmp_path / "run-logs-under-test"))


class TestEnvSecrets(SecretsManagerSuite):
    @pytest.fixture
    def secrets_manager(self, monkeypatch):
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
        return EnvSecrets()

    @pytest.fixture
    def known_secrets(self):
        return dict(SECRETS)


class TestEnvSecretsWithPrefix(SecretsManagerSuite):
    """The variable is ``APP_<name>``; the task still sees the secret under its own name."""

    @pytest.fixture
    def secrets_manager(self, monkeypatch):
        for name, value in SECRETS.items():
            monkeypatch.setenv(f"APP_{name}", value)
        return EnvSecrets(prefix="APP_")

    @pytest.fixture
    def known_secrets(self):
        return dict(SECRETS)


class TestDotEnvSecrets(SecretsManagerSuite):
    @pytest.fixture
    def secrets_manager(self, tmp_path):
        dotenv = tmp_path / "secrets.env"
        dotenv.write_text("".join(f'{name}="{value}"\n' for name, value in SECRETS.items()))  # dotenv quoting
        return DotEnvSecrets(location=str(dotenv))

    @pytest.fixture
    def known_secrets(self):
        return dict(SECRETS)


class TestRunLogTracker(ExperimentTrackerSuite):
    @pytest.fixture
    def experiment_tracker(self):
        return RunLogTracker()

    @pytest.fixture
    def tracked_run_reader(self):
        return read_from_run_log


class TestLocalJobExecutor(JobExecutorSuite):
    @pytest.fixture
    def job_executor(self):
        return LocalJobExecutor()


class StepScriptExecutor(BaseRenderingExecutor):
    """The smallest rendering executor: a bash script walking the graph, one ``runnable execute-step`` per
    top-level step, composite steps handed whole to ``execute-step`` (the example plugin's ``bash-script`` is
    the complete one)."""

    service_name: ClassVar[str] = "step-script"

    def render(self, context: Any) -> dict[str, str]:
        return {"pipeline.sh": walking_script(context)}


class TestStepScriptExecutor(RenderingExecutorSuite):
    @pytest.fixture
    def pipeline_executor(self):
        return StepScriptExecutor()

    @pytest.fixture
    def artifact_runner(self):
        return run_script
