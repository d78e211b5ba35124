"""The ``sqlite`` run log store: every run in one SQLite database, safe for several writers at once.

A run is three kinds of rows: the run itself (everything but its steps and parameters, as JSON, a job's
record included), one row per step record and one per parameter. Each increment the engine sends (a step,
a parameter update) is one small transaction, so its cost does not grow with the run, and SQLite's locking
lets parallel branches in separate processes write steps of the same run without losing any. The database
runs in WAL mode: readers (``runnable runs show``) see a consistent snapshot and never block writers.

Durability: ``synchronous=NORMAL`` (WAL): a committed increment survives the process crashing; the last
increments may be lost if the machine loses power.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import ClassVar

from pydantic import Field, PrivateAttr, TypeAdapter
from runnable.errors import RunLogNotFoundError, RunnableError
from runnable.models.parameters import Parameter
from runnable.models.run_log import RunLog, StepLog, walk_steps
from runnable.services.run_log_store import BaseRunLogStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order: newest first in listings
    run_id TEXT NOT NULL UNIQUE,
    header TEXT NOT NULL                     -- the run log without steps and parameters, as JSON
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    internal_name TEXT NOT NULL,
    depth INTEGER NOT NULL,                  -- branches nest: a.b.c is depth 1, its parent a is depth 0
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, internal_name)
);
CREATE TABLE IF NOT EXISTS parameters (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""
# An upsert keeps the row's rowid, so a step (or parameter) keeps its place when it is written again.
PUT_STEP = """
INSERT INTO steps (run_id, internal_name, depth, record) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, internal_name) DO UPDATE SET record = excluded.record
"""
PUT_PARAMETER = """
INSERT INTO parameters (run_id, name, record) VALUES (?, ?, ?)
ON CONFLICT (run_id, name) DO UPDATE SET record = excluded.record
"""
_PARAMETER = TypeAdapter(Parameter)


class SQLiteRunLogStore(BaseRunLogStore):
    """Configuration keys are the fields below (``run-log-store.config`` in the configuration file)."""

    service_name: ClassVar[str] = "sqlite"
    supports_concurrent_writers: ClassVar[bool] = True

    # The database file; created (with its folder) on first use.
    database: str = ".runnable/runs.db"
    # Seconds a writer waits for another writer's transaction before giving up.
    timeout: float = Field(default=30.0, gt=0)

    _ready: bool = PrivateAttr(default=False)

    # --- connections ----------------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection per call: cheap for SQLite, and safe across threads and forked processes."""
        if not self._ready:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.database, timeout=self.timeout, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
            if not self._ready:
                db.execute("PRAGMA journal_mode = WAL")  # persistent: set once per database file
                db.executescript(SCHEMA)
                self._ready = True
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taking the lock up front, so concurrent writers queue instead of deadlocking."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _not_found(self, run_id: str) -> RunLogNotFoundError:
        return RunLogNotFoundError(
            f"no run log for run id {run_id!r} in {self.database}",
            hint="`runnable runs list` shows the runs this store holds",
        )

    # --- BaseRunLogStore --------------------------------------------------------------------------------------

    def create_run_log(self, run_log: RunLog) -> None:
        try:
            with self._write() as db:
                db.execute("INSERT INTO runs (run_id, header) VALUES (?, ?)", (run_log.run_id, _header(run_log)))
                _put_parameters(db, run_log.run_id, run_log.parameters)
                _put_steps(db, run_log.run_id, walk_steps(run_log.steps))
        except sqlite3.IntegrityError:
            raise RunnableError(
                f"run log store: a run with id {run_log.run_id!r} already exists in {self.database}",
                hint="pick another --run-id, or leave it out to get a fresh one",
            ) from None

    def get_run_log(self, run_id: str) -> RunLog:
        with self._connect() as db:
            db.execute("BEGIN")  # one snapshot for the three reads: a whole record even while others write
            found = db.execute("SELECT header FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            parameters = db.execute("SELECT name, record FROM parameters WHERE run_id = ? ORDER BY rowid", (run_id,))
            parameter_rows = parameters.fetchall()
            steps = db.execute("SELECT record FROM steps WHERE run_id = ? ORDER BY depth, rowid", (run_id,))
            step_rows = steps.fetchall()
            db.execute("COMMIT")
        if found is None:
            raise self._not_found(run_id)
        run_log = RunLog.model_validate_json(found[0])
        run_log.parameters = {name: _PARAMETER.validate_json(record) for name, record in parameter_rows}
        for (record,) in step_rows:  # parents (shallower) first, each level in the order it was first written
            run_log.put_step(StepLog.model_validate_json(record))
        return run_log

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        try:
            with self._write() as db:
                _put_steps(db, run_id, [step_log])
        except sqlite3.IntegrityError:
            raise self._not_found(run_id) from None

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        try:
            with self._write() as db:
                _put_parameters(db, run_id, parameters)
        except sqlite3.IntegrityError:
            raise self._not_found(run_id) from None

    def finish_run_log(self, run_log: RunLog) -> None:
        """The final record: its header replaces the run's, its steps and parameters are upserted (steps
        other processes wrote, which this record may not hold, are kept)."""
        with self._write() as db:
            updated = db.execute("UPDATE runs SET header = ? WHERE run_id = ?", (_header(run_log), run_log.run_id))
            if updated.rowcount == 0:
                raise self._not_found(run_log.run_id)
            _put_parameters(db, run_log.run_id, run_log.parameters)
            _put_steps(db, run_log.run_id, walk_steps(run_log.steps))

    def list_run_ids(self) -> list[str]:
        with self._connect() as db:
            return [run_id for (run_id,) in db.execute("SELECT run_id FROM runs ORDER BY seq DESC")]


def _header(run_log: RunLog) -> str:
    """Everything but steps and parameters, which have rows of their own; a job's single record
    (``run_log.job``) stays here, so it is stored once and read back as the job, never as a step."""
    return run_log.model_dump_json(exclude={"steps", "parameters"})


def _put_steps(db: sqlite3.Connection, run_id: str, steps: Iterator[StepLog] | list[StepLog]) -> None:
    db.executemany(
        PUT_STEP,
        [(run_id, step.internal_name, step.internal_name.count(".") // 2, step.model_dump_json()) for step in steps],
    )


def _put_parameters(db: sqlite3.Connection, run_id: str, parameters: dict[str, Parameter]) -> None:
    db.executemany(
        PUT_PARAMETER,
        [(run_id, name, _PARAMETER.dump_json(value).decode()) for name, value in parameters.items()],
    )
