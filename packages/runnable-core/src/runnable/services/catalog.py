"""Catalogs: the store of files (and pickled objects) that steps and runs exchange.

Backends implement four primitives on paths relative to a run (:meth:`open_write`, :meth:`open_read`,
:meth:`list_files`, :meth:`location`); the base class builds glob matching, streaming copies and SHA-256
hashing on top, so every backend hashes the same way and a conformance test can hold them to it.
"""

from __future__ import annotations

import glob as globlib
import hashlib
import os
from abc import abstractmethod
from pathlib import Path
from typing import IO, ClassVar

from runnable.errors import CatalogError
from runnable.models.run_log import DataCatalog
from runnable.services.base import Service

CHUNK = 1024 * 1024


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashing(source: IO[bytes], target: IO[bytes]) -> str:
    """Stream ``source`` into ``target`` and return the SHA-256 of what passed: one read, one hash."""
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def expand_local_glob(pattern: str, folder: Path) -> list[str]:
    """Files under ``folder`` matching ``pattern``; a matched directory contributes every file below it."""
    matches: set[str] = set()
    for match in globlib.glob(pattern, root_dir=folder, recursive=True):
        path = folder / match
        if path.is_dir():
            matches.update(str(p.relative_to(folder)) for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            matches.add(str(Path(match)))
    return sorted(matches)


class BaseCatalog(Service):
    service_kind: ClassVar[str] = "catalog"

    # Folder that ``get``/``put`` globs are relative to, unless a step names its own.
    compute_data_folder: str = "."

    # --- primitives a backend implements ---------------------------------------------------------------

    @abstractmethod
    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        """A binary file to write the item ``name`` of run ``run_id``; the item appears whole on close."""

    @abstractmethod
    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        """The item ``name`` of run ``run_id``, or :class:`CatalogError` if it is not there."""

    @abstractmethod
    def list_files(self, run_id: str, pattern: str) -> list[str]:
        """Names (relative to the run) of items matching the glob ``pattern``; directories expand."""

    @abstractmethod
    def location(self) -> str:
        """Where the catalog lives, as a URL or path, recorded in the run log."""

    # --- behaviour built on them -----------------------------------------------------------------------

    def put(self, run_id: str, pattern: str, folder: Path, store_copy: bool = True) -> list[DataCatalog]:
        """Copy files matching ``pattern`` under ``folder`` into the catalog, hashing them on the way."""
        names = expand_local_glob(pattern, folder)
        if not names:
            raise CatalogError(
                f"catalog put: the glob {pattern!r} matched no file in {str(folder)!r}",
                hint="check the step wrote the file, or the compute_data_folder the glob is relative to",
            )
        entries = []
        for name in names:
            relative = Path(name).as_posix()
            if store_copy:
                with open(folder / name, "rb") as source, self.open_write(run_id, relative) as target:
                    digest = copy_hashing(source, target)
            else:
                digest = sha256_of(folder / name)
            entries.append(self._entry(run_id, relative, digest, "put", store_copy))
        return entries

    def get(self, run_id: str, pattern: str, folder: Path) -> list[DataCatalog]:
        """Copy items matching ``pattern`` from the catalog into ``folder``."""
        names = self.list_files(run_id, pattern)
        if not names:
            raise CatalogError(
                f"catalog get: nothing in the catalog of run {run_id!r} matches {pattern!r}",
                hint="an earlier step must put it (catalog put) before this step can get it",
            )
        entries = []
        for name in names:
            destination = folder / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with self.open_read(run_id, name) as source, open(destination, "wb") as target:
                digest = copy_hashing(source, target)
            entries.append(self._entry(run_id, name, digest, "get", True))
        return entries

    def put_file(self, run_id: str, name: str, path: Path) -> DataCatalog:
        """Store one local file under an exact name (execution logs, executed notebooks)."""
        with open(path, "rb") as source, self.open_write(run_id, name) as target:
            digest = copy_hashing(source, target)
        return self._entry(run_id, name, digest, "put", True)

    def copy_run(self, source_run_id: str, target_run_id: str) -> int:
        """Copy every item of one run into another (a retry starts from the original run's files)."""
        names = self.list_files(source_run_id, "**")
        for name in names:
            with self.open_read(source_run_id, name) as source, self.open_write(target_run_id, name) as target:
                copy_hashing(source, target)
        return len(names)

    def put_bytes(self, run_id: str, name: str, data: bytes) -> DataCatalog:
        """Store ``data`` under an exact name (a step's execution log)."""
        with self.open_write(run_id, name) as target:
            target.write(data)
        return self._entry(run_id, name, hashlib.sha256(data).hexdigest(), "put", True)

    def _entry(self, run_id: str, name: str, digest: str, stage: str, store_copy: bool) -> DataCatalog:
        return DataCatalog(
            name=name,
            data_hash=digest,
            catalog_relative_path=f"{run_id}/{name}",
            catalog_handler_location=self.location(),
            stage=stage,  # type: ignore[arg-type]
            store_copy=store_copy,
        )
