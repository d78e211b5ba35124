"""The ``file-system`` catalog: items under ``<catalog_location>/<run_id>/`` on any fsspec file system.

``catalog_location`` is a path (``.catalog``, the default) or any fsspec URL (``file:///data/catalog``,
``memory://catalog``, ``s3://bucket/prefix`` with s3fs installed). An item is written to a temporary name
and moved into place on close, so a crash never leaves a half-written item under its real name.
"""

from __future__ import annotations

import os
import uuid
from functools import cached_property
from typing import IO, Any, ClassVar

from pydantic import Field

from runnable.errors import CatalogError
from runnable.services.catalog import BaseCatalog


class _AtomicFile:
    """A file written under a temporary name and moved into place when closed without error.

    Readers (``list_files`` skips ``.partial`` names) never see an item half written: on the local disk the
    move is an atomic rename; on other file systems (``memory://``) it is the file system's own move.
    """

    def __init__(self, fs: Any, path: str, local: bool) -> None:
        self.fs, self.path, self.local = fs, path, local
        self.temporary = f"{path}.{uuid.uuid4().hex[:8]}.partial"
        self.handle = open(self.temporary, "wb") if local else fs.open(self.temporary, "wb")

    def write(self, data: bytes) -> int:
        return self.handle.write(data)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()
            if self.local:
                os.replace(self.temporary, self.path)
            else:
                self.fs.mv(self.temporary, self.path)

    def __enter__(self) -> _AtomicFile:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.handle.close()
            if self.local:
                os.unlink(self.temporary)
            else:
                self.fs.rm(self.temporary)


class FileSystemCatalog(BaseCatalog):
    service_name: ClassVar[str] = "file-system"

    catalog_location: str = ".catalog"
    storage_options: dict[str, Any] = Field(default_factory=dict)

    @cached_property
    def _fs_and_root(self) -> tuple[Any, str]:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(self.catalog_location, **self.storage_options)
        return fs, root.rstrip("/")

    @cached_property
    def _is_local(self) -> bool:
        protocol = self._fs_and_root[0].protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def _path(self, run_id: str, name: str) -> str:
        return f"{self._fs_and_root[1]}/{run_id}/{name}"

    def location(self) -> str:
        return self.catalog_location

    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        fs, _ = self._fs_and_root
        path = self._path(run_id, name)
        parent = path.rsplit("/", 1)[0]
        if self._is_local:
            os.makedirs(parent, exist_ok=True)
        else:
            fs.makedirs(parent, exist_ok=True)
        return _AtomicFile(fs, path, self._is_local)  # type: ignore[return-value]

    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        fs, _ = self._fs_and_root
        try:
            return fs.open(self._path(run_id, name), "rb")
        except FileNotFoundError:
            raise CatalogError(f"catalog: run {run_id!r} has no item {name!r} in {self.catalog_location}") from None

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        fs, root = self._fs_and_root
        base = f"{root}/{run_id}"
        found: set[str] = set()
        for match in fs.glob(f"{base}/{pattern}"):
            if fs.isdir(match):
                found.update(fs.find(match))
            else:
                found.add(match)
        prefix = _strip_protocol(fs, base) + "/"
        return sorted(
            name[len(prefix) :] for name in (_strip_protocol(fs, f) for f in found) if not name.endswith(".partial")
        )


def _strip_protocol(fs: Any, path: str) -> str:
    return fs._strip_protocol(path)
