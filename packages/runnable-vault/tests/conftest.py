"""Real OpenBao dev servers (and a Kubernetes TokenReview stand-in) shared by the runnable-vault tests.

Servers start once per session where tests only add to them (each test writes its own secret paths,
policies and roles under unique names); a test that seals its server gets a server of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_kubernetes_standin import KubernetesStandIn
from vault_server import BaoServer, start_server


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """``bao server -dev`` over plain HTTP."""
    server = start_server(tmp_path_factory.mktemp("openbao"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """``bao server -dev-tls``: HTTPS with a certificate signed by the CA it writes to ``vault-ca.pem``."""
    server = start_server(tmp_path_factory.mktemp("openbao-tls"), tls=True)
    yield server
    server.stop()


@pytest.fixture
def own_openbao(tmp_path: Path) -> Iterator[BaoServer]:
    """A server for this test alone, for tests that seal or stop it."""
    server = start_server(tmp_path / "openbao")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kubernetes(openbao: BaoServer, openbao_tls: BaoServer) -> Iterator[KubernetesStandIn]:
    """The Kubernetes stand-in, with ``openbao``'s Kubernetes auth method pointed at it.

    The stand-in serves HTTPS with the certificate ``openbao_tls`` generated for 127.0.0.1, so OpenBao is
    given that server's CA to trust it.
    """
    assert openbao_tls.ca_file
    certs = Path(openbao_tls.ca_file).parent
    standin = KubernetesStandIn(cert_file=str(certs / "vault-cert.pem"), key_file=str(certs / "vault-key.pem"))
    client = openbao.client()
    client.sys.enable_auth_method("kubernetes")
    client.auth.kubernetes.configure(
        kubernetes_host=standin.url,
        kubernetes_ca_cert=Path(openbao_tls.ca_file).read_text(),
        disable_local_ca_jwt=True,  # not in a pod: no local service account or CA files to fall back on
    )
    yield standin
    standin.close()
