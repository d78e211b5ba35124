"""The secrets manager conformance suite, against a real OpenBao server, once per auth method.

Each login holds only a policy reading the one secret the suite's values are stored in.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from runnable.testing import SecretsManagerSuite
from runnable_vault.manager import VaultSecrets
from vault_kubernetes_standin import KubernetesStandIn
from vault_server import BaoServer, approle, kubernetes_role, read_policy


@pytest.fixture
def stored(openbao: BaoServer) -> tuple[str, dict[str, str]]:
    """A fresh secret with distinctive values (spaces, '=', unicode: returned exactly as written)."""
    marker = uuid.uuid4().hex[:8]
    values = {"API_TOKEN": f"tok-{marker}-8d9f7a", "DB_PASSWORD": f"p@ss w0rd={marker} é"}
    return openbao.put(values), values


class TestVaultSecretsConformance(SecretsManagerSuite):
    @pytest.fixture(params=["token", "approle", "kubernetes"])
    def secrets_manager(
        self,
        request: pytest.FixtureRequest,
        openbao: BaoServer,
        stored: tuple[str, dict[str, str]],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> VaultSecrets:
        path, _ = stored
        policy = read_policy(openbao, path)
        if request.param == "token":
            token = openbao.client().auth.token.create(policies=[policy], ttl="10m")["auth"]["client_token"]
            monkeypatch.setenv("CONFORMANCE_VAULT_TOKEN", token)
            return openbao.manager(path=path, auth={"method": "token", "token": {"env": "CONFORMANCE_VAULT_TOKEN"}})
        if request.param == "approle":
            role = approle(openbao, policy)
            (tmp_path / "secret-id").write_text(role.secret_id + "\n")
            monkeypatch.setenv("CONFORMANCE_ROLE_ID", role.role_id)
            auth = {
                "method": "approle",
                "role_id": {"env": "CONFORMANCE_ROLE_ID"},
                "secret_id": {"file": str(tmp_path / "secret-id")},
            }
            return openbao.manager(path=path, auth=auth)
        standin: KubernetesStandIn = request.getfixturevalue("kubernetes")
        (tmp_path / "sa-token").write_text(standin.issue("pipelines", "runner"))
        role = kubernetes_role(openbao, "pipelines", "runner", policy)
        auth = {"method": "kubernetes", "role": role, "token_file": str(tmp_path / "sa-token")}
        return openbao.manager(path=path, auth=auth)

    @pytest.fixture
    def known_secrets(self, stored: tuple[str, dict[str, str]]) -> dict[str, str]:
        return stored[1]
