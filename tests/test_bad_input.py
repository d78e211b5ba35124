"""Bad input (SPEC §13), each case through the real CLI: ``runnable execute FILE [-c config.yaml]``.

Every mistake a user can make in a pipeline, a configuration or a parameters file must end in:

* an exit status other than 0;
* one line on stderr, ``error: ...``, naming the file and the step or key at fault (a ``hint: ...`` line may
  follow it), and no Python traceback;
* no run log when the mistake is found before the run starts; otherwise a run log that ``runnable runs
  show`` can read, with the run and the step marked FAIL and the step's one-line ``message`` saying why.

A task that fails on its own (an exception, a shell exit status) keeps its output and traceback in the
catalog as ``<step>.execution.log``, marks its step and the run FAIL and follows ``on_failure`` if given.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from cli_helpers import read_run_log, runnable_cli

# The task code the pipelines below call; the working directory is importable, so `command: tasks.hello`.
TASKS = """
import sys


def hello():
    print("hello from the task")


def boom():
    print("about to divide")
    print("a warning on stderr", file=sys.stderr)
    return 1 / 0


def two_lines():
    raise ValueError("first line of the problem\\nsecond line of the problem")


def needs(x, threshold):
    return x


def make_nothing():
    print("wrote no file")


def recover():
    print("recovering after the failure")
"""


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(textwrap.dedent(text).lstrip())
    return name


def write_tasks(folder: Path) -> None:
    write(folder, "tasks.py", TASKS)


def one_task(command: str = "tasks.hello", **extra: str) -> str:
    """A pipeline with one task step ``a``; ``extra`` adds raw YAML keys to the step."""
    lines = "".join(f"      {key}: {value}\n" for key, value in extra.items())
    return (
        "dag:\n"
        "  start_at: a\n"
        "  steps:\n"
        "    a:\n"
        "      type: task\n"
        f"      command: {command}\n"
        "      next: success\n" + lines
    )


def error_line(result, *needles: str, task_output: bool = False) -> str:
    """The single ``error:`` line on stderr; checks the exit status, the hint and that no traceback shows.

    ``task_output``: stderr may start with what a task wrote before the error line (runtime failures);
    otherwise the error line (and its hint) is all there is on stderr.
    """
    everything = result.out + result.err
    assert result.code != 0, everything
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(errors) == 1, f"want exactly one 'error:' line on stderr, got:\n{result.err}"
    first = errors[0]
    if not task_output:
        assert first == 0, f"stderr has more than the error:\n{result.err}"
    after = lines[first + 1 :]
    assert len(after) <= 1 and all(line.startswith("hint:") for line in after), (
        f"the error must be one line (plus an optional 'hint:' line):\n{result.err}"
    )
    line = lines[first]
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.out + result.err, result.out + result.err


def assert_no_run_log(folder: Path) -> None:
    store = folder / ".run_log_store"
    assert not store.exists() or not any(store.iterdir()), sorted(p.name for p in store.iterdir())


def assert_failed_run(folder: Path, run_id: str, step: str = "a") -> dict:
    """The run log is readable by `runnable runs show`, and the run and ``step`` are FAIL. Returns the step log."""
    shown = runnable_cli("runs", "show", run_id, cwd=folder)
    assert shown.code == 0, shown.out + shown.err
    assert "FAIL" in shown.out
    log = read_run_log(folder, run_id)
    assert log["status"] == "FAIL"
    step_log = log["steps"][step]
    assert step_log["status"] == "FAIL"
    assert step_log["message"] and "\n" not in step_log["message"], step_log["message"]
    assert step_log["attempts"][-1]["status"] == "FAIL"
    return step_log


def execution_log(folder: Path, run_id: str, step: str = "a") -> str:
    return (folder / ".catalog" / run_id / f"{step}.execution.log").read_text()


# --- 1. malformed YAML ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pipeline", "config", "parameters"])
def test_malformed_yaml_names_file_line_and_column(scratch: Path, which: str) -> None:
    write_tasks(scratch)
    broken = "dag:\n  start_at: a\n  steps: [unclosed\n"
    args = ["execute", write(scratch, "pipeline.yaml", one_task())]
    if which == "pipeline":
        args[1] = write(scratch, "broken.yaml", broken)
    elif which == "config":
        args += [
            "-c",
            write(scratch, "broken.yaml", 'catalog:\n  type: file-system\n  config: {catalog_location: "x}\n'),
        ]
    else:
        args += ["-p", write(scratch, "broken.yaml", "threshold: [1, 2\n")]

    result = runnable_cli(*args, cwd=scratch)

    line = error_line(result, "malformed YAML")
    assert re.search(r"broken\.yaml:\d+:\d+: ", line), line
    assert_no_traceback(result)
    assert_no_run_log(scratch)


# --- 2-7, 15. the pipeline's definition ------------------------------------------------------------------

DEFINITION_ERRORS = {
    "unknown step type": (
        """
        dag:
          start_at: a
          steps:
            a: {type: taks, command: tasks.hello, next: success}
        """,
        ["step 'a'", "'taks'", "known types:", "task", "stub", "success"],
    ),
    "step without type": (
        """
        dag:
          start_at: a
          steps:
            a: {command: tasks.hello, next: success}
        """,
        ["step 'a'", "'type'", "known types:"],
    ),
    "next names no step": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: nowhere}
        """,
        ["step 'a'", "next", "'nowhere'"],
    ),
    "on_failure names no step": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: success, on_failure: rescue}
        """,
        ["step 'a'", "on_failure", "'rescue'"],
    ),
    "start_at names no step": (
        """
        dag:
          start_at: first
          steps:
            a: {type: task, command: tasks.hello, next: success}
        """,
        ["start_at", "'first'"],
    ),
    "cycle": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: b}
            b: {type: task, command: tasks.hello, next: c}
            c: {type: task, command: tasks.hello, next: b}
        """,
        ["cycle", "b -> c -> b"],
    ),
    "unreachable step": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: success}
            orphan: {type: task, command: tasks.hello, next: success}
        """,
        ["step 'orphan'", "cannot be reached", "'a'"],
    ),
    "step name with a dot": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: my.step}
            my.step: {type: stub, next: success}
        """,
        ["step 'my.step'", "'.'"],
    ),
    "unknown key in a step": (
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.hello, next: success, retries: 3}
        """,
        ["step 'a'", "retries", "unknown key"],
    ),
    "no dag": (
        """
        steps:
          a: {type: task, command: tasks.hello, next: success}
        """,
        ["'dag'"],
    ),
}


@pytest.mark.parametrize("case", list(DEFINITION_ERRORS), ids=list(DEFINITION_ERRORS))
def test_pipeline_definition_error_is_one_line_naming_the_step(scratch: Path, case: str) -> None:
    text, needles = DEFINITION_ERRORS[case]
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", text)

    result = runnable_cli("execute", "pipeline.yaml", cwd=scratch)

    error_line(result, "pipeline.yaml: ", *needles)
    assert_no_traceback(result)
    assert_no_run_log(scratch)


def test_missing_pipeline_file(scratch: Path) -> None:
    result = runnable_cli("execute", "nowhere.yaml", cwd=scratch)
    error_line(result, "nowhere.yaml", "not found")
    assert_no_traceback(result)
    assert_no_run_log(scratch)


# --- 8. an import path that does not resolve ----------------------------------------------------------


@pytest.mark.parametrize(
    "command, missing",
    [("no_such_module.hello", "no_such_module"), ("tasks.no_such_function", "no_such_function")],
    ids=["module missing", "attribute missing"],
)
def test_import_path_that_does_not_resolve(scratch: Path, command: str, missing: str) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task(command))

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "imp", cwd=scratch)

    error_line(result, "pipeline.yaml", "step 'a'", missing, task_output=True)
    assert_no_traceback(result)
    if (scratch / ".run_log_store" / "imp.json").exists():  # found while running, not before
        step = assert_failed_run(scratch, "imp")
        assert missing in step["message"]


# --- 9. a function argument with no parameter of that name ----------------------------------------------


def test_argument_without_parameter_names_step_and_argument(scratch: Path) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task("tasks.needs"))
    write(scratch, "params.yaml", "x: 1\n")

    result = runnable_cli("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "arg", cwd=scratch)

    error_line(result, "pipeline.yaml", "step 'a'", "'threshold'", task_output=True)
    assert_no_traceback(result)
    step = assert_failed_run(scratch, "arg")
    assert "'threshold'" in step["message"] and "step 'a'" in step["message"]


# --- 10, 11. the configuration file ---------------------------------------------------------------------

CONFIG_ERRORS = {
    "unknown plugin type": (
        "catalog:\n  type: s3-typo\n",
        ["catalog", "'s3-typo'", "installed:", "file-system"],
    ),
    "unknown config key": (
        "catalog:\n  type: file-system\n  config:\n    catalog_locaton: elsewhere\n",
        ["catalog", "catalog_locaton", "'file-system'", "unknown key"],
    ),
    "wrong value type": (
        "pipeline-executor:\n  type: local\n  config:\n    enable_parallel: [1, 2]\n",
        ["pipeline-executor", "enable_parallel", "'local'"],
    ),
    "unknown section": (
        "catalogue:\n  type: file-system\n",
        ["'catalogue'", "known sections:", "catalog"],
    ),
    "unknown key in a section": (
        "catalog:\n  type: file-system\n  configs: {}\n",
        ["catalog", "'configs'"],
    ),
    "environment variable not set": (
        "run-log-store:\n  type: file-system\n  config:\n    log_folder: ${RUNNABLE_TEST_UNSET_FOLDER}/logs\n",
        ["run-log-store", "log_folder", "RUNNABLE_TEST_UNSET_FOLDER", "not set"],
    ),
    "missing configuration file": (None, ["config.yaml", "not found"]),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS), ids=list(CONFIG_ERRORS))
def test_configuration_error_names_file_section_and_key(scratch: Path, case: str) -> None:
    text, needles = CONFIG_ERRORS[case]
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task())
    if text is not None:
        write(scratch, "config.yaml", text)

    result = runnable_cli("execute", "pipeline.yaml", "-c", "config.yaml", cwd=scratch)

    error_line(result, "config.yaml", *needles)
    assert_no_traceback(result)
    assert_no_run_log(scratch)
    assert not (scratch / ".catalog").exists()


def test_environment_variable_in_config_is_expanded(scratch: Path) -> None:
    """The counterpart of the unset ``${VAR}``: when it is set, its value is used (here for ``type`` too)."""
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task())
    write(scratch, "config.yaml", "run-log-store:\n  type: ${STORE_TYPE}\n  config:\n    log_folder: ${LOGS}/x\n")

    result = runnable_cli(
        "execute",
        "pipeline.yaml",
        "-c",
        "config.yaml",
        "--run-id",
        "env",
        cwd=scratch,
        env={"STORE_TYPE": "file-system", "LOGS": "mylogs"},
    )

    assert result.code == 0, result.out + result.err
    assert (scratch / "mylogs" / "x" / "env.json").exists()


# --- 12. a catalog put glob that matches nothing ---------------------------------------------------------


def test_catalog_put_glob_matching_nothing_names_step_and_glob(scratch: Path) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task("tasks.make_nothing", catalog='{put: ["out/*.csv"]}'))

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "put", cwd=scratch)

    error_line(result, "pipeline.yaml", "step 'a'", "'out/*.csv'", task_output=True)
    assert_no_traceback(result)
    step = assert_failed_run(scratch, "put")
    assert "'out/*.csv'" in step["message"]
    assert "step 'a'" in step["message"]
    assert "wrote no file" in execution_log(scratch, "put")


# --- 13. a missing secret --------------------------------------------------------------------------------


@pytest.mark.parametrize("manager", ["env-secrets", "dotenv"])
def test_missing_secret_names_secret_and_manager(scratch: Path, manager: str) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task(secrets="[API_TOKEN]"))
    args = ["execute", "pipeline.yaml", "--run-id", "sec"]
    if manager == "dotenv":
        write(scratch, "secrets.env", "OTHER_SECRET=not-this-one\n")
        write(scratch, "config.yaml", "secrets:\n  type: dotenv\n  config: {location: secrets.env}\n")
        args += ["-c", "config.yaml"]

    result = runnable_cli(*args, cwd=scratch)

    error_line(result, "pipeline.yaml", "step 'a'", "'API_TOKEN'", f"'{manager}'", task_output=True)
    assert_no_traceback(result)
    step = assert_failed_run(scratch, "sec")
    assert "'API_TOKEN'" in step["message"] and f"'{manager}'" in step["message"]
    assert "not-this-one" not in (scratch / ".run_log_store" / "sec.json").read_text()


# --- 14. a failing task ----------------------------------------------------------------------------------


def test_failing_python_task_keeps_output_and_traceback(scratch: Path) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task("tasks.boom"))

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "boom", cwd=scratch)

    assert result.code == 1, result.out + result.err
    error_line(result, "pipeline.yaml", "step 'a'", "ZeroDivisionError", task_output=True)
    step = assert_failed_run(scratch, "boom")
    assert "ZeroDivisionError: division by zero" in step["message"]
    kept = execution_log(scratch, "boom")
    assert "about to divide" in kept and "a warning on stderr" in kept
    assert "Traceback (most recent call last)" in kept and "ZeroDivisionError" in kept
    assert 'tasks.py", line' in kept  # the traceback reaches into the user's code
    names = [entry["name"] for entry in step["data_catalog"]]
    assert "a.execution.log" in names


def test_failing_task_message_is_one_line_even_when_the_exception_is_not(scratch: Path) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task("tasks.two_lines"))

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "two", cwd=scratch)

    error_line(result, "pipeline.yaml", "step 'a'", "ValueError", "first line", task_output=True)
    step = assert_failed_run(scratch, "two")  # asserts the message has no newline
    assert "first line of the problem" in step["message"]
    kept = execution_log(scratch, "two")
    assert "second line of the problem" in kept and "Traceback" in kept  # the whole story is in the catalog


def test_failing_shell_task_keeps_its_stderr(scratch: Path) -> None:
    write(
        scratch,
        "pipeline.yaml",
        one_task("echo to-stdout; echo went-wrong-on-stderr >&2; exit 3", command_type="shell"),
    )

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "sh", cwd=scratch)

    assert result.code == 1, result.out + result.err
    error_line(result, "pipeline.yaml", "step 'a'", "3", task_output=True)
    step = assert_failed_run(scratch, "sh")
    assert "status 3" in step["message"]
    kept = execution_log(scratch, "sh")
    assert "to-stdout" in kept and "went-wrong-on-stderr" in kept


def test_on_failure_is_followed(scratch: Path) -> None:
    write_tasks(scratch)
    write(
        scratch,
        "pipeline.yaml",
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.boom, next: never, on_failure: cleanup}
            never: {type: task, command: tasks.hello, next: success}
            cleanup: {type: task, command: tasks.recover, next: fail}
        """,
    )

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "onf", cwd=scratch)

    assert result.code == 1, result.out + result.err
    step = assert_failed_run(scratch, "onf", "a")
    assert "ZeroDivisionError" in step["message"]
    log = read_run_log(scratch, "onf")
    assert log["steps"]["cleanup"]["status"] == "SUCCESS"
    assert "never" not in log["steps"]
    assert "recovering after the failure" in execution_log(scratch, "onf", "cleanup")
    assert "Traceback" in execution_log(scratch, "onf", "a")


def test_on_failure_path_to_success_ends_the_run_as_its_terminal_step_says(scratch: Path) -> None:
    """A failure handled by ``on_failure`` leading to ``success``: the failed step stays FAIL in the record,
    the handler runs, and the exit status agrees with the run's status."""
    write_tasks(scratch)
    write(
        scratch,
        "pipeline.yaml",
        """
        dag:
          start_at: a
          steps:
            a: {type: task, command: tasks.boom, next: success, on_failure: cleanup}
            cleanup: {type: task, command: tasks.recover, next: success}
        """,
    )

    result = runnable_cli("execute", "pipeline.yaml", "--run-id", "rec", cwd=scratch)

    log = read_run_log(scratch, "rec")
    assert log["steps"]["a"]["status"] == "FAIL"
    assert log["steps"]["cleanup"]["status"] == "SUCCESS"
    # a handled failure: the run ends as its terminal step says (success), and exits 0
    assert log["status"] == "SUCCESS" and result.code == 0, result.out + result.err
    assert runnable_cli("runs", "show", "rec", cwd=scratch).code == 0


# --- 15. a missing parameters file ----------------------------------------------------------------------


def test_missing_parameters_file(scratch: Path) -> None:
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", one_task())

    result = runnable_cli("execute", "pipeline.yaml", "-p", "params.yaml", cwd=scratch)

    error_line(result, "params.yaml", "parameters file", "not found")
    assert_no_traceback(result)
    assert_no_run_log(scratch)


# --- the error stays one line on a narrow terminal / in a CI log ----------------------------------------


def test_error_line_is_not_wrapped_on_a_narrow_console(scratch: Path) -> None:
    """Rich wraps long lines at the console width (80 when stderr is not a terminal); an error must not be."""
    write_tasks(scratch)
    write(scratch, "pipeline.yaml", DEFINITION_ERRORS["unknown step type"][0])

    result = runnable_cli("execute", "pipeline.yaml", cwd=scratch, env={"COLUMNS": "40"})

    line = error_line(result, "pipeline.yaml", "step 'a'", "known types:")
    assert len(line) > 40
