"""AWS Secrets Manager secrets against a real Secrets Manager API (moto's server): the suite, JSON keys, aliases."""

from __future__ import annotations

import json

import pytest
from aws_server import Aws
from runnable.errors import SecretNotFoundError
from runnable.testing import SecretsManagerSuite
from runnable_aws.secrets_manager import AwsSecretsManager

# Distinctive values (the suite searches everything persisted and printed for them).
API_TOKEN = "tok-8d9f7a-canary"
DB = {"user": "svc-runnable", "password": "p@ss w0rd=7c1e"}


@pytest.fixture
def stored(aws: Aws) -> Aws:
    client = aws.client("secretsmanager")
    client.create_secret(Name="prod/API_TOKEN", SecretString=API_TOKEN)
    client.create_secret(Name="prod/db", SecretString=json.dumps(DB))
    return aws


class TestAwsSecretsManager(SecretsManagerSuite):
    @pytest.fixture
    def secrets_manager(self, stored: Aws) -> AwsSecretsManager:
        # DB_PASSWORD reads a key of a JSON secret; API_TOKEN is a whole string secret.
        return AwsSecretsManager(endpoint_url=stored.endpoint, prefix="prod/", aliases={"DB_PASSWORD": "db#password"})

    @pytest.fixture
    def known_secrets(self) -> dict[str, str]:
        return {"API_TOKEN": API_TOKEN, "DB_PASSWORD": DB["password"]}


def test_a_key_of_a_json_secret_is_selected_with_a_hash(stored: Aws) -> None:
    manager = AwsSecretsManager(endpoint_url=stored.endpoint, prefix="prod/")
    assert manager.get("db#user") == "svc-runnable"
    assert json.loads(manager.get("db")) == DB, "without '#' the whole JSON string is the value"


def test_a_missing_json_key_names_the_secret_and_lists_keys_not_values(stored: Aws) -> None:
    manager = AwsSecretsManager(endpoint_url=stored.endpoint, prefix="prod/")
    with pytest.raises(SecretNotFoundError) as raised:
        manager.get("db#pasword")
    message = str(raised.value)
    assert "'db#pasword'" in message and "'prod/db'" in message and "aws-secrets-manager" in message
    assert "password, user" in message and DB["password"] not in message and "\n" not in message


def test_a_key_of_a_string_secret_is_an_error(stored: Aws) -> None:
    manager = AwsSecretsManager(endpoint_url=stored.endpoint, prefix="prod/")
    with pytest.raises(SecretNotFoundError, match="'prod/API_TOKEN' .* is not a JSON object") as raised:
        manager.get("API_TOKEN#value")
    assert API_TOKEN not in str(raised.value) + raised.value.hint


def test_a_missing_secret_names_the_secret_id_and_the_endpoint(stored: Aws) -> None:
    manager = AwsSecretsManager(endpoint_url=stored.endpoint, prefix="prod/", region="us-east-1")
    with pytest.raises(SecretNotFoundError) as raised:
        manager.get("NOPE")
    assert str(raised.value) == (
        f"secret 'NOPE' not found by secrets manager 'aws-secrets-manager' (no secret 'prod/NOPE' in "
        f"{stored.endpoint} (us-east-1))"
    )
