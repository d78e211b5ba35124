"""The ``file-system`` catalog: items under ``<catalog_location>/<run_id>/`` on any fsspec file system.

``catalog_location`` is a path (``.catalog``, the default) or any fsspec URL (``file:///data/catalog``,
``memory://catalog``, ``s3://bucket/prefix`` with s3fs installed). An item is written under a temporary name in
``<catalog_location>/.runnable-partial/`` (outside every run, so never listed) and moved into place on close,
so a crash never leaves a half-written item under its real name and concurrent writers of one name each
replace it whole. Names and globs follow :mod:`runnable.services.globs`.
"""

from __future__ import annotations

import os
import uuid
from functools import cached_property
from typing import IO, Any, ClassVar

from pydantic import Field

from runnable.errors import CatalogError
from runnable.services import globs
from runnable.services.catalog import BaseCatalog

# Where items are written before they are moved into place: beside the runs, never inside one.
PARTIAL = ".runnable-partial"


class _AtomicFile:
    """A file written under a temporary name and moved into place when closed without error.

    Readers never see an item half written: the temporary file lives outside every run's folder; on the local
    disk the move is an atomic rename, on other file systems it is the file system's own move.
    """

    def __init__(self, fs: Any, path: str, temporary: str, local: bool) -> None:
        self.fs, self.path, self.local = fs, path, local
        self.temporary = temporary
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
            elif self.fs.exists(self.temporary):
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

    def _run_folder(self, run_id: str) -> str:
        if not run_id or run_id in (".", "..", PARTIAL) or "/" in run_id or "\\" in run_id or "\x00" in run_id:
            raise CatalogError(
                f"catalog: {run_id!r} is not a usable run id for {self.catalog_location}",
                hint="a run id is one name: no '/', not '.' or '..'",
            )
        return f"{self._fs_and_root[1]}/{run_id}"

    def _path(self, run_id: str, name: str) -> str:
        return f"{self._run_folder(run_id)}/{globs.check_name(name)}"

    def location(self) -> str:
        return self.catalog_location

    def visible_across_processes(self) -> bool:
        protocol = self._fs_and_root[0].protocol
        return "memory" not in (protocol if isinstance(protocol, tuple) else (protocol,))

    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        fs, root = self._fs_and_root
        path = self._path(run_id, name)
        parent = path.rsplit("/", 1)[0]
        temporary = f"{root}/{PARTIAL}/{uuid.uuid4().hex}.partial"
        for folder in (parent, f"{root}/{PARTIAL}"):
            if self._is_local:
                os.makedirs(folder, exist_ok=True)
            else:
                fs.makedirs(folder, exist_ok=True)
        return _AtomicFile(fs, path, temporary, self._is_local)  # type: ignore[return-value]

    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        fs, _ = self._fs_and_root
        try:
            return fs.open(self._path(run_id, name), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise CatalogError(f"catalog: run {run_id!r} has no item {name!r} in {self.catalog_location}") from None

    def list_files(self, run_id: str, pattern: str) -> list[str]:
        fs, _ = self._fs_and_root
        base = self._run_folder(run_id)
        below = globs.literal_prefix(pattern)
        start = f"{base}/{below}" if below else base
        if not fs.isdir(start):
            return []
        prefix = _strip_protocol(fs, base) + "/"
        names = (_strip_protocol(fs, found) for found in fs.find(start))
        return globs.select(pattern, (name[len(prefix) :] for name in names if name.startswith(prefix)))


def _strip_protocol(fs: Any, path: str) -> str:
    return fs._strip_protocol(path)
