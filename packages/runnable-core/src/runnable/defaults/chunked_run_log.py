"""The ``chunked-fs`` run log store: safe for many writers at once (parallel branches in processes).

Each run is a folder. ``RunLog.json`` holds the run's record as of its creation and, once the run ends, its
complete final record. Every step record and parameter update in between is its own small file, written
under a temporary name and renamed, named so that sorting by name replays them in the order they were
written::

    .run_log_store/<run_id>/RunLog.json
    .run_log_store/<run_id>/StepLog-<time_ns>-<pid>-<internal name>.json
    .run_log_store/<run_id>/Parameters-<time_ns>-<pid>.json

Writers never touch the same file, so no locking is needed. A reader takes the final ``RunLog.json`` as it
is, or replays the chunks over the initial one while the run is going.

* A run id is claimed atomically: ``RunLog.json`` is hard-linked into place, which fails if it exists, so of
  two runs started at once with one id exactly one gets it.
* Chunks are renamed into place but not fsynced (a step's cost stays flat): a power cut can leave an empty
  or partial chunk. A reader skips a chunk it cannot parse, with a warning, and reads the rest.
* The store reads and deletes only files it names itself (``RunLog.json``, ``StepLog-*.json``,
  ``Parameters-*.json``): a catalog sharing the folder keeps its items.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import ClassVar

from pydantic import PrivateAttr, TypeAdapter

from runnable.defaults.file_system_run_log import checked_run_id, create_exclusively, unreadable, write_atomically
from runnable.errors import RunLogNotFoundError
from runnable.models.parameters import Parameter
from runnable.models.run_log import FAIL, SUCCESS, RunLog, StepLog
from runnable.services.run_log_store import BaseRunLogStore

HEADER = "RunLog.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# The names of the chunks this store writes: nothing else in a run's folder is read or deleted.
CHUNK_NAME = re.compile(r"(StepLog|Parameters)-[0-9]{20}-[0-9]{7,}(-[A-Za-z0-9_.-]*)?\.json")
logger = logging.getLogger("runnable")


class ChunkedFileSystemRunLogStore(BaseRunLogStore):
    service_name: ClassVar[str] = "chunked-fs"
    supports_concurrent_writers: ClassVar[bool] = True

    log_folder: str = ".run_log_store"

    # The folder as an absolute path once resolve_paths() fixed it: forked branch workers run in their own
    # working directories (enable_parallel) and must still write where the run's process does.
    _root: Path | None = PrivateAttr(default=None)

    def resolve_paths(self) -> None:
        """Fix ``log_folder`` relative to the current working directory (called before branches fork)."""
        self._root = Path(self.log_folder).absolute()

    def _folder(self, run_id: str) -> Path:
        root = self._root if self._root is not None else Path(self.log_folder)
        return root / checked_run_id(run_id, self.log_folder)

    def _chunk(self, run_id: str, kind: str, label: str, body: str) -> None:
        stamp = f"{time.time_ns():020d}-{os.getpid():07d}"
        name = f"{kind}-{stamp}{'-' + _UNSAFE.sub('_', label)[:120] if label else ''}.json"
        write_atomically(self._folder(run_id) / name, body, durable=False)

    def create_run_log(self, run_log: RunLog) -> None:
        folder = self._folder(run_log.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        create_exclusively(folder / HEADER, run_log.model_dump_json(indent=2), run_log.run_id, self.log_folder)

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._chunk(run_id, "StepLog", step_log.internal_name, step_log.model_dump_json())

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        if parameters:
            body = "{" + ",".join(f"{json.dumps(k)}:{p.model_dump_json()}" for k, p in parameters.items()) + "}"
            self._chunk(run_id, "Parameters", "", body)

    def finish_run_log(self, run_log: RunLog) -> None:
        folder = self._folder(run_log.run_id)
        write_atomically(folder / HEADER, run_log.model_dump_json(indent=2))
        for chunk in folder.iterdir():  # the final record holds everything the chunks said
            if CHUNK_NAME.fullmatch(chunk.name):
                chunk.unlink(missing_ok=True)

    def get_run_log(self, run_id: str) -> RunLog:
        folder = self._folder(run_id)
        # Chunks are read before the header: a run that finishes in between has a final header holding
        # everything, and a chunk deleted under our feet means exactly that.
        try:
            chunks = _read_chunks(folder)
        except (FileNotFoundError, NotADirectoryError):
            chunks = []
        try:
            run_log = RunLog.model_validate_json((folder / HEADER).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            raise RunLogNotFoundError(
                f"no run log for run id {run_id!r} in {self.log_folder}",
                hint="`runnable runs list` shows the runs this store holds",
            ) from None
        except ValueError as error:  # an empty or corrupt header
            raise unreadable(run_id, self.log_folder, error) from None
        if run_log.status not in (SUCCESS, FAIL):
            _replay(run_log, chunks)
        return run_log

    def list_run_ids(self) -> list[str]:
        folder = Path(self.log_folder)
        if not folder.is_dir():
            return []
        found = []
        for run in folder.iterdir():
            try:  # a run removed while we list is simply not listed; no content is read here
                found.append(((run / HEADER).stat().st_mtime, run.name))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return [run_id for _, run_id in sorted(found, reverse=True)]


_PARAMETER = TypeAdapter(Parameter)


def _read_chunks(folder: Path) -> list[tuple[str, bytes]]:
    names = sorted(p.name for p in folder.iterdir() if CHUNK_NAME.fullmatch(p.name))
    chunks = []
    for name in names:
        try:
            chunks.append((name, (folder / name).read_bytes()))
        except FileNotFoundError:  # compacted by a finishing run meanwhile: its final header holds it
            continue
    return chunks


def _replay(run_log: RunLog, chunks: list[tuple[str, bytes]]) -> None:
    for name, text in chunks:
        try:
            if name.startswith("StepLog-"):
                run_log.put_step(StepLog.model_validate_json(text))
            else:
                values = {key: _PARAMETER.validate_python(value) for key, value in json.loads(text).items()}
                run_log.parameters.update(values)
        except (ValueError, TypeError, AttributeError) as error:
            # An empty or partial chunk (a power cut before the bytes reached the disk): skip that one record.
            logger.warning("run log %s: skipped the unreadable record %s (%s)", run_log.run_id, name, error)
