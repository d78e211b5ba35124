"""Python tasks: a plain function called in-process, arguments bound from the parameters by name.

A function runs in the engine's process, so what would end that process is turned into the step's failure
where Python allows it: ``sys.exit(n)`` and ``os._exit(n)`` (called from the task's thread, in the task's
process) fail the step with the status in its message instead of ending the run unrecorded; a ``timeout``
stops the function. A segfault in C code still ends the process; the supervising ``runnable`` command then
closes the run (``runnable.supervise``, ``docs/security.md``).
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from runnable.engine.parameters import bind_arguments, split_returns
from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.engine.tasks.limits import TaskTimeout, time_limit, timed_out
from runnable.engine.tasks.masking import mask_returns
from runnable.errors import ImportPathError, TaskFailedError

if TYPE_CHECKING:
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode


def import_callable(path: str, *, step: str) -> Callable[..., Any]:
    """``package.module.function`` (or ``module.Class.method``) -> the object, with the cwd importable."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name, attributes = ".".join(parts[:split]), parts[split:]
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # this prefix is not a module; try a shorter one
            raise ImportPathError(f"step {step!r}: importing {module_name!r} failed: {error}") from None
        try:
            for attribute in attributes:
                target = getattr(target, attribute)
        except AttributeError:
            raise ImportPathError(
                f"step {step!r}: command {path!r}: module {module_name!r} has no {'.'.join(attributes)!r}"
            ) from None
        if not callable(target):
            raise ImportPathError(f"step {step!r}: command {path!r} is not callable")
        return target
    if len(parts) > 1:  # every prefix was tried: not even the first part is a module
        raise ImportPathError(
            f"step {step!r}: command {path!r}: no module named {parts[0]!r}",
            hint="python commands are dotted import paths relative to the working directory, e.g. pkg.module.func",
        )
    raise ImportPathError(
        f"step {step!r}: command {path!r} does not resolve to module.function",
        hint="python commands are dotted import paths relative to the working directory, e.g. pkg.module.func",
    )


class PythonTaskType(BaseTaskType):
    command_type: ClassVar[str] = "python"

    def run(
        self,
        node: TaskNode,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        function = node._function or import_callable(node.command, step=node.name)
        kwargs = bind_arguments(function, values, step=node.name, qualname=node.command)
        # env (secrets) is already in os.environ: the engine set it for the task's duration.
        result.used = list(kwargs)
        _guard_process_exits()
        _running.pid = _pid[0]
        try:
            if node.timeout:
                with time_limit(node.timeout):
                    returned = function(**kwargs)
            else:  # the hot path: no context manager at all
                returned = function(**kwargs)
        except TaskTimeout:
            _print_where_stopped()
            raise timed_out(node.name, node.timeout or 0) from None
        except _ProcessExit as exit:
            raise TaskFailedError(
                f"step {node.name!r}: the task called os._exit({exit.code}) (exit status {exit.code})",
                hint="a python task ends by returning or raising; os._exit was stopped so the failure is recorded",
            ) from None
        except SystemExit as exit:
            raise TaskFailedError(
                f"step {node.name!r}: the task called sys.exit({exit.code!r}) (exit status {_status(exit.code)})",
                hint="a python task ends by returning or raising, not by exiting the process",
            ) from None
        finally:
            _running.pid = 0
        result.returned = mask_returns(split_returns(node.returns, returned, step=node.name), env)


def _status(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


class _ProcessExit(BaseException):
    """``os._exit`` called by a running python task; a BaseException so ``except Exception`` lets it through."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# pid of the process whose thread is running a python task (0: none); a thread-local, so another thread of the
# process (or a child forked by the task, whose pid differs) exits for real.
_running = threading.local()
_real_exit = os._exit
# This process's pid, kept current across forks without a system call per step.
_pid = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def _exit_unless_in_task(code: int) -> None:  # the stand-in for os._exit while tasks may run
    if getattr(_running, "pid", 0) == os.getpid():
        raise _ProcessExit(code)
    _real_exit(code)


def _guard_process_exits() -> None:
    """Installed once per process: os._exit from a task's thread fails the step; any other call exits as ever.

    faulthandler is enabled too, so a segfault in a task's C code at least prints the Python stack.
    """
    if os._exit is not _exit_unless_in_task:
        os._exit = _exit_unless_in_task
        if not faulthandler.is_enabled():
            try:
                faulthandler.enable(file=sys.__stderr__)
            except (RuntimeError, ValueError, OSError, AttributeError):  # no usable stderr
                pass


def _print_where_stopped() -> None:
    """The lines the timed-out task was running (its own frames, not runnable's), for the execution log."""
    error = sys.exc_info()[1]
    if error is None or error.__traceback__ is None:
        return
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_RUNNABLE)]
    if frames:
        print("stopped by its timeout at:\n" + "".join(traceback.format_list(frames[-5:])), file=sys.stderr)


_RUNNABLE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
