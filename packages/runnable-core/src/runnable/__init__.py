"""runnable: plain functions, notebooks and shell commands as pipelines that run anywhere.

``import runnable`` is kept cheap: the SDK names are imported on first use, so the CLI's ``--help`` and
container start-up do not pay for pydantic models they never touch.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SDK_NAMES = (
    "Catalog",
    "Conditional",
    "ExecutionFailedError",
    "Fail",
    "Loop",
    "Map",
    "NotebookJob",
    "NotebookTask",
    "Parallel",
    "Pipeline",
    "PythonJob",
    "PythonTask",
    "ShellJob",
    "ShellTask",
    "Stub",
    "Success",
    "TaskReturns",
    "json",
    "metric",
    "pickled",
)
# Reading past runs (runnable.history): also imported on first use.
_HISTORY_NAMES = ("get_run", "Run")
__all__ = [*_SDK_NAMES, *_HISTORY_NAMES]

if TYPE_CHECKING:
    from runnable.history import Run, get_run  # noqa: F401
    from runnable.sdk import (  # noqa: F401
        Catalog,
        Conditional,
        ExecutionFailedError,
        Fail,
        Loop,
        Map,
        NotebookJob,
        NotebookTask,
        Parallel,
        Pipeline,
        PythonJob,
        PythonTask,
        ShellJob,
        ShellTask,
        Stub,
        Success,
        TaskReturns,
        json,
        metric,
        pickled,
    )


def _one_line_errors(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    """A script that builds and runs a pipeline (``python pipeline.py``) reports runnable's errors as the CLI
    does: one line and a hint, not a traceback into runnable. Every other exception keeps its traceback."""
    from runnable.errors import RunnableError

    if not isinstance(error, RunnableError):
        _previous_excepthook(kind, error, tb)
        return
    print(f"error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)


_previous_excepthook = sys.excepthook


def _install_excepthook() -> None:
    global _previous_excepthook
    if sys.excepthook is not _one_line_errors:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _one_line_errors


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        from runnable import sdk

        _install_excepthook()  # only scripts using the SDK get it; an interactive shell has its own hook
        value = getattr(sdk, name)
        globals()[name] = value
        return value
    if name in _HISTORY_NAMES:
        from runnable import history

        value = getattr(history, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'runnable' has no attribute {name!r}")
