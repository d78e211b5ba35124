"""TLS (``bao server -dev-tls`` and the CA bundle it writes) and namespaces, against real servers.

OpenBao supports namespaces (``bao namespace create``) in its dev server, so they are tested for real: the
same path holds different secrets inside and outside a namespace, and an auth method enabled in a namespace
logs in there.
"""

from __future__ import annotations

import logging

import pytest
from runnable.errors import ConfigurationError, SecretNotFoundError
from runnable_vault.manager import VaultSecrets
from vault_server import ROOT_TOKEN, BaoServer, unique


@pytest.fixture(autouse=True)
def root_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", ROOT_TOKEN)


# --- TLS -------------------------------------------------------------------------------------------------


def test_tls_verified_with_the_ca_bundle(openbao_tls: BaoServer, caplog: pytest.LogCaptureFixture) -> None:
    assert openbao_tls.url.startswith("https://") and openbao_tls.ca_file
    path = openbao_tls.put({"API_KEY": "over-verified-tls"})
    manager = VaultSecrets(url=openbao_tls.url, path=path, verify=openbao_tls.ca_file)
    assert manager.get("API_KEY") == "over-verified-tls"
    assert "verify" not in caplog.text


def test_a_server_certificate_no_trusted_ca_signed_is_a_one_line_error(
    openbao_tls: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # the system's CAs only
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(SecretNotFoundError) as raised:
        VaultSecrets(url=openbao_tls.url, path="x").get("API_KEY")
    message = str(raised.value)
    assert "\n" not in message and "TLS verification failed" in message and openbao_tls.url in message
    assert "config.verify" in raised.value.hint


def test_verify_false_works_but_warns(openbao_tls: BaoServer, caplog: pytest.LogCaptureFixture) -> None:
    path = openbao_tls.put({"API_KEY": "over-unverified-tls"})
    with caplog.at_level(logging.WARNING), pytest.warns(Warning):  # urllib3 warns too, per request
        assert VaultSecrets(url=openbao_tls.url, path=path, verify=False).get("API_KEY") == "over-unverified-tls"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("runnable_vault")]
    assert len(warnings) == 1 and "verify: false" in warnings[0].getMessage()


def test_a_missing_ca_bundle_is_a_configuration_error(openbao_tls: BaoServer, tmp_path: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        VaultSecrets(url=openbao_tls.url, path="x", verify="/no/such/ca.pem").get("API_KEY")
    assert "/no/such/ca.pem" in str(raised.value)


# --- namespaces ------------------------------------------------------------------------------------------


@pytest.fixture
def namespace(openbao: BaoServer) -> str:
    """A fresh namespace with a KV v2 engine at ``secret/``, like the root namespace has."""
    name = unique("team")
    openbao.client().sys.create_namespace(name)
    openbao.client(namespace=name).sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    return name


def test_a_namespace_is_where_the_secret_is_read(openbao: BaoServer, namespace: str) -> None:
    path = openbao.put({"API_KEY": "inside-the-namespace"}, namespace=namespace)
    openbao.put({"API_KEY": "outside-any-namespace"}, path)
    assert openbao.manager(path=path, namespace=namespace).get("API_KEY") == "inside-the-namespace"
    assert openbao.manager(path=path).get("API_KEY") == "outside-any-namespace"


def test_a_secret_missing_in_the_namespace_names_it(openbao: BaoServer, namespace: str) -> None:
    path = openbao.put({"API_KEY": "only-in-the-root-namespace"})
    with pytest.raises(SecretNotFoundError) as raised:
        openbao.manager(path=path, namespace=namespace).get("API_KEY")
    assert repr(namespace) in str(raised.value) and "no secret at" in str(raised.value)


def test_approle_login_inside_a_namespace(openbao: BaoServer, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = openbao.client(namespace=namespace)
    admin.sys.enable_auth_method("approle")
    path = openbao.put({"API_KEY": "namespaced-approle"}, namespace=namespace)
    admin.sys.create_or_update_policy("reader", f'path "secret/data/{path}" {{ capabilities = ["read"] }}')
    admin.auth.approle.create_or_update_approle("ci", token_policies=["reader"])
    monkeypatch.setenv("NS_ROLE_ID", admin.auth.approle.read_role_id("ci")["data"]["role_id"])
    monkeypatch.setenv("NS_SECRET_ID", admin.auth.approle.generate_secret_id("ci")["data"]["secret_id"])
    auth = {"method": "approle", "role_id": {"env": "NS_ROLE_ID"}, "secret_id": {"env": "NS_SECRET_ID"}}
    assert openbao.manager(path=path, namespace=namespace, auth=auth).get("API_KEY") == "namespaced-approle"
    with pytest.raises(SecretNotFoundError) as raised:  # the role exists only in the namespace
        openbao.manager(path=path, auth=auth).get("API_KEY")
    # Outside the namespace, approle/ is either not enabled (alone) or another test's mount without this role.
    assert "no auth method for AppRole" in str(raised.value) or "login refused" in str(raised.value)
