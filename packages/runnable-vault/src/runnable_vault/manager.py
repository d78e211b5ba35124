"""The ``vault`` secrets manager: KV version 2 secrets from HashiCorp Vault or OpenBao, through hvac.

One instance serves one run (runnable builds the services afresh for every run, and every step process of an
orchestrated run builds its own). It logs in on the first look-up, reads each secret (a path and version)
once and keeps the values in memory for the rest of the run only: nothing is written anywhere.

During a long run the token may approach the end of its TTL. Before each read the manager renews it when it
is renewable, or logs in again (AppRole and Kubernetes make a new token; token auth reads its source again,
which picks up a token Vault Agent rotated). A read refused with "permission denied" is retried once after
a fresh login, in case the token was revoked or expired early; refused again, it is a real policy denial.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, Field, PrivateAttr
from runnable.errors import ConfigurationError, SecretNotFoundError
from runnable.services.secrets import BaseSecretsManager

from runnable_vault.auth import AppRoleAuth, KubernetesAuth, Lease, TokenAuth
from runnable_vault.errors import server_errors
from runnable_vault.names import SecretRef, parse

if TYPE_CHECKING:
    import hvac

logger = logging.getLogger(__name__)


class VaultSecrets(BaseSecretsManager):
    """Secrets from a KV version 2 mount of Vault or OpenBao; see the package README for every setting."""

    service_name: ClassVar[str] = "vault"
    model_config = ConfigDict(hide_input_in_errors=True)

    url: str = Field(min_length=1, description="the server, e.g. https://vault.example.com:8200")
    mount: str = Field(default="secret", min_length=1, description="where the KV v2 engine is mounted")
    path: str = Field(default="", description="the secret whose keys plain names read, e.g. ml/prod")
    auth: TokenAuth | AppRoleAuth | KubernetesAuth = Field(default_factory=TokenAuth, discriminator="method")
    namespace: str = Field(default="", description="Vault Enterprise / OpenBao namespace, e.g. team-a")
    verify: bool | str = Field(default=True, description="true, false (warned about) or a CA bundle file")
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    aliases: dict[str, str] = Field(default_factory=dict, description="name -> 'sub/path#key@version'")

    _client: hvac.Client | None = PrivateAttr(default=None)
    _lease: Lease | None = PrivateAttr(default=None)
    _read: dict[tuple[str, int | None], dict[str, Any]] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def get(self, name: str) -> str:
        ref = parse(name, self.aliases.get(name, name), self.path)
        with self._lock:
            data = self._read.get((ref.path, ref.version))
            if data is None:
                data = self._read[(ref.path, ref.version)] = self._read_secret(name, ref)
        if ref.key not in data:
            known = ", ".join(sorted(data)) or "none"
            raise SecretNotFoundError(
                f"secret {name!r} not found by secrets manager 'vault': "
                f"no key {ref.key!r} in {ref.where(self.mount)} (its keys: {known})",
                hint=f"add the key to the secret, or name one of its keys (bao kv get {self.mount}/{ref.path})",
            )
        value = data[ref.key]
        return value if isinstance(value, str) else json.dumps(value)  # KV values may be any JSON

    # --- reading ------------------------------------------------------------------------------------------

    def _read_secret(self, name: str, ref: SecretRef) -> dict[str, Any]:
        """The data of one version of one secret, logging in, renewing or logging in again as needed."""
        import hvac.exceptions

        with server_errors(name, self.url, f"read {ref.where(self.mount)}"):
            for attempt in (1, 2):
                client = self._session(name, fresh=attempt == 2)
                try:
                    response = client.secrets.kv.v2.read_secret_version(
                        path=ref.path, version=ref.version, mount_point=self.mount, raise_on_deleted_version=True
                    )
                except hvac.exceptions.InvalidPath:
                    raise SecretNotFoundError(
                        f"secret {name!r} not found by secrets manager 'vault': no secret at {self._place(ref)}",
                        hint=f"write it (bao kv put {self.mount}/{ref.path} ...) or fix config.path / the name",
                    ) from None
                except hvac.exceptions.Forbidden:
                    if attempt == 1:
                        continue  # perhaps the token expired or was revoked: log in again and retry once
                    raise SecretNotFoundError(
                        f"secret {name!r}: secrets manager 'vault': permission denied reading "
                        f"{self._place(ref)} with {self.auth.describe()}",
                        hint=f'grant the token\'s policy: path "{self.mount}/data/{ref.path}" '
                        '{ capabilities = ["read"] }',
                    ) from None
                return dict(response["data"]["data"] or {})
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _place(self, ref: SecretRef) -> str:
        where = ref.where(self.mount)
        return f"{where} in namespace {self.namespace!r}" if self.namespace else where

    # --- the client and its token -------------------------------------------------------------------------

    def _session(self, name: str, *, fresh: bool = False) -> hvac.Client:
        """A client holding a valid token: the first login, a renewal when due, or a new login."""
        if self._client is None:
            self._client = self._new_client()
            fresh = True
        if not fresh and self._lease is not None and self._lease.due():
            fresh = not (self._lease.renewable and self._renew(self._client))
        if fresh:
            self._lease = self._login(name, self._client)
        return self._client

    def _renew(self, client: hvac.Client) -> bool:
        """Extend the token's TTL; ``False`` when the server refuses (past its max TTL, revoked): log in again."""
        import hvac.exceptions

        try:
            self._lease = Lease.from_auth(client.auth.token.renew_self())
        except hvac.exceptions.VaultError:
            return False
        logger.debug("secrets manager 'vault': token renewed for %.0f s", self._lease.ttl)
        return True

    def _login(self, name: str, client: hvac.Client) -> Lease:
        import hvac.exceptions

        with server_errors(name, self.url, f"log in with {self.auth.describe()}"):
            try:
                return self.auth.login(client)
            except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest, hvac.exceptions.Unauthorized) as error:
                why = "permission denied" if isinstance(error, hvac.exceptions.Forbidden) else "invalid credentials"
                raise SecretNotFoundError(
                    f"secret {name!r}: secrets manager 'vault' at {self.url}: login refused ({why}) "
                    f"with {self.auth.describe()}" + (f" in namespace {self.namespace!r}" if self.namespace else ""),
                    hint="check the credential is valid and not expired, and the auth method's role",
                ) from None
            except hvac.exceptions.InvalidPath:
                raise SecretNotFoundError(
                    f"secret {name!r}: secrets manager 'vault' at {self.url}: no auth method for "
                    f"{self.auth.describe()}",
                    hint="enable the auth method, or set auth.mount_point to where it is mounted",
                ) from None

    def _new_client(self) -> hvac.Client:
        import hvac

        verify = self.verify
        if verify is False:
            logger.warning(
                "secrets manager 'vault': TLS verification is off (verify: false); anyone on the network "
                "path to %s can read the secrets. Set verify to the server's CA bundle instead.",
                self.url,
            )
        elif isinstance(verify, str):
            import os

            if not os.path.isfile(verify):
                raise ConfigurationError(
                    f"secrets manager 'vault': config.verify: CA bundle {verify!r} does not exist",
                    hint="point verify at the PEM file of the CA that signed the server's certificate",
                )
        return hvac.Client(url=self.url, namespace=self.namespace or None, verify=verify, timeout=self.timeout)
