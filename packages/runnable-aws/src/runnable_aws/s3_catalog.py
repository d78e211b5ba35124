"""The ``s3`` catalog: a run's items under ``s3://<bucket>/<prefix>/<run_id>/``, streamed through s3fs.

Why a catalog of its own rather than the core's ``file-system`` catalog given an ``s3://`` location (which works,
with s3fs installed):

* S3 publishes an object only when its upload completes, so an item is written straight to its final key: a
  single PUT for a small item, a multipart upload (``part_size_mb`` parts) for a large one. An error while
  writing aborts the upload and nothing appears. The ``file-system`` catalog instead writes a ``.partial``
  object and moves it, which on S3 is a second full copy of every byte plus a delete, and leaves the
  ``.partial`` object behind if the process dies.
* Credentials are ``SecretStr`` settings, masked in the run log; ``storage_options`` of the ``file-system``
  catalog are recorded as written.
* A missing bucket, a wrong endpoint or denied access is a one-line error naming the bucket and endpoint.

Globs mean what they mean for the ``file-system`` catalog: both hand them to fsspec.
The base class streams every file through SHA-256 while copying it: the hash is computed once, on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, ClassVar

from pydantic import Field, PrivateAttr
from runnable.errors import CatalogError
from runnable.services.catalog import BaseCatalog

from runnable_aws._clients import AwsSettings, PerProcess, aws_errors

MIB = 1024 * 1024


class _Upload:
    """An item being written. It appears whole when closed; leaving a ``with`` block on an error aborts it."""

    def __init__(self, handle: Any, errors: Any) -> None:
        self.handle, self._errors = handle, errors

    def write(self, data: bytes) -> int:
        with self._errors():
            return self.handle.write(data)

    def close(self) -> None:
        with self._errors():
            self.handle.close()  # the last part, then the one PUT or CompleteMultipartUpload

    def __enter__(self) -> _Upload:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.close()
        elif not self.handle.closed:
            self.handle.discard()  # AbortMultipartUpload: no object, no parts left billed
            self.handle.closed = True  # so that garbage collection does not try to complete it


class S3Catalog(AwsSettings, BaseCatalog):
    """Configuration keys: ``bucket`` (required), ``prefix``, ``part_size_mb``, and the connection settings."""

    service_name: ClassVar[str] = "s3"

    bucket: str = Field(min_length=3)
    prefix: str = "catalog"
    # Items larger than this are uploaded as a multipart upload in parts of this size (S3's minimum is 5 MiB).
    part_size_mb: int = Field(default=16, ge=5, le=5 * 1024)

    _clients: PerProcess = PrivateAttr(default_factory=PerProcess)

    # --- plumbing ------------------------------------------------------------------------------------------

    @property
    def _fs(self) -> Any:
        return self._clients.get("fs", self._make_fs)

    def _make_fs(self) -> Any:
        import s3fs

        self._check_bucket()
        credentials = self.session_kwargs()
        timeouts = self.client_kwargs()["config"]
        return s3fs.S3FileSystem(
            key=credentials.get("aws_access_key_id"),
            secret=credentials.get("aws_secret_access_key"),
            token=credentials.get("aws_session_token"),
            profile=self.profile,
            endpoint_url=self.endpoint_url,
            client_kwargs={"region_name": self.region} if self.region else {},
            config_kwargs={
                "connect_timeout": timeouts.connect_timeout,
                "read_timeout": timeouts.read_timeout,
                "retries": timeouts.retries,
            },
            default_block_size=self.part_size_mb * MIB,
            # Another process (a later step, a parallel branch) writes items too: always list afresh.
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def _check_bucket(self) -> None:
        """One HEAD per process, so a wrong bucket, endpoint or credential reads as such, not as a missing item."""
        from botocore.exceptions import ClientError

        with aws_errors(CatalogError, what="S3 catalog", settings=self, service="s3", bucket=self.bucket):
            try:
                self.make_client("s3").head_bucket(Bucket=self.bucket)
            except ClientError as failure:
                if failure.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                    raise CatalogError(
                        f"S3 catalog: bucket {self.bucket!r} at {self.endpoint_label('s3')} does not exist",
                        hint="check 'bucket' (and 'endpoint_url'/'region') in the configuration, or create the bucket",
                    ) from None
                raise

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except PermissionError:
            raise CatalogError(
                f"S3 catalog: {what}: access denied to bucket {self.bucket!r} at {self.endpoint_label('s3')}",
                hint="check the credentials and that their IAM policy allows s3:GetObject, s3:PutObject and "
                "s3:ListBucket on this bucket and prefix",
            ) from None

    def _root(self, run_id: str) -> str:
        return "/".join(p.strip("/") for p in (self.bucket, self.prefix, run_id) if p.strip("/"))

    # --- the four primitives -------------------------------------------------------------------------------

    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}".rstrip("/")

    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        what = f"writing item {name!r} of run {run_id!r}"
        with self._errors(what):
            handle = self._fs.open(f"{self._root(run_id)}/{name}", "wb")
        return _Upload(handle, lambda: self._errors(what))  # type: ignore[return-value]

    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        with self._errors(f"reading item {name!r} of run {run_id!r}"):
            try:
                return self._fs.open(f"{self._root(run_id)}/{name}", "rb")
            except FileNotFoundError:
                raise CatalogError(f"catalog: run {run_id!r} has no item {name!r} in {self.location()}") from None

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        root = self._root(run_id)
        found: set[str] = set()
        with self._errors(f"listing {pattern!r} in run {run_id!r}"):
            for path, info in self._fs.glob(f"{root}/{pattern}", detail=True).items():
                if info.get("type") == "directory":
                    found.update(self._fs.find(path))
                else:
                    found.add(path)
        return sorted(path[len(root) + 1 :] for path in found)
