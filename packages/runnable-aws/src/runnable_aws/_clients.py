"""What every AWS service of this package shares: where AWS is, who we are, and how failures read.

Every setting is optional. Left out, boto3 finds it the standard way: ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_SECRETS_MANAGER``), ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``
/ ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, an instance or task role. Credentials
written in the configuration are ``SecretStr``: the run log records them as ``**********``.

Clients are made lazily, once per process: a boto3 client's pooled connections belong to the process that
opened them, and the local executor forks workers for parallel branches.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from runnable.errors import RunnableError

# Error codes AWS answers when the caller may not do what it asked (unknown key, wrong secret, IAM policy).
DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "403",
}
# boto3 client name -> the suffix of its service-specific endpoint variable (AWS_ENDPOINT_URL_<suffix>).
_ENV_SUFFIX = {"s3": "S3", "secretsmanager": "SECRETS_MANAGER"}


class AwsSettings(BaseModel):
    """Connection settings shared by the S3 catalog, the S3 run log store and the Secrets Manager secrets."""

    # An S3- or Secrets-Manager-compatible endpoint (MinIO, LocalStack, a VPC endpoint); AWS itself if unset.
    endpoint_url: str | None = None
    region: str | None = None
    # Explicit credentials; prefer the environment, a profile or a role, and write ${VAR} if you must.
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    profile: str | None = None
    # Fail fast on a wrong endpoint instead of retrying for minutes.
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)

    def endpoint_label(self, service: str) -> str:
        """Where requests go, for error messages."""
        if self.endpoint_url:
            return self.endpoint_url
        variable = f"AWS_ENDPOINT_URL_{_ENV_SUFFIX.get(service, service.upper())}"
        return os.environ.get(variable) or os.environ.get("AWS_ENDPOINT_URL") or f"AWS {service} (default endpoint)"

    def client_kwargs(self, pool: int = 10) -> dict[str, Any]:
        """Keyword arguments of ``boto3.session.Session(...).client`` for these settings (``pool`` connections)."""
        from botocore.config import Config

        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "config": Config(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                max_pool_connections=max(pool, 10),
            ),
        }

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``boto3.session.Session``: only what the configuration sets."""
        secrets = {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
        }
        kwargs: dict[str, Any] = {k: v.get_secret_value() for k, v in secrets.items() if v is not None}
        if self.profile:
            kwargs["profile_name"] = self.profile
        return kwargs

    def make_client(self, service: str, pool: int = 10) -> Any:
        import boto3

        session = boto3.session.Session(**self.session_kwargs())
        return session.client(service, **self.client_kwargs(pool))  # type: ignore[call-overload]


class PerProcess:
    """Objects made at most once per process (and thread-safely), forgotten when forked or pickled."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._made = os.getpid(), {}
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> PerProcess:
        return PerProcess()


@contextmanager
def aws_errors(
    error: type[RunnableError], *, what: str, settings: AwsSettings, service: str, bucket: str = ""
) -> Iterator[None]:
    """Turn the failures a configuration can cause into one-line ``error``s naming the endpoint and bucket.

    ``what`` says what was being done (``"S3 catalog: writing run r1 item data.csv"``). Failures that are not
    the configuration's fault (a missing object, a failed precondition) are left to the caller.
    """
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    endpoint = settings.endpoint_label(service)
    place = f"bucket {bucket!r} at {endpoint}" if bucket else endpoint
    try:
        yield
    except ClientError as failure:
        code = str(failure.response.get("Error", {}).get("Code", ""))
        if bucket and code == "NoSuchBucket":
            raise error(
                f"{what}: {place} does not exist",
                hint="check 'bucket' (and 'endpoint_url'/'region') in the configuration, or create the bucket",
            ) from None
        if code in DENIED:
            raise error(
                f"{what}: access denied to {place} ({code})",
                hint="check the credentials (config, AWS_* variables, profile or role) and that their IAM policy "
                "allows this action",
            ) from None
        raise
    except (EndpointConnectionError, ConnectTimeoutError) as failure:
        raise error(
            f"{what}: cannot reach {endpoint} ({type(failure).__name__})",
            hint="check 'endpoint_url' (or AWS_ENDPOINT_URL) and that the server is up and reachable",
        ) from None
    except (NoCredentialsError, PartialCredentialsError) as failure:
        raise error(
            f"{what}: no AWS credentials for {place} ({failure})",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role, or the credentials in the config",
        ) from None
    except NoRegionError:
        raise error(
            f"{what}: no AWS region for {place}",
            hint="set 'region' in the configuration or AWS_DEFAULT_REGION",
        ) from None
