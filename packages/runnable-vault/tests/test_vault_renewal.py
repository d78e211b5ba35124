"""A run outliving its token: renewed when renewable, a new login for AppRole and Kubernetes, a clear error
when a token made elsewhere expires.

Tokens here live a few seconds, so each test sleeps past a TTL: the point is what happens once real time
has passed it on the server.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from runnable.errors import SecretNotFoundError
from vault_kubernetes_standin import KubernetesStandIn
from vault_server import BaoServer, approle, kubernetes_role, read_policy


@pytest.fixture
def three_secrets(openbao: BaoServer) -> tuple[str, str, str, str]:
    """Three secrets under one base path (read at different moments of a 'run') and a policy reading them."""
    base = openbao.put({"FIRST": "first-value"})
    openbao.put({"SECOND": "second-value"}, f"{base}/b")
    openbao.put({"THIRD": "third-value"}, f"{base}/c")
    return base, "b#SECOND", "c#THIRD", read_policy(openbao, base, f"{base}/b", f"{base}/c")


def test_a_renewable_token_is_renewed_and_outlives_its_ttl(
    openbao: BaoServer, three_secrets: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, second, third, policy = three_secrets
    created = openbao.client().auth.token.create(policies=[policy], ttl="4s", explicit_max_ttl="60s", renewable=True)
    token = created["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    manager = openbao.manager(path=base)
    assert manager.get("FIRST") == "first-value"
    time.sleep(3.0)  # past 2/3 of the TTL (and 1 s before its end): the next read renews first
    assert manager.get(second) == "second-value"
    time.sleep(3.0)  # 6 s after creation: without the renewal the token would have expired at 4 s
    assert manager.get(third) == "third-value"
    assert openbao.client().auth.token.lookup(token)["data"]["last_renewal_time"], "renewed, not replaced"


def test_an_expired_token_made_elsewhere_is_a_one_line_error(
    openbao: BaoServer, three_secrets: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Token auth cannot make a new token: it reads its source again, and says the token expired."""
    base, second, _, policy = three_secrets
    created = openbao.client().auth.token.create(policies=[policy], ttl="2s", renewable=False)
    monkeypatch.setenv("VAULT_TOKEN", created["auth"]["client_token"])
    manager = openbao.manager(path=base)
    assert manager.get("FIRST") == "first-value"
    time.sleep(2.5)
    with pytest.raises(SecretNotFoundError) as raised:
        manager.get(second)
    message = str(raised.value)
    assert "\n" not in message and "login refused (permission denied)" in message
    assert "environment variable VAULT_TOKEN" in message and "expired" in raised.value.hint


def test_a_token_rotated_in_its_file_is_picked_up(
    openbao: BaoServer, three_secrets: tuple[str, str, str, str], tmp_path: Path
) -> None:
    """Vault Agent rewrites its sink file with a fresh token; the manager reads the file at each login."""
    base, second, _, policy = three_secrets
    admin = openbao.client().auth.token
    sink = tmp_path / "agent-token"
    sink.write_text(admin.create(policies=[policy], ttl="2s", renewable=False)["auth"]["client_token"])
    manager = openbao.manager(path=base, auth={"method": "token", "token": {"file": str(sink)}})
    assert manager.get("FIRST") == "first-value"
    sink.write_text(admin.create(policies=[policy], ttl="60s")["auth"]["client_token"])
    time.sleep(2.5)
    assert manager.get(second) == "second-value"


def test_approle_logs_in_again_past_the_max_ttl(
    openbao: BaoServer, three_secrets: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, second, third, policy = three_secrets
    role = approle(openbao, policy, token_ttl="2s", token_max_ttl="2s")
    monkeypatch.setenv("R_ROLE_ID", role.role_id)
    monkeypatch.setenv("R_SECRET_ID", role.secret_id)
    auth = {"method": "approle", "role_id": {"env": "R_ROLE_ID"}, "secret_id": {"env": "R_SECRET_ID"}}
    manager = openbao.manager(path=base, auth=auth)
    assert manager.get("FIRST") == "first-value"
    time.sleep(1.5)
    assert manager.get(second) == "second-value"
    time.sleep(1.5)  # 3 s: no token of this role lives that long, so this read needs a new login
    assert manager.get(third) == "third-value"


def test_kubernetes_logs_in_again_past_the_max_ttl(
    openbao: BaoServer, kubernetes: KubernetesStandIn, three_secrets: tuple[str, str, str, str], tmp_path: Path
) -> None:
    base, second, _, policy = three_secrets
    role = kubernetes_role(openbao, "pipelines", "long-runner", policy, ttl="2s", max_ttl="2s")
    (tmp_path / "token").write_text(kubernetes.issue("pipelines", "long-runner"))
    reviews = kubernetes.reviews
    manager = openbao.manager(
        path=base, auth={"method": "kubernetes", "role": role, "token_file": str(tmp_path / "token")}
    )
    assert manager.get("FIRST") == "first-value"
    time.sleep(2.5)
    assert manager.get(second) == "second-value"
    assert kubernetes.reviews == reviews + 2, "two logins, each reviewed by the (stand-in) cluster"


def test_a_token_revoked_mid_run_is_replaced_by_a_new_login(
    openbao: BaoServer, three_secrets: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused with 'permission denied', the manager logs in once more before calling it a denial."""
    base, second, _, policy = three_secrets
    role = approle(openbao, policy)
    monkeypatch.setenv("R_ROLE_ID", role.role_id)
    monkeypatch.setenv("R_SECRET_ID", role.secret_id)
    auth = {"method": "approle", "role_id": {"env": "R_ROLE_ID"}, "secret_id": {"env": "R_SECRET_ID"}}
    manager = openbao.manager(path=base, auth=auth)
    assert manager.get("FIRST") == "first-value"
    openbao.client().auth.token.revoke(manager._client.token)  # an operator revokes the run's token
    assert manager.get(second) == "second-value"
