"""Closing runs whose process died without closing them (a segfault in a task's C code, SIGKILL, the OOM killer).

A python task runs in the runner's process, so a crash in C code ends that process at once: nothing in it can
record the failure. The ``runnable`` command therefore runs ``execute``, ``execute-job`` and ``retry`` in a
forked child (:mod:`runnable.supervise`) and stays behind as a small parent. Every run the child (or a process
it starts) opens is *announced*: one JSON line ``{"run_id", "config", "pid"}`` appended to the file named by
``RUNNABLE_SUPERVISOR_FILE``. When the child dies by a signal or exits non-zero, the parent reads the file and
closes every announced run that is still ``PROCESSING``: the steps still running fail with the exit status in
their message (``the run's process was killed by signal SIGSEGV (11) while this step ran``) and so does the
run.

The announcement holds the configuration file's *path*, never its content (a store's credentials stay out of
the temporary file); the parent loads it as the child did, in the same folder and environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ANNOUNCE_ENV = "RUNNABLE_SUPERVISOR_FILE"


def announce(run_id: str, configuration_file: str) -> None:
    """Tell the supervising ``runnable`` process (if any) that this process opened ``run_id``."""
    path = os.environ.get(ANNOUNCE_ENV)
    if not path:
        return
    line = json.dumps({"run_id": run_id, "config": configuration_file, "pid": os.getpid()}) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as announcements:
            announcements.write(line)  # one short append: whole even with parallel writers (O_APPEND)
    except OSError:  # a supervisor that cannot be told changes nothing about the run itself
        pass


def announced(path: str | Path) -> list[dict[str, str]]:
    """The runs announced in ``path`` (a torn last line, from a process killed mid-write, is skipped)."""
    runs = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("run_id"), str):
            runs.append(entry)
    return runs


def close_abandoned(path: str | Path, how: str) -> list[str]:
    """Close every run announced in ``path`` that is still PROCESSING: its process ``how`` (``was killed by
    signal SIGSEGV (11)``). Returns the ids closed. Errors reaching a store are reported, not raised: the
    supervisor must still exit with the child's status."""
    from runnable.config import load_config
    from runnable.models.run_log import FAIL, PROCESSING
    from runnable.plugins import get_registry

    closed = []
    for entry in announced(path):
        run_id = entry["run_id"]
        try:
            store = get_registry().configured(load_config(entry.get("config") or None), "run-log-store")
            run_log = store.get_run_log(run_id)
        except Exception as error:  # noqa: BLE001 - any store failure: say so, keep going
            print(f"runnable: could not close run {run_id!r} after its process died: {error}", flush=True)
            continue
        if run_log.status != PROCESSING or process_alive(entry.get("pid")):
            continue  # closed by itself, or still going (a run a task of this one started, say)
        from runnable.engine.steps import now

        run_log.fail_running(f"the run's process (pid {entry.get('pid', '?')}) {how} while this step ran", now())
        run_log.status = FAIL
        run_log.end_time = now()
        try:
            store.finish_run_log(run_log)
        except Exception as error:  # noqa: BLE001
            print(f"runnable: could not close run {run_id!r} after its process died: {error}", flush=True)
            continue
        closed.append(run_id)
    return closed


def process_alive(pid: object) -> bool:
    """Whether process ``pid`` of this host still runs (one we may not signal does; a zombie does not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped by its parent) has ended all the same
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
