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


def _temporary_beside(path: Path, text: str | bytes, durable: bool) -> str:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            if durable:
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def write_atomically(path: Path, text: str | bytes, *, durable: bool = True) -> None:
    """Write ``text`` (bytes: UTF-8 already) to ``path`` so that readers see the old content or the new, never a mix.

    ``durable`` also survives a power cut (fsync); records the engine rewrites soon after skip it.
    """
    temporary = _temporary_beside(path, text, durable)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def create_exclusively(path: Path, text: str, run_id: str, store: str) -> None:
    """Write ``text`` to ``path`` whole and durably, only if ``path`` does not exist: one run claims an id.

    The file is written under a temporary name and hard-linked to its real name: the link fails if the name
    exists, atomically, so of two runs started at the same instant with one id exactly one gets it, and the
    name never holds a partial record.
    """
    temporary = _temporary_beside(path, text, durable=True)
    try:
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: claim the name itself, then fill it
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
    except FileExistsError:
        raise RunnableError(
            f"run log store: a run with id {run_id!r} already exists in {store}",
            hint="pick another --run-id, or leave it out to get a fresh one",
        ) from None
    finally:
        os.unlink(temporary)


def checked_run_id(run_id: str, store: str) -> str:
    """``run_id`` if it is one plain name in the store's folder; a file name must not reach outside it."""
    if not run_id or run_id.startswith(".") or any(c in run_id for c in "/\\\x00"):
        raise RunnableError(
            f"run log store: {run_id!r} is not a usable run id for {store}",
            hint="a run id is one name: no '/' or '\\', not starting with '.'",
        )
    return run_id


def unreadable(run_id: str, store: str, error: Exception) -> RunnableError:
    """The one-line error for a run log that exists but cannot be parsed (a disk fault, a hand edit)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return RunnableError(
        f"run log store: the run log of {run_id!r} in {store} is unreadable ({reason})",
        hint="the other runs are unaffected; restore the file from a backup or remove it",
    )


class _Journal:
    """The open journal of one running run, and the step records this process appended to it (by internal
    name, the very objects): a composite step's record need not repeat the steps of its branches when each of
    them is the object last appended under its name. That relies on the engine's rule of putting a step
    record again after every change to it; a record changed in place and not put again would be read back
    (mid-run, from the journal) as it was last put. The final JSON is written from memory either way."""

    __slots__ = ("file", "written")

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = open(path, "ab")
        self.written: dict[str, StepLog] = {}

    def append(self, line: bytes) -> None:
        self.file.write(line)
        self.file.flush()

    def kept_branch_steps(self, step_log: StepLog) -> dict[str, list[str]] | None:
        """The names of the steps of each branch that has any, when every one of them was appended as it is;
        None when some was not, or no branch has steps yet (a fan-out: nothing to leave out)."""
        written = self.written
        kept: dict[str, list[str]] = {}
        for name, branch in step_log.branches.items():
            if not branch.steps:
                continue
            for key, step in branch.steps.items():
                if written.get(key) is not step:
                    return None
            kept[name] = list(branch.steps)
        return kept or None


# A composite record whose branch steps are in the journal already: its branches without their steps.
_WITHOUT_BRANCH_STEPS = {"branches": {"__all__": {"steps"}}}


class FileSystemRunLogStore(BaseRunLogStore):
    service_name: ClassVar[str] = "file-system"

    log_folder: str = ".run_log_store"

    _journals: dict[str, _Journal] = PrivateAttr(default_factory=dict)

    def _json(self, run_id: str) -> Path:
        return Path(self.log_folder) / f"{checked_run_id(run_id, self.log_folder)}.json"

    def _journal_path(self, run_id: str) -> Path:
        return Path(self.log_folder) / f"{checked_run_id(run_id, self.log_folder)}.journal"

    def create_run_log(self, run_log: RunLog) -> None:
        path = self._json(run_log.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        create_exclusively(path, run_log.model_dump_json(indent=2), run_log.run_id, self.log_folder)

    def _journal(self, run_id: str) -> _Journal:
        # Read from __pydantic_private__ directly: ``self._journals`` goes through pydantic's __getattr__, a
        # microsecond on every record of a 10,000-item map.
        journals: dict[str, _Journal] = self.__pydantic_private__["_journals"]  # type: ignore[index]
        journal = journals.get(run_id)
        if journal is None:
            journal = journals[run_id] = _Journal(self._journal_path(run_id))
        return journal

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        journal = self._journal(run_id)
        serializer = step_log.__pydantic_serializer__
        kept = journal.kept_branch_steps(step_log) if step_log.branches else None
        if kept:
            # A composite step fanned in: its branches' steps are the journal's lines already (replay takes
            # them from there), so the record does not repeat them: a 10,000-item map's record was 13 MB.
            body = serializer.to_json(step_log, exclude=_WITHOUT_BRANCH_STEPS)
            journal.append(b'{"step":' + body + b',"kept":' + json.dumps(kept).encode() + b"}\n")
        else:
            journal.append(b'{"step":' + serializer.to_json(step_log) + b"}\n")
        journal.written[step_log.internal_name] = step_log

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        if parameters:
            body = ",".join(f"{json.dumps(k)}:{p.model_dump_json()}" for k, p in parameters.items())
            self._journal(run_id).append(('{"parameters":{' + body + "}}\n").encode("utf-8"))

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
        except ValueError as error:  # pydantic's ValidationError is one: an empty or corrupt file
            raise unreadable(run_id, self.log_folder, error) from None
        if journal and run_log.status not in (SUCCESS, FAIL):
            _replay(run_log, journal)
        return run_log

    def finish_run_log(self, run_log: RunLog) -> None:
        journal = self._journals.pop(run_log.run_id, None)
        if journal is not None:
            journal.file.close()
        # Bytes straight from the serializer: no str of the whole run decoded and encoded again on the way.
        write_atomically(self._json(run_log.run_id), run_log.__pydantic_serializer__.to_json(run_log, indent=2))
        self._journal_path(run_log.run_id).unlink(missing_ok=True)

    def list_run_ids(self) -> list[str]:
        folder = Path(self.log_folder)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.glob("*.json"):
            try:  # a run removed while we list is simply not listed; its content is never read here
                found.append((path.stat().st_mtime, path.stem))
            except FileNotFoundError:
                continue
        return [run_id for _, run_id in sorted(found, reverse=True) if not run_id.startswith(".")]


def _replay(run_log: RunLog, journal: str) -> None:
    from pydantic import TypeAdapter

    parameter = TypeAdapter(Parameter)
    for line in journal.splitlines():
        try:
            record = json.loads(line)
            if "step" in record:
                step = StepLog.model_validate(record["step"])
                if "kept" in record:
                    _keep_branch_steps(run_log, step, record["kept"])
            elif "parameters" in record:
                values = {name: parameter.validate_python(value) for name, value in record["parameters"].items()}
        except (ValueError, TypeError, AttributeError):
            # A torn last line (the writer died mid-append, or a power cut left zeros): everything before it is
            # whole, and nothing can follow it, since a run's writer is gone once its journal is torn.
            break
        if "step" in record:
            run_log.put_step(step)
        elif "parameters" in record:
            run_log.parameters.update(values)


def _keep_branch_steps(run_log: RunLog, step: StepLog, kept: dict[str, list[str]]) -> None:
    """A composite record written without its branches' steps: they are those replayed so far."""
    previous = run_log.find_step(step.internal_name)
    for name, keys in kept.items():
        branch = step.branches.get(name)
        earlier = previous.branches.get(name) if previous is not None else None
        if branch is None or earlier is None:
            continue
        branch.steps = {key: earlier.steps[key] for key in keys if key in earlier.steps}
