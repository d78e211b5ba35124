"""How the manager logs in: ``token``, ``approle`` or ``kubernetes``, chosen by ``auth.method``.

Credentials are never written in the configuration (it is recorded in every run log and often committed):
the configuration says where each one comes from, ``{env: VARIABLE}`` or ``{file: PATH}``, and the value is
read only when the manager logs in. Every method returns a :class:`Lease` saying how long the token lasts,
so the manager knows when to renew it or log in again during a long run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from runnable.errors import ConfigurationError

if TYPE_CHECKING:
    import hvac

KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class _Model(BaseModel):
    # hide_input_in_errors: a credential written inline must not be echoed back by a validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Source(_Model):
    """Where one credential comes from: an environment variable or a file (exactly one of them)."""

    env: str = ""
    file: str = ""

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "a credential is never written in the configuration; "
                "say where it comes from: {env: VARIABLE} or {file: PATH}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if bool(self.env) == bool(self.file):
            raise ValueError("give exactly one of 'env' (a variable name) or 'file' (a path)")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self, what: str) -> str:
        """The credential, stripped of surrounding whitespace; a missing or empty one is a one-line error."""
        where = f"secrets manager 'vault': {what} from {self.describe()}"
        if self.env:
            value = os.environ.get(self.env, "").strip()
            fix = f"export {self.env}=... in the environment the step runs in"
        else:
            try:
                value = Path(self.file).read_text().strip()
            except OSError as error:
                raise ConfigurationError(
                    f"{where}: cannot read it ({error.strerror or type(error).__name__})",
                    hint="check the path in the secrets config and that the file is mounted where the step runs",
                ) from None
            fix = f"write the credential into {self.file}"
        if not value:
            raise ConfigurationError(f"{where}: it is not set or empty", hint=fix)
        return value


@dataclass
class Lease:
    """How long the client's token lasts: ``ttl`` seconds from ``obtained`` (0: it never expires)."""

    ttl: float
    renewable: bool
    obtained: float = field(default_factory=time.monotonic)

    # Renew (or log in again) once this share of the TTL has passed, well before the token expires.
    RENEW_AFTER: ClassVar[float] = 2 / 3

    def due(self) -> bool:
        return self.ttl > 0 and time.monotonic() - self.obtained >= self.ttl * self.RENEW_AFTER

    @classmethod
    def from_auth(cls, response: dict[str, Any]) -> Lease:
        """From a login or renew response (``auth.lease_duration``, ``auth.renewable``)."""
        auth = response.get("auth") or {}
        return cls(ttl=float(auth.get("lease_duration") or 0), renewable=bool(auth.get("renewable")))


class TokenAuth(_Model):
    """A token made elsewhere (``bao login``, a CI secret, Vault Agent's sink file). Re-read on every login."""

    method: Literal["token"] = "token"
    token: Source = Source(env="VAULT_TOKEN")

    def login(self, client: hvac.Client) -> Lease:
        client.token = self.token.read("auth.token")
        # The token is used as it is: looking it up proves it valid and tells its TTL and whether it renews.
        data = client.auth.token.lookup_self()["data"]
        return Lease(ttl=float(data.get("ttl") or 0), renewable=bool(data.get("renewable")))

    def describe(self) -> str:
        return f"a token from {self.token.describe()}"


class AppRoleAuth(_Model):
    """AppRole: a role id and a secret id, exchanged for a token at ``auth/<mount_point>/login``."""

    method: Literal["approle"]
    role_id: Source
    secret_id: Source
    mount_point: str = "approle"

    def login(self, client: hvac.Client) -> Lease:
        response = client.auth.approle.login(
            role_id=self.role_id.read("auth.role_id"),
            secret_id=self.secret_id.read("auth.secret_id"),
            mount_point=self.mount_point,
        )
        return Lease.from_auth(response)

    def describe(self) -> str:
        return f"AppRole at auth/{self.mount_point}"


class KubernetesAuth(_Model):
    """Kubernetes: the pod's service account token, exchanged for a token of ``role`` at ``auth/<mount_point>``.

    The file is read at every login: kubelet rotates projected service account tokens.
    """

    method: Literal["kubernetes"]
    role: str = Field(min_length=1)
    token_file: str = KUBERNETES_TOKEN_FILE
    mount_point: str = "kubernetes"

    def login(self, client: hvac.Client) -> Lease:
        jwt = Source(file=self.token_file).read("auth.token_file (service account token)")
        response = client.auth.kubernetes.login(role=self.role, jwt=jwt, mount_point=self.mount_point)
        return Lease.from_auth(response)

    def describe(self) -> str:
        return f"Kubernetes role {self.role!r} at auth/{self.mount_point}"
