"""The module the ``runnable`` entry point names: one ``@hookimpl`` per kind of implementation contributed.

It stays cheap to import (runnable loads every installed plugin in every process): each hook maps the
``type:`` names to the import paths of their classes, imported only when a configuration chooses them.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_run_log_stores() -> dict[str, str]:
    return {"sqlite": "runnable_sqlite.store:SQLiteRunLogStore"}


@hookimpl
def register_pipeline_executors() -> dict[str, str]:
    return {"bash-script": "runnable_sqlite.bash_script:BashScriptExecutor"}
