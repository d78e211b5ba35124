"""A run whose process dies (a segfault in a python task's C code, SIGKILL) is closed by the `runnable` command's
supervising parent: run and step FAIL, the signal named, and `runnable` exits as a shell reports the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from core_helpers import run_log, write

PIPELINE = """
dag:
  start_at: before
  steps:
    before:
      type: task
      command: tasks.fine
      next: crash
    crash:
      type: task
      command: tasks.{function}
      next: success
"""

TASKS = """
import ctypes, os, signal, time

def fine():
    print("fine")

def segfault():
    print("about to crash", flush=True)
    ctypes.string_at(0)

def killed():
    os.kill(os.getpid(), signal.SIGKILL)

def fails():
    raise ValueError("an ordinary failure")

def sleeps():
    open("started", "w").close()
    time.sleep(60)
"""


def _execute(scratch, function: str, run_id: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    write(scratch / "tasks.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE.format(function=function))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    argv = [sys.executable, "-m", "runnable", "execute", "pipeline.yaml", "--run-id", run_id]
    if popen:
        return subprocess.Popen(argv, cwd=scratch, env=env, **popen)
    return subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True, timeout=120)


def test_a_segfault_in_a_python_task_fails_its_step_and_the_run_with_the_signal(scratch):
    done = _execute(scratch, "segfault", "seg")
    assert done.returncode == 128 + signal.SIGSEGV, done.stderr
    log = run_log(scratch, "seg")
    assert log["status"] == "FAIL"
    assert log["steps"]["before"]["status"] == "SUCCESS"
    crash = log["steps"]["crash"]
    assert crash["status"] == "FAIL"
    assert all(attempt["status"] == "FAIL" for attempt in crash["attempts"])
    assert "was killed by signal SIGSEGV (11)" in crash["message"], crash["message"]
    assert log["end_time"]
    assert "run 'seg' failed: its process was killed by signal SIGSEGV (11)" in done.stderr


def test_a_task_that_kills_its_process_fails_its_step_with_sigkill(scratch):
    done = _execute(scratch, "killed", "kill9")
    assert done.returncode == 128 + signal.SIGKILL
    crash = run_log(scratch, "kill9")["steps"]["crash"]
    assert crash["status"] == "FAIL" and "SIGKILL (9)" in crash["message"]


def test_an_ordinary_failure_keeps_its_own_message_and_exit_status(scratch):
    done = _execute(scratch, "fails", "plain")
    assert done.returncode == 1
    log = run_log(scratch, "plain")
    assert log["status"] == "FAIL"
    assert "an ordinary failure" in log["steps"]["crash"]["message"]
    assert "killed" not in log["steps"]["crash"]["message"]


def test_sigkill_to_runnable_ends_the_run_s_process_too(scratch):
    runner = _execute(scratch, "sleeps", "orphan", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (scratch / "started").exists() and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.05)
        assert (scratch / "started").exists()
        child = run_log(scratch, "orphan")["run_config"]["runner"]["pid"]
        assert child != runner.pid, "the run goes in a child of the `runnable` process"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)
        assert not _alive(child), "the run's process outlived a SIGKILLed `runnable`"
    finally:
        if runner.poll() is None:
            runner.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
