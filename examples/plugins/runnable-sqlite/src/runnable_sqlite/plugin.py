"""The module the ``runnable`` entry point names: one ``@hookimpl`` per kind of implementation contributed.

It stays cheap to import (runnable loads every installed plugin to list them): the implementation
modules are imported inside the hooks, only when runnable asks for the classes.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_run_log_stores() -> list[type]:
    from runnable_sqlite.store import SQLiteRunLogStore

    return [SQLiteRunLogStore]


@hookimpl
def register_pipeline_executors() -> list[type]:
    from runnable_sqlite.bash_script import BashScriptExecutor

    return [BashScriptExecutor]
