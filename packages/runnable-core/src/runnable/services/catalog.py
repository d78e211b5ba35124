"""Catalogs: the store of files (and pickled objects) that steps and runs exchange.

Backends implement four primitives on paths relative to a run (:meth:`open_write`, :meth:`open_read`,
:meth:`list_files`, :meth:`location`); the base class builds glob matching, streaming copies and SHA-256
hashing on top, so every backend hashes the same way and a conformance test can hold them to it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, ClassVar

from runnable.errors import CatalogError
from runnable.models.run_log import DataCatalog
from runnable.services import globs
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
    """Files under ``folder`` that the glob selects, by the rules of :mod:`runnable.services.globs`."""
    return globs.select(pattern, globs.local_files(folder, globs.literal_prefix(pattern)))


def _write_beside(destination: Path) -> tuple[IO[bytes], Path]:
    """A temporary file next to ``destination``: renamed onto it once whole, so a reader never sees half."""
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial")
    return os.fdopen(handle, "wb"), Path(temporary)


class BaseCatalog(Service):
    """A store of files per run. A backend implements the four primitives; everything else is built on them.

    The contract of each primitive is in its docstring and in ``docs/writing-a-plugin.md``; the conformance
    suite ``runnable.testing.CatalogSuite`` checks it. In short: an item appears whole or not at all, the last
    writer of a name wins (whole), and an instance may be used from several threads and from processes
    forked while it was in use (``enable_parallel`` forks branches), so it holds no handle that a fork would
    share. Names and globs follow :mod:`runnable.services.globs`; the base class checks them before any
    primitive sees them.
    """

    service_kind: ClassVar[str] = "catalog"

    # Folder that ``get``/``put`` globs are relative to, unless a step names its own.
    compute_data_folder: str = "."

    # --- primitives a backend implements ---------------------------------------------------------------

    @abstractmethod
    def open_write(self, run_id: str, name: str) -> IO[bytes]:
        """A writable binary file for the item ``name`` (a checked, ``/``-separated relative name) of a run.

        Atomic: the item appears whole when the file is closed, and not at all (the previous version stays)
        if the ``with`` block raises; it is never listed or readable half written. Several writers of one name
        at once (threads, forked or separate processes) each replace the item whole: the last close wins.
        Writers of different names never lose each other's items. Durable once ``close`` returns, as far as
        the backend's storage promises (say how far in your docs). Errors: :class:`CatalogError` or ``OSError``.
        """

    @abstractmethod
    def open_read(self, run_id: str, name: str) -> IO[bytes]:
        """A readable binary file of the item as last closed; :class:`CatalogError` naming the run and the
        item if it is not there. The bytes are exactly those written, whatever their size."""

    @abstractmethod
    def list_files(self, run_id: str, pattern: str) -> list[str]:
        """Names of the run's whole items that the glob selects, as :func:`runnable.services.globs.select`
        defines it (list the run's names, then ``globs.select(pattern, names)``); ``[]`` when none match.
        Never an item of another run, never an item still being written; a new list on each call."""

    @abstractmethod
    def location(self) -> str:
        """Where the catalog lives, as a URL or path, recorded in every catalog entry. No credential in it."""

    def visible_across_processes(self) -> bool:
        """Whether an item written in one process is visible to others (False for a process's memory).

        ``enable_parallel`` runs branches in forked processes: a catalog whose items stay in one process
        cannot carry files between them. The conformance suite skips its multi-process tests when False.
        """
        return True

    # --- behaviour built on them -----------------------------------------------------------------------

    def put(self, run_id: str, pattern: str, folder: Path, store_copy: bool = True) -> list[DataCatalog]:
        """Copy files the glob selects under ``folder`` into the catalog, hashing each on the way.

        Symbolic links are not followed (see :mod:`runnable.services.globs`); each item is written through
        :meth:`open_write`, so it appears whole; the hash recorded is that of the bytes this call read.
        """
        names = expand_local_glob(pattern, folder)
        if not names:
            raise CatalogError(
                f"catalog put: the glob {pattern!r} matched no file in {str(folder)!r}",
                hint="check the step wrote the file (symbolic links are not followed), "
                "or the compute_data_folder the glob is relative to",
            )
        entries = []
        for name in names:
            path = folder / name
            try:
                with _open_no_follow(path) as source:
                    if store_copy:
                        with self.open_write(run_id, name) as target:
                            digest = copy_hashing(source, target)
                    else:
                        digest = _hash_stream(source)
            except OSError as error:
                raise CatalogError(f"catalog put of {str(path)!r} failed: {_os_reason(error)}") from None
            entries.append(self._entry(run_id, name, digest, "put", store_copy))
        return entries

    def get(self, run_id: str, pattern: str, folder: Path) -> list[DataCatalog]:
        """Copy the items the glob selects from the catalog into ``folder``.

        Each file is written under a temporary name beside its destination and renamed onto it, so a
        parallel reader never sees half a file; a destination that is (or lies below) a symbolic link is
        refused, so nothing is written outside ``folder``.
        """
        globs.check_pattern(pattern)
        names = self.list_files(run_id, pattern)
        if not names:
            raise CatalogError(
                f"catalog get: nothing in the catalog of run {run_id!r} matches {pattern!r}",
                hint="an earlier step must put it (catalog put) before this step can get it",
            )
        destinations = [(name, globs.safe_destination(folder, name)) for name in names]  # refuse before writing
        entries = []
        for name, destination in destinations:
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                globs.safe_destination(folder, name)  # a link made meanwhile is refused too
                target, temporary = _write_beside(destination)
                try:
                    with self.open_read(run_id, name) as source, target:
                        digest = copy_hashing(source, target)
                    os.replace(temporary, destination)
                except BaseException:
                    temporary.unlink(missing_ok=True)
                    raise
            except OSError as error:
                raise CatalogError(f"catalog get into {str(destination)!r} failed: {_os_reason(error)}") from None
            entries.append(self._entry(run_id, name, digest, "get", True))
        return entries

    def put_file(self, run_id: str, name: str, path: Path) -> DataCatalog:
        """Store one local file under an exact name (execution logs, executed notebooks)."""
        name = globs.check_name(name)
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
        name = globs.check_name(name)
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


def _open_no_follow(path: Path) -> IO[bytes]:
    """Open a file for reading, refusing a symbolic link put in its place since the folder was listed."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")


def _hash_stream(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _os_reason(error: OSError) -> str:
    """Why an OS call failed, naming the file it failed on (the catalog's side or the step's)."""
    where = error.filename or ""
    return f"{where}: {error.strerror}" if where and error.strerror else str(error.strerror or error)


def put_clashes(puts_by_branch: Mapping[str, Iterable[DataCatalog]]) -> list[str]:
    """Names that more than one branch put into the catalog with different bytes, one line each.

    A catalog keeps one item per name: when parallel branches put the same name, the last one wins and the
    others' items are silently gone. The engine calls this on the branch records of a parallel or map step
    once its branches are done and fails the step on any clash (or branches give their files distinct names).
    """
    seen: dict[str, tuple[str, str]] = {}
    clashes: dict[str, set[str]] = {}
    for branch, entries in puts_by_branch.items():
        for entry in entries:
            if entry.stage != "put" or not entry.store_copy:
                continue
            first = seen.setdefault(entry.name, (branch, entry.data_hash))
            if first[0] != branch and first[1] != entry.data_hash:
                clashes.setdefault(entry.name, {first[0]}).add(branch)
    return [
        f"catalog item {name!r} was put by parallel branches {', '.join(sorted(branches))} with different bytes"
        for name, branches in sorted(clashes.items())
    ]
