"""The sqlite run log store passes runnable's run log store suite, concurrent writers included."""

from __future__ import annotations

import sqlite3

import pytest
from runnable.testing import RunLogStoreSuite
from runnable_sqlite.store import SQLiteRunLogStore


class TestSQLiteRunLogStore(RunLogStoreSuite):
    """Everything a run log store must do; the class sets supports_concurrent_writers, so the suite also
    has several processes write steps of one run at once."""

    @pytest.fixture
    def run_log_store(self, tmp_path):
        return SQLiteRunLogStore(database=str(tmp_path / "store" / "runs.db"))


def test_the_database_is_plain_sqlite_in_wal_mode(tmp_path):
    """Other tools can read the runs: one row per run, per step and per parameter."""
    from runnable.testing.run_log_store import sample_run, sample_step

    store = SQLiteRunLogStore(database=str(tmp_path / "runs.db"))
    store.create_run_log(sample_run("r1"))
    store.put_step_log("r1", sample_step("train"))
    with sqlite3.connect(tmp_path / "runs.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]
        assert db.execute("SELECT internal_name FROM steps").fetchall() == [("train",)]
