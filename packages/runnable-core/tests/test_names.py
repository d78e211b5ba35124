"""Every user name that becomes part of a path is checked once: run ids, step names, branch keys, return names,
map item keys. Hostile names are refused with one line naming the offender, and nothing is written outside
the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_helpers import write
from runnable import Map, Parallel, Pipeline, PythonTask, Stub, pickled
from runnable.errors import ParameterError, PipelineDefinitionError, RunnableError
from runnable.models.names import MAX_NAME_LENGTH, MAX_RUN_ID_LENGTH, check_map_item_key, check_name, check_run_id
from runnable.models.run_log import RunLog
from runnable.yaml_loader import load_pipeline_yaml

PIPELINE = """
dag:
  start_at: hello
  steps:
    hello:
      type: task
      command_type: shell
      command: echo hello
      next: success
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project two folders deep, so that ``../../x`` from it still lands inside ``tmp_path`` (and is seen)."""
    folder = tmp_path / "a" / "b" / "project"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    for key in list(os.environ):
        if key.startswith("RUNNABLE_"):
            monkeypatch.delenv(key)
    return folder


def _outside_files(tmp_path: Path, project: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and project not in p.parents]


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "runnable", *args], cwd=cwd, env=full, capture_output=True, text=True)


def _assert_one_line_refusal(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    first = done.stderr.strip().splitlines()[0]
    for word in words:
        assert word in first, first


def test_cli_run_id_with_dot_dot_is_refused_and_nothing_is_written_outside(tmp_path, project):
    write(project / "pipeline.yaml", PIPELINE)
    done = _cli("execute", "pipeline.yaml", "--run-id", "../../x", cwd=project)
    _assert_one_line_refusal(done, "run id", "'../../x'")
    assert _outside_files(tmp_path, project) == []
    assert not (project / ".run_log_store").exists() or not any((project / ".run_log_store").iterdir())


def test_absolute_run_id_from_the_environment_is_refused(tmp_path, project):
    write(project / "pipeline.yaml", PIPELINE)
    target = tmp_path / "elsewhere" / "x"
    done = _cli("execute", "pipeline.yaml", cwd=project, env={"RUNNABLE_RUN_ID": str(target)})
    # the offending value is quoted, cut to 80 characters when longer (pytest's tmp_path may be)
    _assert_one_line_refusal(done, "run id", str(target)[:70])
    assert not target.parent.exists()
    assert _outside_files(tmp_path, project) == []


def test_sdk_run_id_is_refused_before_anything_is_written(tmp_path, project):
    pipeline = Pipeline(steps=[Stub(name="s")])
    with pytest.raises(RunnableError, match=r"^run id '\.\./\.\./x' is not allowed"):
        pipeline.execute(run_id="../../x")
    assert _outside_files(tmp_path, project) == []
    assert not (project / ".run_log_store").exists()


def test_yaml_branch_key_with_a_path_is_refused_naming_file_and_key(project):
    write(
        project / "pipeline.yaml",
        """
        dag:
          start_at: fan
          steps:
            fan:
              type: parallel
              next: success
              branches:
                x/../../y:
                  start_at: s
                  steps:
                    s: {type: stub, next: success}
        """,
    )
    with pytest.raises(PipelineDefinitionError) as caught:
        load_pipeline_yaml(project / "pipeline.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert "pipeline.yaml" in message and "step 'fan'" in message and "branch key 'x/../../y'" in message


def test_yaml_pickled_return_named_like_a_path_is_refused(project):
    write(
        project / "pipeline.yaml",
        """
        dag:
          start_at: make
          steps:
            make:
              type: task
              command: tasks.make
              returns: [{name: ../../x, kind: object}]
              next: success
        """,
    )
    with pytest.raises(PipelineDefinitionError, match=r"step 'make'.*return name '\.\./\.\./x' is not allowed"):
        load_pipeline_yaml(project / "pipeline.yaml")


def test_cli_refuses_the_bad_yaml_return_in_one_line_and_writes_nothing(tmp_path, project):
    write(
        project / "pipeline.yaml",
        """
        dag:
          start_at: make
          steps:
            make:
              type: task
              command: tasks.make
              returns: [{name: ../../x, kind: object}]
              next: success
        """,
    )
    done = _cli("execute", "pipeline.yaml", "--run-id", "ok", cwd=project)
    _assert_one_line_refusal(done, "pipeline.yaml", "return name '../../x'")
    assert _outside_files(tmp_path, project) == []


def test_sdk_names_are_checked_by_the_same_rule():
    with pytest.raises(PipelineDefinitionError, match=r"^return name '\.\./\.\./x' is not allowed"):
        PythonTask(name="make", function=print, returns=[pickled("../../x")]).create_node("success")
    with pytest.raises(PipelineDefinitionError, match=r"step 'fan': branch key 'x/../../y' is not allowed"):
        Pipeline(steps=[Parallel(name="fan", branches={"x/../../y": Pipeline(steps=[Stub(name="s")])})])
    with pytest.raises(PipelineDefinitionError, match=r"step name 'a/b' is not allowed: it cannot contain '/'"):
        Stub(name="a/b")
    Pipeline(steps=[Map(name="each", iterate_on="xs", iterate_as="x", branch=Pipeline(steps=[Stub(name="in")]))])


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("../../x", "run id"),
        ("/tmp/x", "run id"),
        (".hidden", "run id"),
        ("a\x00b", "run id"),
        ("x" * (MAX_RUN_ID_LENGTH + 1), "run id"),
        ("x" * (MAX_NAME_LENGTH + 1), "step name"),
        ("a.b", "step name"),
        ("a/b", "step name"),
        ("a\\b", "step name"),
        (" a", "step name"),
        ("a  b", "step name"),
        ("", "step name"),
        ("x/../../y", "branch key"),
        ("..", "branch key"),
        ("../../x", "return name"),
        ("1x", "return name"),
        ("x-y", "return name"),
        ("a/b", "map item key"),
        ("0.5", "map item key"),
    ],
)
def test_unsafe_names_are_refused_in_one_line_naming_offender_and_kind(value, kind):
    with pytest.raises(RunnableError) as caught:
        check_name(value, kind)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{kind} {value[:77]!r}"[: len(kind) + 4])
    assert caught.value.hint


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("nightly-2024-06-01", "run id"),
        ("v1.2", "run id"),
        ("agile-bohr-120000-00ff", "run id"),
        ("train model", "step name"),
        ("étape_1", "step name"),
        ("lr_0_1", "map item key"),
        ("left", "branch key"),
        ("total_2", "return name"),
        ("x" * MAX_RUN_ID_LENGTH, "run id"),
        ("x" * MAX_NAME_LENGTH, "return name"),
    ],
)
def test_ordinary_names_pass(value, kind):
    assert check_name(value, kind) == value


def test_error_types_and_engine_helpers():
    with pytest.raises(ParameterError, match=r"^map item key 'a/b'"):
        check_map_item_key("a/b")
    with pytest.raises(RunnableError, match=r"^run id '\.\./x'"):
        check_run_id("../x")
    assert check_map_item_key("item_3") == "item_3"


def test_run_log_model_cannot_hold_an_unsafe_run_id():
    with pytest.raises(RunnableError, match="run id"):
        RunLog(run_id="../../x")
    assert RunLog(run_id="fine-1").run_id == "fine-1"


def test_retry_into_a_run_id_with_dot_dot_writes_nothing_outside(tmp_path, project):
    write(
        project / "pipeline.yaml",
        """
        dag:
          start_at: a
          steps:
            a:
              type: task
              command_type: shell
              command: echo hi; exit 1
              next: success
        """,
    )
    _cli("execute", "pipeline.yaml", "--run-id", "orig", cwd=project)
    assert (project / ".catalog" / "orig").is_dir()
    done = _cli("retry", "orig", "--run-id", "../../x", cwd=project)
    _assert_one_line_refusal(done, "run id", "'../../x'")
    assert _outside_files(tmp_path, project) == []
