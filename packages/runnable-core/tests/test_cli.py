"""The command line: execute with its options, runs list/show, plugins, exit status."""

from __future__ import annotations

import json
import subprocess
import sys

from core_helpers import run_log, write

PIPELINE = """
dag:
  start_at: add
  steps:
    add:
      type: task
      command: tasks_cli.add
      returns: [total]
      next: check
    check:
      type: task
      command: tasks_cli.check
      next: success
"""

TASKS = """
def add(a: int, b: int) -> int:
    print(f"adding {a} and {b}")
    return a + b

def check(total: int):
    if total < 0:
        raise ValueError("negative total")
"""


def cli(*args, cwd, env=None):
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full.update(env or {})
    full["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "runnable", *args], cwd=cwd, env=full, capture_output=True, text=True)


def test_execute_with_parameters_run_id_and_tag(scratch):
    write(scratch / "pipeline.yaml", PIPELINE)
    write(scratch / "tasks_cli.py", TASKS)
    write(scratch / "params.yaml", "a: 2\nb: 3\n")
    done = cli("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "first", "--tag", "nightly", cwd=scratch)
    assert done.returncode == 0, done.stderr
    assert "adding 2 and 3" in done.stdout
    summary = done.stdout[done.stdout.index("step ") :]
    assert "add" in summary and "check" in summary and "SUCCESS" in summary
    assert "run log first (file-system: .run_log_store)" in done.stdout
    log = run_log(scratch, "first")
    assert log["tag"] == "nightly" and log["parameters"]["total"]["value"] == 5


def test_positional_run_id_environment_parameters_and_failure_exit_status(scratch):
    write(scratch / "pipeline.yaml", PIPELINE)
    write(scratch / "tasks_cli.py", TASKS)
    done = cli("execute", "pipeline.yaml", "second", cwd=scratch, env={"RUNNABLE_PRM_a": "-5", "RUNNABLE_PRM_b": "1"})
    assert done.returncode == 1
    assert "negative total" in done.stdout
    log = run_log(scratch, "second")
    assert log["status"] == "FAIL" and log["steps"]["check"]["status"] == "FAIL"
    assert log["steps"]["check"]["message"] == "ValueError: negative total"


def test_runs_list_and_show(scratch):
    write(scratch / "pipeline.yaml", PIPELINE)
    write(scratch / "tasks_cli.py", TASKS)
    write(scratch / "params.yaml", "a: 1\nb: 1\n")
    assert cli("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "one", cwd=scratch).returncode == 0
    assert (
        cli("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "two", "--tag", "x", cwd=scratch).returncode
        == 0
    )

    listed = cli("runs", "list", cwd=scratch)
    assert listed.returncode == 0
    assert listed.stdout.index("two") < listed.stdout.index("one")  # newest first
    assert listed.stdout.count("SUCCESS") == 2

    shown = cli("runs", "show", "two", cwd=scratch)
    assert shown.returncode == 0
    assert "add" in shown.stdout and "check" in shown.stdout and "total" in shown.stdout

    as_json = cli("runs", "show", "two", "--json", cwd=scratch)
    assert json.loads(as_json.stdout)["run_id"] == "two"

    missing = cli("runs", "show", "nope", cwd=scratch)
    assert missing.returncode != 0 and "no run log for run id 'nope'" in missing.stderr


def test_help_teaches():
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "execute", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0
    for option in ("--config", "--parameters", "--run-id", "--tag", "RUNNABLE_PRM_"):
        assert option in done.stdout
