"""A real S3 and Secrets Manager on 127.0.0.1: starting moto's standalone server, and a handle on it.

``moto_server`` is found next to the interpreter running the tests (the hatch test environment installs
``moto[server]``), or at ``$RUNNABLE_AWS_MOTO_SERVER``. Each test that asks for ``aws`` starts from an empty
server (``POST /moto-api/reset``) holding one bucket. Credentials and region come from the standard AWS
variables, set here for the session (and so inherited by every process a test starts); the endpoint is given
in each configuration. Nothing in runnable_aws knows it talks to moto.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "runnable-test"
REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "moto-test-key",
    "AWS_SECRET_ACCESS_KEY": "moto-test-secret",
    "AWS_DEFAULT_REGION": REGION,
}


def _moto_server_binary() -> str:
    configured = os.environ.get("RUNNABLE_AWS_MOTO_SERVER")
    beside = Path(sys.executable).parent / "moto_server"
    found = configured or (str(beside) if beside.exists() else shutil.which("moto_server"))
    if not found or not Path(found).exists():
        pytest.fail(
            "runnable-aws tests need moto's S3/Secrets Manager server: `pip install 'moto[server]'` into the test "
            "environment (hatch.toml lists it), or set RUNNABLE_AWS_MOTO_SERVER to a moto_server executable",
            pytrace=False,
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto(log: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``moto_server`` on a free port of 127.0.0.1 and wait until it answers (at most 60 s).

    Its output goes to the file ``log``: it logs every request, and a pipe nobody reads would fill up and stop it.
    """
    port = _free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [_moto_server_binary(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            error = log.read_text(errors="replace")
            pytest.fail(f"moto_server exited with {process.returncode}: {error[-2000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return process, endpoint
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto_server did not answer on {endpoint} within 60 s", pytrace=False)
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Aws:
    """The server of one test: empty but for ``bucket``, and a boto3 client on it to arrange and inspect."""

    endpoint: str
    bucket: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def settings(self, **more: Any) -> dict[str, Any]:
        """The config block a user would write for this server."""
        return {"bucket": self.bucket, "endpoint_url": self.endpoint, **more}
