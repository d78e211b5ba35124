"""The ``aws-secrets-manager`` secrets manager: values a task asks for, read from AWS Secrets Manager.

A task asks for a secret by name; that name is also the environment variable the task sees. Three ways to name
a secret:

* ``api-token`` is the secret ``<prefix>api-token``, its whole string value;
* ``db#password`` is the key ``password`` of the JSON secret ``<prefix>db`` (``#`` cannot occur in a secret
  name, so it is never ambiguous);
* ``aliases`` in the configuration map a name to either form, so a task can ask for ``DB_PASSWORD`` (a name a
  shell can use) and get ``prod/db#password``.

Values are fetched when a task starts, one ``GetSecretValue`` per name, and handed to nothing but the task's
environment; no error message carries a value.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr
from runnable.errors import RunnableError, SecretNotFoundError
from runnable.services.secrets import BaseSecretsManager

from runnable_aws._clients import AwsSettings, PerProcess, aws_errors

KEY_SEPARATOR = "#"


class _NoSecretBodies(logging.Filter):
    """Drops botocore's DEBUG record of a response body carrying a secret value.

    botocore logs every response body at DEBUG (``botocore.parsers``), so ``--log-level DEBUG`` would print the
    values of ``GetSecretValue`` answers. Only those records are dropped; every other debug record stays.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Response body"):
            return True
        body = repr(record.args)
        return "SecretString" not in body and "SecretBinary" not in body


_FILTER = _NoSecretBodies()


class AwsSecretsManager(AwsSettings, BaseSecretsManager):
    """Configuration keys: ``prefix``, ``aliases``, and the connection settings of :class:`AwsSettings`."""

    service_name: ClassVar[str] = "aws-secrets-manager"

    # Prepended to every secret id: "prod/" makes `db` read `prod/db`.
    prefix: str = ""
    # Name a task asks for -> "<secret id>" or "<secret id>#<json key>" (the prefix still applies).
    aliases: dict[str, str] = Field(default_factory=dict)

    _clients: PerProcess = PrivateAttr(default_factory=PerProcess)

    def get(self, name: str) -> str:
        reference = self.aliases.get(name, name)
        secret, _, key = reference.partition(KEY_SEPARATOR)
        secret_id = f"{self.prefix}{secret}"
        where = f"in {self.endpoint_label('secretsmanager')}" + (f" ({self.region})" if self.region else "")
        value = self._fetch(name, secret_id, where)
        if not key:
            return value
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            raise SecretNotFoundError(
                f"secret {name!r}: secret {secret_id!r} of secrets manager 'aws-secrets-manager' is not a JSON "
                f"object, so it has no key {key!r}",
                hint=f"store it as JSON, or ask for {secret!r} to get the whole value",
            )
        if key not in document:
            raise SecretNotFoundError(
                f"secret {name!r} not found by secrets manager 'aws-secrets-manager': the JSON secret {secret_id!r} "
                f"has no key {key!r} (its keys: {', '.join(sorted(document)) or 'none'})",
                hint="check the key after '#' in the secret's name or alias",
            )
        selected = document[key]
        return selected if isinstance(selected, str) else json.dumps(selected)

    def _fetch(self, name: str, secret_id: str, where: str) -> str:
        logging.getLogger("botocore.parsers").addFilter(_FILTER)  # idempotent: a filter is added once
        client = self._clients.get("secretsmanager", lambda: self.make_client("secretsmanager"))
        with aws_errors(
            RunnableError,
            what=f"secrets manager 'aws-secrets-manager': reading secret {name!r}",
            settings=self,
            service="secretsmanager",
        ):
            try:
                answer: dict[str, Any] = client.get_secret_value(SecretId=secret_id)
            except client.exceptions.ResourceNotFoundException:
                raise SecretNotFoundError(
                    f"secret {name!r} not found by secrets manager 'aws-secrets-manager' (no secret {secret_id!r} "
                    f"{where})",
                    hint="create it (aws secretsmanager create-secret), or check 'prefix', 'aliases' and 'region'",
                ) from None
        if "SecretString" in answer:
            return str(answer["SecretString"])
        return bytes(answer["SecretBinary"]).decode("utf-8")
