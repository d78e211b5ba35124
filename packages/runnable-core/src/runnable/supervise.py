"""The ``runnable`` console script: a run whose process crashes is still closed, with the reason.

``execute``, ``execute-job`` and ``retry`` run in a forked child; this process waits for it, importing
nothing of runnable's meanwhile (the fork happens before the CLI is imported, so the parent stays small).
When the child dies by a signal (a segfault in a task's C code, SIGKILL, the OOM killer) or exits non-zero, the
runs it opened that are still ``PROCESSING`` are closed as failed, the running steps naming how the process
ended (:mod:`runnable.engine.supervision`). The parent exits as the child did (128 + N for signal N, as a
shell reports it).

Ctrl-C from a terminal reaches both processes; the parent ignores it and the child closes its run as usual.
SIGTERM and SIGHUP sent to the parent are passed on to the child. SIGKILL cannot be passed on: on Linux the
child is then killed too (``PR_SET_PDEATHSIG``), so killing ``runnable`` never leaves a run going unwatched.
Every other command, and any platform without ``fork``, runs directly. ``python -m runnable`` is the same.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile

SUPERVISED = frozenset({"execute", "execute-job", "retry"})


def main() -> None:
    arguments = sys.argv[1:]
    from runnable.protocol_cli import COMMANDS
    from runnable.protocol_cli import main as protocol

    if arguments and arguments[0] in COMMANDS:  # a container step: no typer app to build (runnable.protocol_cli)
        try:
            code = protocol(arguments)
        finally:
            _exit_quickly()
        sys.exit(code)
    from runnable.engine.supervision import ANNOUNCE_ENV

    if not arguments or arguments[0] not in SUPERVISED or not hasattr(os, "fork") or os.environ.get(ANNOUNCE_ENV):
        _cli()
        return
    descriptor, announcements = tempfile.mkstemp(prefix="runnable-runs-", suffix=".jsonl")
    os.close(descriptor)
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        _die_with(parent)
        os.environ[ANNOUNCE_ENV] = announcements
        _cli()  # exits through SystemExit as the unsupervised command would
        return
    sys.exit(_supervise(child, announcements))


def _cli() -> None:
    from runnable.cli import app

    try:
        app(prog_name="runnable")
    finally:
        _exit_quickly()


def _exit_quickly() -> None:
    """Spare the interpreter's exit a garbage collection over everything the command loaded.

    At exit Python collects cycles among all live objects (pydantic's model classes and their validators are
    many): 20-50 ms of a container step that runs in well under a second. Frozen objects are skipped by that
    collection; they are still freed by reference counting as modules are torn down, and ``atexit`` handlers
    (a task's own included) still run. Nothing needs those cycles collected: the process is ending.
    """
    import gc

    gc.freeze()


def _die_with(parent: int) -> None:
    """Linux: this process gets SIGKILL when its parent dies (a SIGKILL cannot be forwarded)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGKILL)


def _supervise(child: int, announcements: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda received, _frame: os.kill(child, received))
    try:
        _, status = os.waitpid(child, 0)  # retried by Python after a forwarded signal (PEP 475)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            from runnable.engine.supervision import close_abandoned
            from runnable.engine.tasks.limits import describe_exit

            for run_id in close_abandoned(announcements, describe_exit(code)):
                if code < 0:  # the child said nothing: say what happened to its run
                    print(
                        f"runnable: run {run_id!r} failed: its process {describe_exit(code)}; "
                        f"retry it with: runnable retry {run_id}",
                        file=sys.stderr,
                    )
        return 128 - code if code < 0 else code
    finally:
        try:
            os.unlink(announcements)
        except OSError:
            pass
