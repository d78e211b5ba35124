"""How a task is stopped and how its end is described: per-task timeouts, exit statuses and signals.

Shared by the python, notebook and shell task types so that "timed out after 2 s", "exited with status 3" and
"killed by signal SIGSEGV (11)" read the same whichever kind of task it was.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runnable.errors import TaskFailedError

# After a timeout a process group gets SIGTERM, then SIGKILL this many seconds later.
KILL_GRACE_SECONDS = 5.0


class TaskTimeout(BaseException):
    """Raised inside a python task whose time is up.

    A BaseException (like KeyboardInterrupt), so the common ``except Exception:`` in user code cannot swallow
    it and keep the task running past its limit.
    """


def signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return str(number)


def describe_exit(returncode: int, *, shell: bool = False) -> str:
    """``exited with status 3`` or ``was killed by signal SIGSEGV (11)``; ``shell`` reads bash's 128+N too."""
    if returncode < 0:
        return f"was killed by signal {signal_name(-returncode)}"
    if shell and returncode > 128 and returncode - 128 < 65:
        return f"exited with status {returncode} (a command was killed by signal {signal_name(returncode - 128)})"
    return f"exited with status {returncode}"


def timed_out(step: str, seconds: float) -> TaskFailedError:
    return TaskFailedError(
        f"step {step!r}: timed out after {seconds:g} s and was stopped",
        hint="raise the step's timeout, or make the task faster",
    )


def deadline_after(seconds: float | None) -> float | None:
    return None if not seconds else time.monotonic() + seconds


def seconds_left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def stop_process_group(process: subprocess.Popen[Any], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the process and its group (children the command started), SIGKILL what is left after ``grace``."""
    if process.poll() is not None and not hasattr(os, "killpg"):
        return
    for sig, wait in ((signal.SIGTERM, grace), (getattr(signal, "SIGKILL", signal.SIGTERM), grace)):
        try:
            if hasattr(os, "killpg"):
                os.killpg(process.pid, sig)
            else:  # pragma: no cover - Windows
                process.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=wait)
            if not _group_alive(process.pid):
                return
        except subprocess.TimeoutExpired:
            continue


def _group_alive(pgid: int) -> bool:
    if not hasattr(os, "killpg"):
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def new_group_arguments() -> dict[str, Any]:
    """Popen arguments that put the task's command in its own process group (so a timeout stops its children
    too) while it keeps the terminal's session."""
    import sys

    if sys.platform == "win32":  # pragma: no cover
        return {}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"start_new_session": True}


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the current thread after ``seconds`` (nothing at all when None).

    In the main thread (the engine's, or a parallel worker process's) a ``SIGALRM`` timer does it, which also
    interrupts sleeps and blocking reads. Elsewhere the exception is set asynchronously on the thread, which
    Python delivers at the task's next bytecode (a long call into C code finishes first).
    """
    if not seconds:
        yield
        return
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def on_alarm(signum: int, frame: Any) -> None:
            raise TaskTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    target = threading.get_ident()
    timer = threading.Timer(seconds, _raise_in_thread, (target,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _raise_in_thread(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(TaskTimeout))
