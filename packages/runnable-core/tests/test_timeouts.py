"""How tasks end badly: timeouts, commands and kernels killed by signals, python tasks that try to exit the
process. Each leaves its step FAIL with the reason in one line, and a run log that reads."""

from __future__ import annotations

import json
import os
import time

import pytest
from core_helpers import run_log, write
from runnable import NotebookTask, Pipeline, PythonTask, ShellTask
from runnable.sdk import ExecutionFailedError
from runnable.yaml_loader import load_pipeline_yaml


def _failed_step(scratch, run_id: str, step: str) -> dict:
    log = run_log(scratch, run_id)
    assert log["status"] == "FAIL"
    record = log["steps"][step]
    assert record["status"] == "FAIL"
    assert "\n" not in record["message"]
    return record


def _run(scratch, task, run_id: str) -> float:
    started = time.monotonic()
    with pytest.raises(ExecutionFailedError):
        Pipeline(steps=[task]).execute(run_id=run_id)
    return time.monotonic() - started


def test_python_task_is_stopped_by_its_timeout_even_when_it_swallows_exceptions(scratch):
    def stubborn():
        while True:
            try:
                time.sleep(30)
            except Exception:  # noqa: BLE001 - the point: a broad except must not defeat the timeout
                pass

    took = _run(scratch, PythonTask(name="slow", function=stubborn, timeout=0.5), "py-timeout")
    assert took < 10
    record = _failed_step(scratch, "py-timeout", "slow")
    assert record["message"] == "step 'slow': timed out after 0.5 s and was stopped"
    log_text = (scratch / ".catalog" / "py-timeout" / "slow.execution.log").read_text()
    assert "stopped by its timeout at" in log_text and "in stubborn" in log_text and "on_alarm" not in log_text


def test_python_task_within_its_timeout_succeeds_and_the_alarm_is_gone(scratch):
    def quick():
        return 1

    log = Pipeline(steps=[PythonTask(name="quick", function=quick, timeout=0.3, returns=["one"])]).execute(run_id="ok")
    assert log.status == "SUCCESS"
    time.sleep(0.5)  # had the alarm outlived the step, it would fire here, in the test
    import signal

    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_shell_task_timeout_stops_the_command_and_what_it_started(scratch):
    command = "sleep 60 & echo $! > child.pid; wait"
    took = _run(scratch, ShellTask(name="sh", command=command, timeout=1), "sh-timeout")
    assert took < 15
    record = _failed_step(scratch, "sh-timeout", "sh")
    assert record["message"] == "step 'sh': timed out after 1 s and was stopped"
    child = int((scratch / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the background child of a timed-out shell task must be stopped too"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = f"/proc/{pid}/stat"
    return not os.path.exists(stat) or open(stat).read().split()[2] != "Z"


def _notebook(path, *sources: str) -> str:
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
        for source in sources
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path.name


@pytest.mark.notebook
def test_notebook_timeout_bounds_the_whole_notebook(scratch):
    name = _notebook(scratch / "slow.ipynb", "import time\ntime.sleep(1)", "time.sleep(60)")
    took = _run(scratch, NotebookTask(name="nb", notebook=name, timeout=3), "nb-timeout")
    assert took < 40
    record = _failed_step(scratch, "nb-timeout", "nb")
    assert record["message"] == "step 'nb': timed out after 3 s and was stopped"
    assert list((scratch / ".catalog" / "nb-timeout").glob("*_out.ipynb")), "the executed notebook is still kept"


def test_yaml_timeout_reaches_the_task(scratch):
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: sh
          steps:
            sh:
              type: task
              command_type: shell
              command: sleep 30
              timeout: 0.5
              next: success
        """,
    )
    graph = load_pipeline_yaml(scratch / "pipeline.yaml")
    assert graph.nodes["sh"].timeout == 0.5
    from runnable import entrypoints

    log = entrypoints.run_graph(graph, run_id="yaml-timeout", pipeline_file="pipeline.yaml")
    assert log.status == "FAIL" and "timed out after 0.5 s" in log.steps["sh"].message


def test_timeouts_are_checked_and_do_not_change_the_graph_fingerprint():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ShellTask(name="sh", command="true", timeout=0)
    limited = Pipeline(steps=[ShellTask(name="sh", command="true", timeout=5)]).return_dag()
    unlimited = Pipeline(steps=[ShellTask(name="sh", command="true")]).return_dag()
    assert limited.nodes["sh"].timeout == 5
    assert limited.dag_hash() == unlimited.dag_hash()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("kill -SEGV $$", "shell command was killed by signal SIGSEGV (11)"),
        ("sh -c 'kill -KILL $$'", "shell command exited with status 137 (a command was killed by signal SIGKILL (9))"),
        ("exit 3", "shell command exited with status 3"),
    ],
)
def test_shell_task_killed_or_failing_names_the_status_or_signal(scratch, command, expected):
    _run(scratch, ShellTask(name="sh", command=command), "sh-dies")
    assert _failed_step(scratch, "sh-dies", "sh")["message"] == f"step 'sh': {expected}"


@pytest.mark.notebook
def test_notebook_kernel_that_dies_names_the_signal(scratch):
    name = _notebook(scratch / "dies.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _run(scratch, NotebookTask(name="nb", notebook=name), "nb-dies")
    message = _failed_step(scratch, "nb-dies", "nb")["message"]
    assert message == "step 'nb': notebook dies.ipynb: the kernel died: it was killed by signal SIGKILL (9)"


def test_python_task_calling_os_exit_fails_its_step_instead_of_ending_the_run_unrecorded(scratch):
    def bail():
        print("about to exit")
        os._exit(3)

    def after():
        raise AssertionError("must not run")

    _run(scratch, PythonTask(name="bail", function=bail), "os-exit")
    record = _failed_step(scratch, "os-exit", "bail")
    assert record["message"] == "step 'bail': the task called os._exit(3) (exit status 3)"
    assert "about to exit" in (scratch / ".catalog" / "os-exit" / "bail.execution.log").read_text()


def test_python_task_calling_sys_exit_fails_its_step(scratch):
    import sys

    def bail():
        sys.exit(4)

    _run(scratch, PythonTask(name="bail", function=bail), "sys-exit")
    assert (
        _failed_step(scratch, "sys-exit", "bail")["message"]
        == "step 'bail': the task called sys.exit(4) (exit status 4)"
    )


def test_os_exit_outside_a_task_still_exits(scratch):
    """The stand-in for os._exit only catches calls from a running task's thread: a child process forked by a
    task (multiprocessing) must still exit for real."""
    import multiprocessing

    def fork_and_exit():
        context = multiprocessing.get_context("fork")
        child = context.Process(target=os._exit, args=(7,))
        child.start()
        child.join(10)
        return child.exitcode

    log = Pipeline(steps=[PythonTask(name="fork", function=fork_and_exit, returns=["code"])]).execute(run_id="fork")
    assert log.parameters["code"].value == 7
