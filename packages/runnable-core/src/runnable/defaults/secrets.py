"""The embedded secrets managers: ``env-secrets`` (the process environment) and ``dotenv`` (a ``.env`` file)."""

from __future__ import annotations

import os
from functools import cached_property
from typing import ClassVar

from runnable.errors import SecretNotFoundError
from runnable.services.secrets import BaseSecretsManager


class EnvSecrets(BaseSecretsManager):
    """Secrets are environment variables of the process that runs the pipeline (CI secrets, k8s env)."""

    service_name: ClassVar[str] = "env-secrets"

    prefix: str = ""
    suffix: str = ""

    def get(self, name: str) -> str:
        key = f"{self.prefix}{name}{self.suffix}"
        try:
            return os.environ[key]
        except KeyError:
            raise SecretNotFoundError(
                f"secret {name!r} not found by secrets manager 'env-secrets' (no environment variable {key!r})",
                hint=f"export {key}=... before running the pipeline",
            ) from None


class DotEnvSecrets(BaseSecretsManager):
    """Secrets read from a dotenv file (``KEY=value`` lines), read once per run."""

    service_name: ClassVar[str] = "dotenv"

    location: str = ".env"

    @cached_property
    def _values(self) -> dict[str, str | None]:
        from dotenv import dotenv_values

        if not os.path.exists(self.location):
            raise SecretNotFoundError(
                f"secrets manager 'dotenv': file {self.location!r} does not exist",
                hint="create it with KEY=value lines, or set 'location' in the secrets config",
            )
        return dict(dotenv_values(self.location))

    def get(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise SecretNotFoundError(
                f"secret {name!r} not found by secrets manager 'dotenv' in {self.location!r}",
                hint=f"add a line {name}=... to {self.location}",
            )
        return value
