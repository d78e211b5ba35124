"""Executor suites: rendering executors (manifests for an orchestrator) and job executors.

A *rendering* executor turns the graph into files for an orchestrator (Argo, Step Functions, a shell
script). What users rely on: every task step becomes ``runnable execute-step <pipeline file> <step internal
name> --run-id <id>``, so it runs through the same engine as locally; rendering needs no network and runs
nothing; secret and parameter values never appear in the files (they live in the secrets manager and the
run log store). A *job* executor runs one task and records it as ``run_log.job``.
"""

from __future__ import annotations

import hashlib
import socket
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from runnable.models.graph import CompositeNode, Graph, TaskNode
from runnable.services.executor import BaseJobExecutor, BaseRenderingExecutor
from runnable.testing import tasks
from runnable.testing.commands import StepCommand, find_commands
from runnable.testing.harness import ServiceSuite, Workspace, missing_fixture

SECRET_NAME = "CONFORMANCE_RENDER_TOKEN"  # not RUNNABLE_*: the workspace clears those
# A nested parameter value the rendered files must not hold; not a run of digits an ARN or a port would have.
ROWS = 9753186420

# Task steps of every command type, a name with a space, a stub, and a step reached only through on_failure.
LINEAR = textwrap.dedent(
    f"""
    dag:
      description: the conformance pipeline for rendering executors
      start_at: prepare data
      steps:
        prepare data:
          type: task
          command: runnable.testing.tasks.noop
          secrets: [{SECRET_NAME}]
          on_failure: clean up
          next: train
        train:
          type: task
          command_type: shell
          command: echo training
          next: review
        review:
          type: stub
          next: report
        report:
          type: task
          command_type: notebook
          command: report.ipynb
          next: success
        clean up:
          type: task
          command: runnable.testing.tasks.noop
          next: fail
    """
)

# Every kind of composite step, each holding tasks.
COMPOSITE = textwrap.dedent(
    """
    dag:
      start_at: split
      steps:
        split:
          type: parallel
          next: per item
          branches:
            left:
              start_at: left work
              steps:
                left work: {type: task, command: runnable.testing.tasks.noop, next: success}
            right:
              start_at: right work
              steps:
                right work: {type: task, command_type: shell, command: echo right, next: success}
        per item:
          type: map
          iterate_on: items
          iterate_as: item
          next: choose
          branch:
            start_at: scale
            steps:
              scale: {type: task, command: runnable.testing.tasks.noop, next: check}
              check: {type: task, command: runnable.testing.tasks.noop, next: success}
        choose:
          type: conditional
          parameter: flavour
          next: repeat
          branches:
            sweet:
              start_at: sugar
              steps:
                sugar: {type: task, command: runnable.testing.tasks.noop, next: success}
            salty:
              start_at: salt
              steps:
                salt: {type: task, command: runnable.testing.tasks.noop, next: success}
        repeat:
          type: loop
          max_iterations: 3
          break_on: done
          index_as: round
          next: success
          branch:
            start_at: attempt
            steps:
              attempt: {type: task, command: runnable.testing.tasks.noop, next: success}
    """
)
PIPELINES = {"linear": LINEAR, "composite": COMPOSITE}

# Pipelines the suite runs twice, locally and through the rendered artifact, and compares.
EXECUTED = {
    "every node kind": textwrap.dedent(
        """
        dag:
          start_at: start
          steps:
            start: {type: task, command: runnable.testing.tasks.setup_values, returns: [items, flavour, factor],
                    next: flaky}
            flaky: {type: task, command: runnable.testing.tasks.flaky_once, max_attempts: 2, returns: [tries],
                    next: split}
            split:
              type: parallel
              next: per item
              branches:
                left:
                  start_at: left work
                  steps:
                    left work: {type: task, command_type: shell, command: "export side=left", returns: [side],
                                next: success}
                right:
                  start_at: right work
                  steps:
                    right work: {type: stub, next: success}
            per item:
              type: map
              iterate_on: items
              iterate_as: item
              reducer: "lambda *x: sum(x)"
              next: choose
              branch:
                start_at: scale
                steps:
                  scale: {type: task, command: runnable.testing.tasks.scale, returns: [scaled], next: check}
                  check: {type: task, command: runnable.testing.tasks.refuse_two, returns: [checked],
                          on_failure: mend, next: success}
                  mend: {type: task, command_type: shell, command: "export checked=0", returns: [checked],
                         next: success}
            choose:
              type: conditional
              parameter: flavour
              next: repeat
              branches:
                sweet:
                  start_at: sugar
                  steps:
                    sugar: {type: task, command_type: shell, command: "echo sweet > sweet.txt",
                            catalog: {put: [sweet.txt]}, next: success}
                salty:
                  start_at: salt
                  steps:
                    salt: {type: stub, next: success}
            repeat:
              type: loop
              max_iterations: 3
              break_on: done
              index_as: round
              next: success
              branch:
                start_at: attempt
                steps:
                  attempt: {type: task, command: runnable.testing.tasks.count_rounds, returns: [rounds, done],
                            next: success}
        """
    ),
    "a failing run": textwrap.dedent(
        """
        dag:
          start_at: work
          steps:
            work: {type: task, command: runnable.testing.tasks.fail, on_failure: clean up, next: success}
            clean up: {type: task, command_type: shell, command: echo cleaning, next: fail}
        """
    ),
}


def run_shape(run_log: Any) -> dict[str, Any]:
    """What two runs of one pipeline must share, whoever ran them (an in-process walk, an orchestrator):
    each step's status, type and attempt statuses, the final parameters, the catalog entries and hashes.

    Times, code identities and the executor's configuration may differ. Execution logs and executed
    notebooks are compared by name only: they hold timings and kernel metadata.
    """
    steps, catalog = {}, set()
    for step in run_log.iter_steps():
        steps[step.internal_name] = (step.status, step.step_type, [a.status for a in step.attempts])
        for entry in step.data_catalog:
            compared = not entry.name.endswith((".execution.log", ".ipynb"))
            catalog.add((step.internal_name, entry.stage, entry.name, entry.data_hash if compared else ""))
    return {
        "status": run_log.status,
        "steps": steps,
        "parameters": {name: (p.kind, p.value) for name, p in run_log.parameters.items()},
        "catalog": catalog,
    }


def _refuse_network(*args: Any, **kwargs: Any) -> Any:
    raise OSError("the conformance suite forbids network access while rendering")


def task_coverage(graph: Graph) -> dict[str, tuple[int, ...]]:
    """Each task step, by a readable path, with the ids of itself and of the composite steps around it.

    A task is *covered* when a command runs it or runs a composite step that contains it (an executor may
    hand a whole composite step to ``execute-step``, which runs its branches through the engine).
    """
    found: dict[str, tuple[int, ...]] = {}

    def walk(current: Graph, path: str, around: tuple[int, ...]) -> None:
        for node in current.nodes.values():
            here = f"{path}{node.name}"
            if isinstance(node, TaskNode):
                found[here] = (id(node), *around)
            elif isinstance(node, CompositeNode):
                for key, branch in node.branch_graphs().items():
                    walk(branch, f"{here}.{key}.", (id(node), *around))

    walk(graph, "", ())
    return found


class RenderingExecutorSuite(ServiceSuite):
    """Subclass it and provide a ``pipeline_executor`` fixture returning a configured rendering executor::

        class TestMyExecutor(RenderingExecutorSuite):
            @pytest.fixture
            def pipeline_executor(self):
                return MyExecutor(image="registry.example.com/project:1.0")

    Commands are found in shell text, JSON/YAML argv lists and container ``command``+``args``; override
    :meth:`commands_in` if your files write them another way.
    """

    @pytest.fixture
    def pipeline_executor(self) -> BaseRenderingExecutor:
        missing_fixture(type(self).__name__, "pipeline_executor", "the rendering executor instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    @pytest.fixture
    def artifact_runner(self) -> Callable[[dict[str, str], Path], None]:
        """A function running what the executor rendered as its orchestrator would, on this machine.

        It is given the rendered files and the project folder, and runs the commands the files hold, in the
        order the orchestrator runs them (dependencies, fan-outs, conditions, loops, retries, failure
        paths), each in a fresh process with the folder as working directory; ``python -m runnable`` may
        stand for the container's ``runnable``. It returns when the run is over.
        """
        missing_fixture(
            type(self).__name__,
            "artifact_runner",
            "a function (files: dict[str, str], folder: Path) -> None that runs the rendered commands in order",
        )
        raise AssertionError  # unreachable: missing_fixture fails the test

    def commands_in(self, files: dict[str, str]) -> list[StepCommand]:
        """The ``runnable execute-step`` commands in the rendered files."""
        return find_commands(files)

    @pytest.fixture
    def secret_value(self, monkeypatch: pytest.MonkeyPatch) -> str:
        value = f"secret-{uuid.uuid4().hex}"
        monkeypatch.setenv(SECRET_NAME, value)
        return value

    @pytest.fixture
    def parameter_value(self) -> str:
        return f"parameter-{uuid.uuid4().hex}"

    @pytest.fixture(params=sorted(PIPELINES))
    def context(
        self,
        request: pytest.FixtureRequest,
        pipeline_executor: BaseRenderingExecutor,
        workspace: Workspace,
        secret_value: str,
        parameter_value: str,
    ) -> Any:
        """A run prepared as ``runnable render pipeline.yaml -c config.yaml -p parameters.yaml`` would."""
        from runnable.yaml_loader import load_pipeline_yaml

        Path("pipeline.yaml").write_text(PIPELINES[request.param])
        parameters = {"threshold": parameter_value, "limits": {"rows": ROWS}}
        parameters.update(items=[1, 2], flavour="sweet", done=False)
        return workspace.prepare(
            load_pipeline_yaml("pipeline.yaml"), pipeline_executor, parameters=parameters, pipeline_file="pipeline.yaml"
        )

    @pytest.fixture
    def rendered(self, pipeline_executor: BaseRenderingExecutor, context: Any) -> dict[str, str]:
        return pipeline_executor.render(context)

    @staticmethod
    def _resolve(graph: Graph, command: StepCommand) -> Any:
        """The node ``runnable execute-step`` would run for this command (``%`` stands for a space)."""
        from runnable.entrypoints import find_step

        return find_step(graph, command.step.replace("%", " "))[0]

    # --- the files ------------------------------------------------------------------------------------------

    def test_is_a_rendering_executor(self, pipeline_executor: BaseRenderingExecutor) -> None:
        assert isinstance(pipeline_executor, BaseRenderingExecutor)
        assert isinstance(type(pipeline_executor).service_name, str) and type(pipeline_executor).service_name

    def test_render_returns_text_files_with_relative_names(self, rendered: dict[str, str]) -> None:
        assert rendered, "render() must return at least the main manifest"
        for name, text in rendered.items():
            path = PurePosixPath(name)
            assert name and not path.is_absolute() and ".." not in path.parts, f"{name!r}: not a relative name"
            assert isinstance(text, str) and text.strip(), f"{name}: empty or not text"

    def test_every_task_step_runs_through_execute_step(self, rendered: dict[str, str], context: Any) -> None:
        from runnable.errors import RunnableError

        covered = set()
        for command in self.commands_in(rendered):
            try:
                covered.add(id(self._resolve(context.graph, command)))
            except RunnableError:
                continue  # reported by the next test
        missing = [name for name, ids in task_coverage(context.graph).items() if not covered.intersection(ids)]
        assert not missing, f"task steps no `runnable execute-step` command runs: {missing}"

    def test_commands_name_the_pipeline_file_a_known_step_and_a_run_id(
        self, rendered: dict[str, str], context: Any
    ) -> None:
        commands = self.commands_in(rendered)
        assert commands, "no `runnable execute-step` command found in the rendered files"
        from runnable.errors import RunnableError

        for command in commands:
            where = f"{command.file}: {' '.join(command.argv)}"
            assert command.calls_runnable, f"{where}: execute-step must be a runnable command"
            assert command.pipeline_file in ("pipeline.yaml", str(Path("pipeline.yaml").resolve())), where
            try:
                self._resolve(context.graph, command)
            except RunnableError as error:
                pytest.fail(f"{where}: names no step of the pipeline (quoting?): {error}")
            assert command.run_id, f"{where}: no --run-id"

    # --- what the files do, run ----------------------------------------------------------------------------

    @pytest.mark.parametrize("pipeline", sorted(EXECUTED))
    def test_running_the_rendered_files_records_what_a_local_run_records(
        self,
        pipeline: str,
        pipeline_executor: BaseRenderingExecutor,
        artifact_runner: Callable[[dict[str, str], Path], None],
        workspace: Workspace,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from runnable.defaults.file_system_run_log import FileSystemRunLogStore
        from runnable.yaml_loader import load_pipeline_yaml

        shapes = {}
        for way in ("local", "rendered"):
            folder = workspace.root / way
            folder.mkdir()
            monkeypatch.chdir(folder)
            Path("pipeline.yaml").write_text(EXECUTED[pipeline])
            graph = load_pipeline_yaml("pipeline.yaml")
            store = FileSystemRunLogStore(log_folder=str(workspace.run_log_folder))
            before = set(store.list_run_ids())
            if way == "local":
                run_log = workspace.run(graph, parameters={"unused": 0}, run_id="local-reference")
            else:
                context = workspace.prepare(
                    graph, pipeline_executor, parameters={"unused": 0}, pipeline_file="pipeline.yaml"
                )
                artifact_runner(pipeline_executor.render(context), folder)
                started = sorted(set(store.list_run_ids()) - before)
                assert len(started) == 1, f"running the rendered files started {len(started)} runs: {started}"
                run_log = store.get_run_log(started[0])
            shapes[way] = run_shape(run_log)
        local, rendered = shapes["local"], shapes["rendered"]
        assert rendered["steps"] == local["steps"], "steps ran with other statuses or attempts than locally"
        assert rendered["parameters"] == local["parameters"], "the final parameters differ from a local run's"
        assert rendered["catalog"] == local["catalog"], "the catalog entries differ from a local run's"
        assert rendered["status"] == local["status"]

    # --- what must not be in the files ----------------------------------------------------------------------

    def test_no_secret_value_in_the_rendered_files(self, rendered: dict[str, str], secret_value: str) -> None:
        leaked = [name for name, text in rendered.items() if secret_value in text]
        assert not leaked, f"the value of secret {SECRET_NAME} is written in {leaked}"

    def test_no_parameter_value_in_the_rendered_files(self, rendered: dict[str, str], parameter_value: str) -> None:
        """Parameters stay in the run log store, where every step reads them: a manifest carries none."""
        leaked = [name for name, text in rendered.items() if parameter_value in text or str(ROWS) in text]
        assert not leaked, f"initial parameter values are written in {leaked}"

    # --- how rendering behaves ------------------------------------------------------------------------------

    def test_render_needs_no_network(
        self, pipeline_executor: BaseRenderingExecutor, context: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("connect", "connect_ex", "sendto"):
            monkeypatch.setattr(socket.socket, name, _refuse_network)
        monkeypatch.setattr(socket, "create_connection", _refuse_network)
        monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
        assert pipeline_executor.render(context)

    def test_render_runs_nothing_and_records_nothing(
        self, rendered: dict[str, str], workspace: Workspace, context: Any
    ) -> None:
        assert workspace.persisted_text() == "", "rendering wrote to the run log store or the catalog"
        assert context.run_log_store.list_run_ids() == [], "rendering created a run"

    def test_render_is_repeatable(
        self, pipeline_executor: BaseRenderingExecutor, context: Any, rendered: dict[str, str]
    ) -> None:
        """The same pipeline renders to the same files, so manifests can be reviewed and diffed."""
        assert pipeline_executor.render(context) == rendered


class JobExecutorSuite(ServiceSuite):
    """Subclass it and provide a ``job_executor`` fixture returning a configured job executor::

    class TestMyJobExecutor(JobExecutorSuite):
        @pytest.fixture
        def job_executor(self):
            return MyJobExecutor()
    """

    @pytest.fixture
    def job_executor(self) -> BaseJobExecutor:
        missing_fixture(type(self).__name__, "job_executor", "the job executor instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    def test_is_a_job_executor(self, job_executor: BaseJobExecutor) -> None:
        assert isinstance(job_executor, BaseJobExecutor)
        assert isinstance(type(job_executor).service_name, str) and type(job_executor).service_name

    def test_a_python_job_is_run_and_recorded(
        self, job_executor: BaseJobExecutor, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from runnable import Catalog, PythonJob, metric
        from runnable.defaults.file_system_run_log import FileSystemRunLogStore

        secret = f"job-secret-{uuid.uuid4().hex}"
        monkeypatch.setenv(SECRET_NAME, secret)
        job = PythonJob(
            function=tasks.write_job_output,
            returns=["rows", metric("ratio")],
            catalog=Catalog(put=["job-output/*"]),
            secrets=[SECRET_NAME],
        )
        run_log = workspace.run(job.return_dag(), job_executor, parameters={"size": 7}, job=True)
        assert run_log.job is not None, "a job's record is run_log.job"
        assert run_log.status == "SUCCESS" and run_log.job.status == "SUCCESS", run_log.job.message
        assert run_log.steps == {}, "a job has no pipeline steps"
        assert run_log.parameters["rows"].value == 70
        assert run_log.job.attempts[-1].user_defined_metrics == {"ratio": 0.7}
        (entry,) = [e for e in run_log.job.data_catalog if e.name == "job-output/result.txt"]
        assert entry.data_hash == hashlib.sha256(b"x" * 7).hexdigest()

        stored = FileSystemRunLogStore(log_folder=str(workspace.run_log_folder)).get_run_log(run_log.run_id)
        assert stored.model_dump(mode="json") == run_log.model_dump(mode="json"), "the store holds the record"
        assert secret not in workspace.persisted_text(), "a secret value was persisted"

    def test_a_failing_job_is_recorded_as_failed_with_its_output(
        self, job_executor: BaseJobExecutor, workspace: Workspace
    ) -> None:
        from runnable import ShellJob

        job = ShellJob(command="echo about to fail; exit 3")
        run_log = workspace.run(job.return_dag(), job_executor, job=True)
        assert run_log.status == "FAIL" and run_log.job is not None and run_log.job.status == "FAIL"
        assert run_log.job.message, "a failed job says why"
        logs = [e for e in run_log.job.data_catalog if e.name.endswith("execution.log")]
        assert logs, "a failed job keeps its output in the catalog"
        assert "about to fail" in (workspace.catalog_folder / logs[0].catalog_relative_path).read_text()
