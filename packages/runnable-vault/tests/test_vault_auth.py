"""Each auth method against the real server, and credentials that are missing, wrong or written inline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from runnable.errors import ConfigurationError, SecretNotFoundError
from runnable_vault.manager import VaultSecrets
from vault_kubernetes_standin import KubernetesStandIn
from vault_server import BaoServer, approle, kubernetes_role, read_policy


def one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def test_token_from_a_file(openbao: BaoServer, tmp_path: Path) -> None:
    path = openbao.put({"API_KEY": "from-a-token-file"})
    token = openbao.client().auth.token.create(policies=[read_policy(openbao, path)])["auth"]["client_token"]
    (tmp_path / "token").write_text(f"{token}\n")  # as `bao login` or Vault Agent's sink leaves it
    manager = openbao.manager(path=path, auth={"method": "token", "token": {"file": str(tmp_path / "token")}})
    assert manager.get("API_KEY") == "from-a-token-file"


def test_token_auth_reads_VAULT_TOKEN_by_default(openbao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    path = openbao.put({"API_KEY": "from-vault-token"})
    token = openbao.client().auth.token.create(policies=[read_policy(openbao, path)])["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    assert openbao.manager(path=path).get("API_KEY") == "from-vault-token"


def test_an_inline_token_is_a_one_line_configuration_error_that_does_not_repeat_it(tmp_path: Path) -> None:
    """Through the CLI, as a user meets it: the config file is refused before anything runs."""
    (tmp_path / "pipeline.yaml").write_text(
        yaml.safe_dump(
            {
                "dag": {
                    "start_at": "hello",
                    "steps": {"hello": {"type": "task", "command_type": "shell", "command": "true", "next": "success"}},
                }
            }
        )
    )
    inline = "hvs.INLINE-TOKEN-9f8e7d"
    config = {"secrets": {"type": "vault", "config": {"url": "http://127.0.0.1:1", "auth": {"token": inline}}}}
    config["secrets"]["config"]["auth"]["method"] = "token"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "runnable", "execute", "pipeline.yaml", "-c", "config.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    printed = result.stdout + result.stderr
    assert inline not in printed
    assert "Traceback" not in printed
    lines = [line for line in printed.splitlines() if "secrets.config.auth" in line]
    assert len(lines) == 1, printed
    assert "never written in the configuration" in lines[0] and "{env: VARIABLE} or {file: PATH}" in lines[0]


@pytest.mark.parametrize(
    "auth",
    [
        {"method": "token", "token": "s.inline-token"},
        {"method": "approle", "role_id": {"env": "ROLE"}, "secret_id": "inline-secret-id"},
        {"method": "token", "token": {"env": "A", "file": "/b"}},
        {"method": "token", "token": {}},
        {"method": "kubernetes"},  # no role
        {"method": "ldap"},
    ],
)
def test_malformed_auth_settings_are_refused_without_echoing_them(auth: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as raised:
        VaultSecrets(url="http://127.0.0.1:1", auth=auth)
    assert "inline" not in str(raised.value)


def test_a_missing_credential_variable_is_a_configuration_error_naming_it(
    openbao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    manager = openbao.manager(path="x", auth={"method": "token", "token": {"env": "NOT_SET_ANYWHERE"}})
    with pytest.raises(ConfigurationError) as raised:
        manager.get("API_KEY")
    assert "environment variable NOT_SET_ANYWHERE" in one_line(raised)
    assert "'vault'" in str(raised.value)


def test_a_missing_credential_file_is_a_configuration_error_naming_it(
    openbao: BaoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X", "some-role-id")
    missing = tmp_path / "no-such-secret-id"
    auth = {"method": "approle", "role_id": {"env": "X"}, "secret_id": {"file": str(missing)}}
    with pytest.raises(ConfigurationError) as raised:
        openbao.manager(path="x", auth=auth).get("API_KEY")
    assert str(missing) in one_line(raised)


def test_approle_with_a_wrong_secret_id_is_refused_in_one_line(
    openbao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = approle(openbao, "default")
    monkeypatch.setenv("T_ROLE_ID", role.role_id)
    monkeypatch.setenv("T_SECRET_ID", "00000000-0000-0000-0000-000000000000")
    auth = {"method": "approle", "role_id": {"env": "T_ROLE_ID"}, "secret_id": {"env": "T_SECRET_ID"}}
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path="x", auth=auth).get("API_KEY")
    message = one_line(raised)
    assert "'API_KEY'" in message and "login refused" in message and "AppRole" in message


def test_approle_at_another_mount_point(openbao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = openbao.client()
    client.sys.enable_auth_method("approle", path="robots")
    path = openbao.put({"API_KEY": "via-robots-mount"})
    client.auth.approle.create_or_update_approle(
        "ci", token_policies=[read_policy(openbao, path)], mount_point="robots"
    )
    monkeypatch.setenv("T_ROLE_ID", client.auth.approle.read_role_id("ci", mount_point="robots")["data"]["role_id"])
    monkeypatch.setenv(
        "T_SECRET_ID", client.auth.approle.generate_secret_id("ci", mount_point="robots")["data"]["secret_id"]
    )
    auth = {
        "method": "approle",
        "mount_point": "robots",
        "role_id": {"env": "T_ROLE_ID"},
        "secret_id": {"env": "T_SECRET_ID"},
    }
    assert openbao.manager(path=path, auth=auth).get("API_KEY") == "via-robots-mount"


def test_kubernetes_login_is_checked_with_the_token_review_api(
    openbao: BaoServer, kubernetes: KubernetesStandIn, tmp_path: Path
) -> None:
    path = openbao.put({"API_KEY": "via-kubernetes"})
    role = kubernetes_role(openbao, "pipelines", "trainer", read_policy(openbao, path))
    token_file = tmp_path / "token"
    token_file.write_text(kubernetes.issue("pipelines", "trainer"))
    reviews = kubernetes.reviews
    manager = openbao.manager(path=path, auth={"method": "kubernetes", "role": role, "token_file": str(token_file)})
    assert manager.get("API_KEY") == "via-kubernetes"
    assert kubernetes.reviews == reviews + 1, "OpenBao did not ask the TokenReview API"


def test_a_kubernetes_token_the_cluster_does_not_vouch_for_is_refused(
    openbao: BaoServer, kubernetes: KubernetesStandIn, tmp_path: Path
) -> None:
    role = kubernetes_role(openbao, "pipelines", "trainer", "default")
    token = kubernetes.issue("pipelines", "trainer")
    kubernetes.revoke(token)  # its service account was deleted
    (tmp_path / "token").write_text(token)
    auth = {"method": "kubernetes", "role": role, "token_file": str(tmp_path / "token")}
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path="x", auth=auth).get("API_KEY")
    message = one_line(raised)
    assert "login refused (permission denied)" in message and role in message


def test_a_service_account_the_role_is_not_bound_to_is_refused(
    openbao: BaoServer, kubernetes: KubernetesStandIn, tmp_path: Path
) -> None:
    role = kubernetes_role(openbao, "pipelines", "trainer", "default")
    (tmp_path / "token").write_text(kubernetes.issue("pipelines", "someone-else"))
    auth = {"method": "kubernetes", "role": role, "token_file": str(tmp_path / "token")}
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path="x", auth=auth).get("API_KEY")
    assert "login refused" in one_line(raised)


def test_the_recorded_configuration_names_sources_not_credentials(openbao: BaoServer, tmp_path: Path) -> None:
    auth = {"method": "approle", "role_id": {"env": "ROLE_ID"}, "secret_id": {"file": str(tmp_path / "sid")}}
    recorded = openbao.manager(path="ml/prod", auth=auth).masked_config()
    assert recorded["config"]["auth"] == {
        "method": "approle",
        "role_id": {"env": "ROLE_ID", "file": ""},
        "secret_id": {"env": "", "file": str(tmp_path / "sid")},
        "mount_point": "approle",
    }
