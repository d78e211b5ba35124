"""The ``file-system`` run log store: one JSON file per run, plus a journal while the run is going.

``<log_folder>/<run_id>.json`` is always a complete, valid run log: it is written to a temporary file and
renamed into place. While a run is going, each step record and parameter update is appended as one line to
``<run_id>.journal`` instead of rewriting the JSON, which keeps the cost of a step independent of how many
steps ran before it. Readers replay the journal over the JSON (a torn last line, left by a crash, is
ignored); when the run ends the journal is folded into the JSON and removed.

One process writes a run at a time; for parallel branches in separate processes use a store whose
``supports_concurrent_writers`` is true.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, ClassVar

from pydantic import PrivateAttr

from runnable.errors import RunLogNotFoundError, RunnableError
from runnable.models.parameters import Parameter
from runnable.models.run_log import FAIL, SUCCESS, RunLog, StepLog
from runnable.services.run_log_store import BaseRunLogStore


def write_atomically(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old content or the new, never a mix.

    ``durable`` also survives a power cut (fsync); records the engine rewrites soon after skip it.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class FileSystemRunLogStore(BaseRunLogStore):
    service_name: ClassVar[str] = "file-system"

    log_folder: str = ".run_log_store"

    _journals: dict[str, IO[str]] = PrivateAttr(default_factory=dict)

    def _json(self, run_id: str) -> Path:
        return Path(self.log_folder) / f"{run_id}.json"

    def _journal_path(self, run_id: str) -> Path:
        return Path(self.log_folder) / f"{run_id}.journal"

    def create_run_log(self, run_log: RunLog) -> None:
        path = self._json(run_log.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise RunnableError(
                f"run log store: a run with id {run_log.run_id!r} already exists in {self.log_folder}",
                hint="pick another --run-id, or leave it out to get a fresh one",
            )
        write_atomically(path, run_log.model_dump_json(indent=2))

    def _append(self, run_id: str, record: str) -> None:
        journal = self._journals.get(run_id)
        if journal is None:
            journal = self._journals[run_id] = open(self._journal_path(run_id), "a", encoding="utf-8")
        journal.write(record + "\n")
        journal.flush()

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._append(run_id, '{"step":' + step_log.model_dump_json() + "}")

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        if parameters:
            body = ",".join(f"{json.dumps(k)}:{p.model_dump_json()}" for k, p in parameters.items())
            self._append(run_id, '{"parameters":{' + body + "}}")

    def get_run_log(self, run_id: str) -> RunLog:
        # The journal is read *before* the JSON: if the run finishes in between, the JSON read is the final
        # record, which already holds everything the journal said; the other way round, a finish between the
        # two reads would leave the initial JSON with its journal already deleted.
        try:
            journal = self._journal_path(run_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            journal = ""
        try:
            run_log = RunLog.model_validate_json(self._json(run_id).read_bytes())
        except FileNotFoundError:
            raise RunLogNotFoundError(
                f"no run log for run id {run_id!r} in {self.log_folder}",
                hint="`runnable runs list` shows the runs this store holds",
            ) from None
        if journal and run_log.status not in (SUCCESS, FAIL):
            _replay(run_log, journal)
        return run_log

    def finish_run_log(self, run_log: RunLog) -> None:
        journal = self._journals.pop(run_log.run_id, None)
        if journal is not None:
            journal.close()
        write_atomically(self._json(run_log.run_id), run_log.model_dump_json(indent=2))
        self._journal_path(run_log.run_id).unlink(missing_ok=True)

    def list_run_ids(self) -> list[str]:
        folder = Path(self.log_folder)
        if not folder.is_dir():
            return []
        runs = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.stem for p in runs if not p.name.startswith(".")]


def _replay(run_log: RunLog, journal: str) -> None:
    from pydantic import TypeAdapter

    parameter = TypeAdapter(Parameter)
    for line in journal.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break  # a torn last line: the writer died mid-append; everything before it is whole
        if "step" in record:
            run_log.put_step(StepLog.model_validate(record["step"]))
        elif "parameters" in record:
            for name, value in record["parameters"].items():
                run_log.parameters[name] = parameter.validate_python(value)
