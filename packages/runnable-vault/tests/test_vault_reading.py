"""How names map to secrets, versions and aliases; what a run caches; and the one-line errors of a read."""

from __future__ import annotations

import pytest
from runnable.errors import SecretNotFoundError
from runnable_vault.manager import VaultSecrets
from runnable_vault.names import SecretRef, parse
from vault_server import BaoServer, read_policy


def one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


@pytest.fixture
def root_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from vault_server import ROOT_TOKEN

    monkeypatch.setenv("VAULT_TOKEN", ROOT_TOKEN)


# --- names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DB_PASSWORD", SecretRef("ml/prod", "DB_PASSWORD", None)),
        ("DB_PASSWORD@3", SecretRef("ml/prod", "DB_PASSWORD", 3)),
        ("billing/stripe#api_key", SecretRef("ml/prod/billing/stripe", "api_key", None)),
        ("billing/stripe#api_key@12", SecretRef("ml/prod/billing/stripe", "api_key", 12)),
        ("/billing/#key@x", SecretRef("ml/prod/billing", "key@x", None)),  # '@' + non-digits belongs to the key
    ],
)
def test_a_name_is_a_key_of_the_secret_at_path_or_a_sub_path_key_and_version(name: str, expected: SecretRef) -> None:
    assert parse(name, name, "ml/prod/") == expected


@pytest.mark.parametrize("name", ["KEY", "sub#", "#KEY@0"])
def test_a_name_that_points_nowhere_is_refused(name: str) -> None:
    with pytest.raises(SecretNotFoundError) as raised:
        parse(name, name, "" if name == "KEY" else "base")
    assert repr(name) in one_line(raised) and "'vault'" in str(raised.value)


# --- against the server ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("root_token")
def test_versions_sub_paths_and_aliases(openbao: BaoServer) -> None:
    base = openbao.put({"API_KEY": "first-version"})
    openbao.put({"API_KEY": "second-version"}, base)
    openbao.put({"api_key": "stripe-live-key"}, f"{base}/billing/stripe")
    manager = openbao.manager(path=base, aliases={"STRIPE_KEY": "billing/stripe#api_key@1", "OLD_KEY": "API_KEY@1"})
    assert manager.get("API_KEY") == "second-version"
    assert manager.get("API_KEY@1") == "first-version"
    assert manager.get("billing/stripe#api_key") == "stripe-live-key"
    assert manager.get("STRIPE_KEY") == "stripe-live-key"
    assert manager.get("OLD_KEY") == "first-version"


@pytest.mark.usefixtures("root_token")
def test_non_string_values_are_returned_as_json_text(openbao: BaoServer) -> None:
    path = openbao.put({"PORT": 5432, "HOSTS": ["db-1", "db-2"]})
    manager = openbao.manager(path=path)
    assert manager.get("PORT") == "5432"
    assert manager.get("HOSTS") == '["db-1", "db-2"]'


@pytest.mark.usefixtures("root_token")
def test_values_are_read_once_per_run_and_not_kept_beyond_it(openbao: BaoServer) -> None:
    """One manager serves one run: a secret changed during the run is not seen until the next run."""
    path = openbao.put({"API_KEY": "value-at-start"})
    run = openbao.manager(path=path)
    assert run.get("API_KEY") == "value-at-start"
    openbao.put({"API_KEY": "value-rotated"}, path)
    assert run.get("API_KEY") == "value-at-start", "one run sees one version of a secret"
    assert openbao.manager(path=path).get("API_KEY") == "value-rotated", "the next run reads afresh"


def test_a_policy_forbidding_the_path_is_permission_denied_naming_it(
    openbao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = openbao.put({"API_KEY": "allowed-value"})
    forbidden = openbao.put({"API_KEY": "forbidden-value"})
    token = openbao.client().auth.token.create(policies=[read_policy(openbao, allowed)])["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    assert openbao.manager(path=allowed).get("API_KEY") == "allowed-value"
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path=forbidden).get("API_KEY")
    message = one_line(raised)
    assert "permission denied" in message and f"secret/{forbidden}" in message and "'API_KEY'" in message
    assert "forbidden-value" not in message + raised.value.hint
    assert f'"secret/data/{forbidden}"' in raised.value.hint


@pytest.mark.usefixtures("root_token")
def test_a_missing_secret_names_the_secret_the_path_and_the_manager(openbao: BaoServer) -> None:
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path="nothing/here").get("API_KEY")
    message = one_line(raised)
    assert "'API_KEY'" in message and "'vault'" in message and "secret/nothing/here" in message


@pytest.mark.usefixtures("root_token")
def test_a_missing_key_names_the_secret_the_manager_and_the_keys_there_but_no_value(openbao: BaoServer) -> None:
    path = openbao.put({"USER": "svc-reader", "PASSWORD": "hunter2-value"})
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path=path).get("API_KEY")
    message = one_line(raised)
    assert "'API_KEY'" in message and "'vault'" in message and f"secret/{path}" in message
    assert "PASSWORD, USER" in message
    assert "hunter2-value" not in message and "svc-reader" not in message


@pytest.mark.usefixtures("root_token")
def test_a_deleted_or_missing_version_is_not_found(openbao: BaoServer) -> None:
    path = openbao.put({"API_KEY": "version-one"})
    openbao.put({"API_KEY": "version-two"}, path)
    openbao.client().secrets.kv.v2.delete_secret_versions(path, versions=[1])
    manager = openbao.manager(path=path)
    for name in ("API_KEY@1", "API_KEY@7"):
        with pytest.raises(SecretNotFoundError) as raised:
            manager.get(name)
        assert repr(name) in one_line(raised) and "version" in str(raised.value)
    assert manager.get("API_KEY@2") == "version-two"


@pytest.mark.usefixtures("root_token")
def test_another_mount(openbao: BaoServer) -> None:
    openbao.client().sys.enable_secrets_engine("kv", path="team-kv", options={"version": "2"})
    path = openbao.put({"API_KEY": "on-team-kv"}, mount="team-kv")
    assert openbao.manager(mount="team-kv", path=path).get("API_KEY") == "on-team-kv"


def test_a_sealed_server_is_a_one_line_error(own_openbao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from vault_server import ROOT_TOKEN

    monkeypatch.setenv("VAULT_TOKEN", ROOT_TOKEN)
    path = own_openbao.put({"API_KEY": "before-sealing", "OTHER": "read-after-sealing"})
    manager = own_openbao.manager(path=path)
    assert manager.get("API_KEY") == "before-sealing"
    own_openbao.bao("operator", "seal")
    assert manager.get("OTHER") == "read-after-sealing", "this run read the secret before the seal"
    with pytest.raises(SecretNotFoundError) as raised:
        own_openbao.manager(path=path).get("API_KEY")
    message = one_line(raised)
    assert "sealed" in message and own_openbao.url in message and "'API_KEY'" in message


def test_an_unreachable_server_is_a_one_line_error(own_openbao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "irrelevant")
    own_openbao.stop()
    with pytest.raises(SecretNotFoundError) as raised:
        VaultSecrets(url=own_openbao.url, path="x", timeout=5).get("API_KEY")
    message = one_line(raised)
    assert "cannot be reached" in message and own_openbao.url in message and "'API_KEY'" in message
