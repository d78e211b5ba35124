"""A real MLflow tracking server for the whole test session, on 127.0.0.1 and a free port.

The server is the full ``mlflow`` package, which lives in its own virtualenv so its many dependencies never
meet the test environment (the plugin itself needs only ``mlflow-skinny``). ``.ci/run`` creates that
virtualenv at ``.ci/.mlflow-venv``; ``RUNNABLE_TEST_MLFLOW`` may name another ``mlflow`` executable. When
neither exists the fixture creates the virtualenv itself (a minute or two, once), so ``hatch test`` works on a
developer's machine too; if that fails, the tests fail saying how to install it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
DEFAULT_VENV = REPOSITORY / ".ci" / ".mlflow-venv"
START_TIMEOUT = 300.0  # seconds; it usually takes 10-25, much longer on a busy machine


def _mlflow_executable() -> Path:
    configured = os.environ.get("RUNNABLE_TEST_MLFLOW")
    if configured:
        path = Path(configured)
        if not path.is_file():
            pytest.fail(f"RUNNABLE_TEST_MLFLOW={configured} does not exist", pytrace=False)
        return path
    path = DEFAULT_VENV / "bin" / "mlflow"
    if not path.is_file():
        install = f"{sys.executable} -m venv {DEFAULT_VENV} && {DEFAULT_VENV}/bin/pip install mlflow"
        done = subprocess.run(["bash", "-c", install], capture_output=True, text=True)
        if done.returncode != 0 or not path.is_file():
            pytest.fail(
                "no MLflow server to test against: install one with `.ci/run` or\n"
                f"  {install}\nor point RUNNABLE_TEST_MLFLOW at an `mlflow` executable.\n"
                f"(creating it here failed: {done.stderr.strip()[-2000:]})",
                pytrace=False,
            )
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tracking URI of a running ``mlflow server`` (sqlite backend, artifacts in a temporary folder)."""
    executable = _mlflow_executable()
    data = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed when the server stops
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        [
            str(executable),
            "server",
            "--backend-store-uri",
            f"sqlite:///{data / 'mlflow.db'}",
            "--artifacts-destination",
            str(data / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited ({server.returncode}):\n{_tail(data / 'server.log')}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {START_TIMEOUT:.0f} s:\n{_tail(data / 'server.log')}")
            time.sleep(0.25)
        yield url
    finally:
        # The server is the leader of its own process group (its workers are in it too): stop the group.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture
def project(tmp_path: Path, mlflow_server: str):  # noqa: ANN201 - the helper module is imported lazily
    """A scratch project using the tracker, with its own experiment on the session's server."""
    from mlflow_project import new_project

    root = tmp_path / "project"
    root.mkdir()
    return new_project(root, mlflow_server)
