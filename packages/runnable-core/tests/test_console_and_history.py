"""What a person sees during and after a run (issue 15): progress with totals, failures that explain
themselves, visible retries, `runs list`/`runs show`/`logs`, and reading past runs from python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from core_helpers import run_log, write

TASKS = """
import os, time

def make(n: int = 5):
    return list(range(n))

def fit(x: int):
    print(f"fitting item {x}")
    for line in range(30):
        print(f"line {line} of item {x}")
    if x == int(os.environ.get("FAIL_ITEM", "-1")):
        raise ValueError(f"bad item {x}")
    return x * 2

def score(y):
    return sum(y)

def slow_then_chatty():
    time.sleep(0.4)
    for i in range(2000):
        print("chatter", i)
"""

MAP_PIPELINE = """
dag:
  start_at: make
  steps:
    make:
      type: task
      command: tasks_ux.make
      returns: [xs]
      next: train
    train:
      type: map
      iterate_on: xs
      iterate_as: x
      next: score
      branch:
        start_at: fit
        steps:
          fit:
            type: task
            command: tasks_ux.fit
            returns: [y]
            next: success
    score:
      type: task
      command: tasks_ux.score
      returns: [{name: total, kind: metric}]
      next: success
"""


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, columns: int = 200) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full.update(env or {})
    full["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "runnable", *args], cwd=cwd, env=full, capture_output=True, text=True)


@pytest.fixture
def project(scratch: Path) -> Path:
    write(scratch / "tasks_ux.py", TASKS)
    write(scratch / "map.yaml", MAP_PIPELINE)
    return scratch


def test_progress_shows_done_over_total_for_the_pipeline_and_the_map(project):
    done = cli("execute", "map.yaml", "--run-id", "p1", cwd=project, env={"RUNNABLE_PROGRESS_SECONDS": "0"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "runnable run p1 map (3 steps)" in out  # the YAML pipeline is named after its file
    assert "[1/3 · " in out and "[3/3 · " in out  # each top-level step line: done/total · elapsed
    for item in range(1, 5):
        assert f"train {item}/5 items" in out  # map progress while it goes (every item: interval 0)
    assert "✓ train" in out and "5/5 items" in out
    assert "\x1b[" not in out and "⠋" not in out  # not a terminal: no colours, no spinner


def test_ci_progress_is_rate_limited(project):
    """The default interval (10 s) keeps a CI log short: no per-item progress lines for a quick map."""
    done = cli("execute", "map.yaml", "--run-id", "quiet", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "items ·" not in done.stdout
    assert "5/5 items" in done.stdout  # the map's own line still says how it ended


def test_a_failed_run_names_the_innermost_step_its_error_output_and_retry(project):
    done = cli("execute", "map.yaml", "--run-id", "bad", cwd=project, env={"FAIL_ITEM": "3"})
    assert done.returncode == 1
    out = done.stdout
    assert "failed step: train[3].fit: ValueError: bad item 3" in out
    assert "its output: .catalog/bad/train.3.fit.execution.log" in out
    assert (project / ".catalog" / "bad" / "train.3.fit.execution.log").is_file()
    assert "runnable logs bad 'train[3].fit'" in out
    assert "to retry: runnable retry bad\n" in out
    assert "│ NOT RUN" in out and " score " in out  # the step after the failure never ran

    shown = cli("runs", "show", "bad", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "train[3].fit: ValueError: bad item 3" in shown.stdout
    assert "│ line 29 of item 3" in shown.stdout  # the last lines of its output
    assert "line 5 of item 3" not in shown.stdout  # ... only the last ones
    assert "NOT RUN" in shown.stdout

    logs = cli("logs", "bad", "train[3].fit", cwd=project)
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith("fitting item 3\n") and "ValueError: bad item 3" in logs.stdout
    assert cli("logs", "bad", "train.3.fit", cwd=project).stdout == logs.stdout  # internal names work too
    missing = cli("logs", "bad", "nope", cwd=project)
    assert missing.returncode != 0 and "has no step 'nope'" in missing.stderr and "train[3].fit" in missing.stderr


def test_logs_shows_every_attempt_or_one(scratch):
    write(
        scratch / "tasks_flaky.py",
        """
        import pathlib

        def flaky():
            marker = pathlib.Path("tried")
            first = not marker.exists()
            marker.write_text("x")
            print("first try" if first else "second try")
            if first:
                raise RuntimeError("not yet")
        """,
    )
    write(
        scratch / "flaky.yaml",
        """
        dag:
          start_at: flaky
          steps:
            flaky:
              type: task
              command: tasks_flaky.flaky
              max_attempts: 2
              next: success
        """,
    )
    assert cli("execute", "flaky.yaml", "--run-id", "f", cwd=scratch).returncode == 0
    both = cli("logs", "f", "flaky", cwd=scratch)
    assert both.stdout.index("first try") < both.stdout.index("second try")
    assert "attempt 1" in both.stderr and "attempt 2" in both.stderr
    second = cli("logs", "f", "flaky", "--attempt", "2", cwd=scratch)
    assert "second try" in second.stdout and "first try" not in second.stdout
    none = cli("logs", "f", "flaky", "--attempt", "3", cwd=scratch)
    assert none.returncode != 0 and "no output of attempt 3" in none.stderr


def test_a_retry_says_whose_retry_it_is_and_marks_reused_steps(project):
    assert cli("execute", "map.yaml", "--run-id", "orig", cwd=project, env={"FAIL_ITEM": "2"}).returncode == 1
    again = cli("retry", "orig", "--run-id", "again", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "a retry of run orig" in again.stdout and "retry of run orig" in again.stdout.splitlines()[-1]
    rows = {line.split("│")[0].strip(): line for line in again.stdout.splitlines() if "│" in line}
    assert "REUSED" in rows["make"] and "reused from orig" in rows["make"]
    assert "REUSED" in rows["train[0].fit"] and "SUCCESS" in rows["train[2].fit"]
    shown = cli("runs", "show", "again", cwd=project)
    assert "retry of run orig" in shown.stdout and "REUSED" in shown.stdout
    listed = cli("runs", "list", "--json", cwd=project)
    assert {"run_id": "again", "retry_of": "orig"}.items() <= next(
        r for r in json.loads(listed.stdout) if r["run_id"] == "again"
    ).items()


def test_runs_list_json_status_limit_whole_ids_and_unreadable_logs(project):
    long_id = "a-very-long-run-id-that-would-not-fit-in-a-narrow-terminal-0123456789"
    assert cli("execute", "map.yaml", "--run-id", long_id, cwd=project).returncode == 0
    assert cli("execute", "map.yaml", "--run-id", "broken", cwd=project, env={"FAIL_ITEM": "0"}).returncode == 1
    (project / ".run_log_store" / "corrupt.json").write_text("{not json")

    narrow = cli("runs", "list", cwd=project, columns=40)
    assert narrow.returncode == 0, narrow.stderr
    assert long_id in narrow.stdout  # whole, on one line, in a pipe at 40 columns
    assert "UNREADABLE" in narrow.stdout and "broken" in narrow.stdout

    listed = json.loads(cli("runs", "list", "--json", cwd=project).stdout)
    assert {r["run_id"]: r["status"] for r in listed} == {long_id: "SUCCESS", "broken": "FAIL", "corrupt": "UNREADABLE"}
    assert "unreadable" in next(r for r in listed if r["run_id"] == "corrupt")["error"]
    failed = json.loads(cli("runs", "list", "--json", "--status", "fail", cwd=project).stdout)
    assert [r["run_id"] for r in failed] == ["broken"]
    assert len(json.loads(cli("runs", "list", "--json", "--limit", "1", cwd=project).stdout)) == 1
    wrong = cli("runs", "list", "--status", "great", cwd=project)
    assert wrong.returncode != 0 and "--status 'great'" in wrong.stderr


def test_runs_of_another_configuration_are_found_with_the_same_config(project):
    write(project / "elsewhere.yaml", "run-log-store:\n  type: file-system\n  config: {log_folder: other_logs}\n")
    assert cli("execute", "map.yaml", "-c", "elsewhere.yaml", "--run-id", "far", cwd=project).returncode == 0
    default = cli("runs", "list", cwd=project)
    assert "far" not in default.stdout
    assert "no runs in file-system: .run_log_store" in default.stderr
    assert "runs made with another configuration are listed with the same -c" in default.stderr
    assert "far" in cli("runs", "list", "-c", "elsewhere.yaml", cwd=project).stdout


def test_piping_into_head_does_not_kill_the_run(project):
    """`runnable execute ... | head -1`: head leaves after one line; the run goes on and records SUCCESS."""
    write(
        project / "chatty.yaml",
        """
        dag:
          start_at: chatty
          steps:
            chatty:
              type: task
              command: tasks_ux.slow_then_chatty
              next: success
        """,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(
        f"{sys.executable} -m runnable execute chatty.yaml --run-id piped | head -1; echo status=${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.stdout.startswith("runnable run piped")
    assert "status=0" in done.stdout, done.stderr
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr
    assert run_log(project, "piped")["status"] == "SUCCESS"


def test_version_and_log_levels(scratch):
    version = cli("--version", cwd=scratch)
    assert version.returncode == 0
    assert version.stdout.startswith("runnable-core ")
    help_text = cli("--help", cwd=scratch).stdout
    assert "--log-level" in help_text and "debug" in help_text and "--version" in help_text
    bad = cli("--log-level", "loud", "plugins", cwd=scratch)
    assert bad.returncode == 2 and "'loud' is not a log level" in bad.stderr
    assert cli("--log-level", "Warn", "plugins", cwd=scratch).returncode == 0
    write(scratch / "tasks_ux.py", TASKS)
    write(scratch / "map.yaml", MAP_PIPELINE)
    debug = cli("--log-level", "debug", "execute", "map.yaml", "--run-id", "d", cwd=scratch)
    assert debug.returncode == 0, debug.stderr
    assert "DEBUG runnable: step 'train[2].fit' started" in debug.stderr
    assert "DEBUG runnable: step 'score' ended SUCCESS" in debug.stderr


def test_get_run_reads_a_past_run(project):
    import runnable

    assert cli("execute", "map.yaml", "--run-id", "past", cwd=project).returncode == 0
    run = runnable.get_run("past")
    assert run.status == "SUCCESS" and run.run_id == "past" and run.retry_of == ""
    assert run.parameters["xs"] == [0, 1, 2, 3, 4]
    assert run.metrics == {"total": 20}
    assert "train[4].fit" in run.steps and run.step("train[4].fit").status == "SUCCESS"
    assert run.output("train[1].fit").startswith("fitting item 1")
    assert "train.1.fit.execution.log" in run.files()
    assert run.open("train.1.fit.execution.log").read().startswith(b"fitting item 1")
    fetched = run.fetch("train.1.fit.execution.log", project / "here")
    assert fetched.read_text().startswith("fitting item 1")
    assert "SUCCESS" in repr(run) and "<table>" in run._repr_html_()
    with pytest.raises(runnable.errors.RunnableError if hasattr(runnable, "errors") else Exception, match="no object"):
        run.load("model")


def test_get_run_loads_pickled_objects(scratch):
    from runnable import Pipeline, PythonTask, get_run, pickled

    def train():
        return {"weights": [1, 2, 3]}

    Pipeline(steps=[PythonTask(name="train", function=train, returns=[pickled("model")])]).execute(run_id="obj")
    assert get_run("obj").load("model") == {"weights": [1, 2, 3]}


def test_import_runnable_stays_lazy():
    code = "import sys, runnable; print('runnable.history' in sys.modules, 'runnable.sdk' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_parallel_branches_report_progress_through_shared_counters(project):
    write(
        project / "parallel.yaml",
        "pipeline-executor: {type: local, config: {enable_parallel: true, min_parallel_seconds: 0}}\n"
        "run-log-store: {type: chunked-fs}\n",
    )
    done = cli(
        "execute", "map.yaml", "-c", "parallel.yaml", "--run-id", "par", cwd=project,
        env={"RUNNABLE_PROGRESS_SECONDS": "0", "FAIL_ITEM": "2"},
    )  # fmt: skip
    assert done.returncode == 1
    counts = {line.split("train ", 1)[1].split(" items")[0] for line in done.stdout.splitlines() if "… train " in line}
    assert len(counts) >= 3 and all(c.endswith("/5") for c in counts)  # one counter for all worker processes
    assert "failed step: train[2].fit: ValueError: bad item 2" in done.stdout
    assert "to retry: runnable retry par -c parallel.yaml" in done.stdout


def test_mocked_run_fetches_nothing_for_skipped_steps(scratch):
    write(
        scratch / "tasks_mock_ux.py",
        "def load():\n    raise AssertionError('skipped')\n\ndef use():\n    raise AssertionError('skipped')\n",
    )
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: load
          steps:
            load: {type: task, command: tasks_mock_ux.load, catalog: {put: [data.csv]}, next: use}
            use: {type: task, command: tasks_mock_ux.use, catalog: {get: [data.csv]}, next: success}
        """,
    )
    write(scratch / "mocked.yaml", "pipeline-executor: {type: mocked}\n")
    done = cli("execute", "pipeline.yaml", "-c", "mocked.yaml", "--run-id", "mock", cwd=scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    log = run_log(scratch, "mock")
    assert [log["steps"][s]["data_catalog"] for s in ("load", "use")] == [[], []]
    assert "mocked" in done.stdout  # the summary says the steps were mocked, not run


def test_a_python_command_that_does_not_import_is_reported_at_load(scratch):
    from runnable.errors import PipelineDefinitionError
    from runnable.yaml_loader import load_pipeline_yaml

    write(scratch / "tasks_load_ux.py", "def real():\n    return 1\n")
    body = """
    dag:
      start_at: fan
      steps:
        fan:
          type: parallel
          next: success
          branches:
            a:
              start_at: ok
              steps:
                ok: {type: task, command: tasks_load_ux.real, next: success}
            b:
              start_at: typo
              steps:
                typo: {type: task, command: tasks_load_ux.rael, next: success}
    """
    write(scratch / "p.yaml", body)
    assert load_pipeline_yaml(scratch / "p.yaml").name == "p"  # drawing/rendering does not import anything
    with pytest.raises(PipelineDefinitionError, match=r"p.yaml: step 'typo': command 'tasks_load_ux.rael': module"):
        load_pipeline_yaml(scratch / "p.yaml", check_imports=True)
    write(scratch / "p.yaml", body.replace("tasks_load_ux.rael", "no_such_module.f"))
    with pytest.raises(PipelineDefinitionError, match="step 'typo'.*no module named 'no_such_module'"):
        load_pipeline_yaml(scratch / "p.yaml", check_imports=True)
    write(scratch / "p.yaml", "name: custom\n" + textwrap.dedent(body).replace("rael", "real"))
    assert load_pipeline_yaml(scratch / "p.yaml", check_imports=True).name == "custom"


def test_usage_lines_name_each_argument_once(scratch):
    for command, usage in (
        (["execute"], "runnable execute [OPTIONS] {file} [RUN_ID]"),
        (["logs"], "runnable logs [OPTIONS] {RUN_ID} {STEP}"),
        (["runs", "show"], "runnable runs show [OPTIONS] {RUN_ID}"),
        (["graph"], "runnable graph [OPTIONS] {FILE}"),
    ):
        shown = cli(*command, "--help", cwd=scratch)
        assert shown.returncode == 0 and usage in shown.stdout, shown.stdout[:300]
        assert "[[" not in shown.stdout.split("\n\n", 2)[1]


def test_a_map_inside_a_branch_reports_its_total(project):
    write(
        project / "nested.yaml",
        """
        dag:
          start_at: make
          steps:
            make: {type: task, command: tasks_ux.make, returns: [xs], next: fan}
            fan:
              type: parallel
              next: success
              branches:
                a:
                  start_at: inner
                  steps:
                    inner:
                      type: map
                      iterate_on: xs
                      iterate_as: x
                      next: success
                      branch:
                        start_at: fit
                        steps:
                          fit: {type: task, command: tasks_ux.fit, next: success}
                b:
                  start_at: other
                  steps:
                    other: {type: task, command: tasks_ux.make, next: success}
        """,
    )
    done = cli("execute", "nested.yaml", "--run-id", "n", cwd=project, env={"RUNNABLE_PROGRESS_SECONDS": "0"})
    assert done.returncode == 0, done.stderr
    assert "… fan.a.inner 3/5 items" in done.stdout and "fan 1/2 branches" in done.stdout
    assert "5 items, 5 steps" in done.stdout  # the summary counts a map's branches as items


def test_a_pipeline_script_reports_bad_configuration_and_input_in_one_line(scratch):
    write(
        scratch / "pipeline.py",
        """
        import sys
        from runnable import Pipeline, PythonTask

        def needs(count: int):
            return count

        pipeline = Pipeline(steps=[PythonTask(name="needs", function=needs)])
        pipeline.execute(configuration_file=sys.argv[1] if len(sys.argv) > 1 else "")
        """,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    bad_config = subprocess.run(
        [sys.executable, "pipeline.py", "missing.yaml"], cwd=scratch, env=env, capture_output=True, text=True
    )
    assert bad_config.returncode != 0
    assert bad_config.stderr.startswith("error: missing.yaml") and "Traceback" not in bad_config.stderr
    assert len(bad_config.stderr.strip().splitlines()) <= 2  # the error and perhaps a hint
    bad_input = subprocess.run([sys.executable, "pipeline.py"], cwd=scratch, env=env, capture_output=True, text=True)
    assert bad_input.returncode != 0 and "Traceback (most recent call last)" not in bad_input.stderr
    assert "failed step: needs: argument 'count'" in bad_input.stdout  # the summary says which and why
    assert bad_input.stderr.strip().splitlines()[-1].startswith("error: run ")
