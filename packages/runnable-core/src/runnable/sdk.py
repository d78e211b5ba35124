"""The Python SDK: the names pipelines are written with (``from runnable import Pipeline, PythonTask``).

These are thin, validated descriptions that compile to the graph model (:mod:`runnable.models.graph`); the
YAML loader compiles to the same model, which is why both forms run identically. Names, fields and
defaults follow the original runnable so existing pipelines run unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from runnable.errors import PipelineDefinitionError, RunnableError
from runnable.models import graph as g
from runnable.models.names import check_name

if TYPE_CHECKING:  # the run log's models load when a run starts, not when a pipeline file imports the SDK
    from runnable.models.run_log import RunLog

SUCCESS, PROCESSING = "SUCCESS", "PROCESSING"  # runnable.models.run_log's statuses

TaskReturns = g.ReturnSpec
SUCCESS_NAME, FAIL_NAME = "success", "fail"
RESERVED = {SUCCESS_NAME, FAIL_NAME}


def pickled(name: str) -> g.ReturnSpec:
    """Return marker: keep the value as a pickled object in the catalog (models, dataframes...)."""
    return g.ReturnSpec(name=name, kind="object")


def metric(name: str) -> g.ReturnSpec:
    """Return marker: a number (or list of numbers) recorded as a metric and sent to experiment trackers."""
    return g.ReturnSpec(name=name, kind="metric")


def json(name: str) -> g.ReturnSpec:
    """Return marker: a JSON value kept in the run log (the default for plain names)."""
    return g.ReturnSpec(name=name, kind="json")


class ExecutionFailedError(RunnableError):
    """Raised by ``Pipeline.execute()`` when the run did not end in success."""

    exit_code = 1

    def __init__(self, run_id: str, run_log: RunLog | None = None) -> None:
        super().__init__(f"run {run_id!r} failed")
        self.run_id = run_id
        self.run_log = run_log


class Catalog(BaseModel):
    """Files to ``get`` from the run's catalog before a step and to ``put`` into it after the step succeeds."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    get: list[str] = Field(default_factory=list)
    put: list[str] = Field(default_factory=list)
    store_copy: bool = True
    compute_data_folder: str | None = None


class BaseTraversal(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True, defer_build=True)

    name: str
    next_node: str = Field(default="", alias="next")
    terminate_with_success: bool = False
    terminate_with_failure: bool = False
    on_failure: Pipeline | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return g.check_node_name(name)

    @model_validator(mode="after")
    def _terminations(self) -> BaseTraversal:
        if self.terminate_with_success and self.terminate_with_failure:
            raise ValueError(f"step {self.name!r}: terminate_with_success and terminate_with_failure are exclusive")
        return self

    def __rshift__(self, other: BaseTraversal) -> BaseTraversal:
        """``a >> b``: b runs after a."""
        if self.next_node:
            raise PipelineDefinitionError(f"step {self.name!r} already has next {self.next_node!r}")
        self.next_node = other.name
        return other

    def __lshift__(self, other: BaseTraversal) -> BaseTraversal:
        """``a << b``: a runs after b."""
        if other.next_node:
            raise PipelineDefinitionError(f"step {other.name!r} already has next {other.next_node!r}")
        other.next_node = self.name
        return other

    def as_pipeline(self) -> Pipeline:
        return Pipeline(steps=[self], name=self.name)  # type: ignore[list-item]

    def _node_fields(self, next_node: str) -> dict[str, Any]:
        return {"name": self.name, "next": next_node}

    def create_node(self, next_node: str) -> g.BaseNode:
        raise NotImplementedError


def _task_node(task: Any, name: str, next_node: str) -> g.TaskNode:
    """The graph node of a task or job description (both carry command, returns, catalog, secrets)."""
    returns = [g.ReturnSpec(name=r) if isinstance(r, str) else r for r in task.returns]
    catalog = g.CatalogSpec(**task.catalog.model_dump()) if task.catalog else None
    node = g.TaskNode(
        name=name,
        next=next_node,
        command_type=task.command_type,
        command=task._command(),
        returns=returns,
        catalog=catalog,
        secrets=list(task.secrets),
        overrides=dict(getattr(task, "overrides", {})),
        timeout=getattr(task, "timeout", None),
        **task._extra_node_fields(),
    )
    return task._attach(node)


class BaseTask(BaseTraversal):
    catalog: Catalog | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    returns: list[str | g.ReturnSpec] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    # Seconds an attempt may run before it is stopped and the step fails; None: no limit.
    timeout: float | None = Field(default=None, gt=0)

    def create_node(self, next_node: str) -> g.BaseNode:
        return _task_node(self, self.name, next_node)


class _Command(BaseModel):
    """What a task and a job of the same kind share: the command and how it becomes a node's fields."""

    command_type: Any = None

    def _command(self) -> str:
        raise NotImplementedError

    def _extra_node_fields(self) -> dict[str, Any]:
        return {}

    def _attach(self, node: g.TaskNode) -> g.TaskNode:
        return node


class _PythonCommand(_Command):
    function: Callable[..., Any] = Field(exclude=True)
    command_type: Any = "python"

    def _command(self) -> str:
        function = self.function
        module = function.__module__
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if module == "__main__" and main_file:  # `python pipeline.py`: named as `runnable execute` imports it
            from runnable.frontdoor import pipeline_module_name

            module = pipeline_module_name(Path(main_file))
        return f"{module}.{getattr(function, '__qualname__', function.__name__)}"

    def _attach(self, node: g.TaskNode) -> g.TaskNode:
        node._function = self.function  # runs in-process even when defined in __main__
        return node


class _NotebookCommand(_Command):
    notebook: str
    optional_ploomber_args: dict[str, Any] | None = None
    command_type: Any = "notebook"

    def _command(self) -> str:
        return self.notebook

    def _extra_node_fields(self) -> dict[str, Any]:
        return {"optional_ploomber_args": self.optional_ploomber_args or {}}


class _ShellCommand(_Command):
    command: str
    command_type: Any = "shell"

    def _command(self) -> str:
        return self.command


class PythonTask(_PythonCommand, BaseTask):
    """Run ``function`` in-process; its arguments are bound from the parameters by name."""


class NotebookTask(_NotebookCommand, BaseTask):
    """Execute a Jupyter notebook in a kernel; parameters injected, ``returns`` read from its namespace."""


class ShellTask(_ShellCommand, BaseTask):
    """Run a shell command; parameters arrive as environment variables, ``export``-ed names return."""


class Stub(BaseTraversal):
    """A placeholder that succeeds without doing anything; any extra keyword is accepted and kept."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True, populate_by_name=True, defer_build=True)
    catalog: Catalog | None = None

    def create_node(self, next_node: str) -> g.BaseNode:
        extra = dict(self.__pydantic_extra__ or {})
        return g.StubNode(name=self.name, next=next_node, **extra)


def _branch_keys(owner: str, keys: list[str]) -> None:
    for key in keys:
        try:
            check_name(key, "branch key")
        except RunnableError as error:
            raise PipelineDefinitionError(f"step {owner!r}: {error}", hint=error.hint) from None


class Parallel(BaseTraversal):
    """Run every branch (a ``Pipeline`` each); what they return is merged back when all are done."""

    branches: dict[str, Pipeline]

    def create_node(self, next_node: str) -> g.BaseNode:
        _branch_keys(self.name, list(self.branches))
        branches = {key: pipeline._graph for key, pipeline in self.branches.items()}
        return g.ParallelNode(name=self.name, next=next_node, branches=branches)


class Map(BaseTraversal):
    """Run ``branch`` once per item of the list parameter ``iterate_on``, the item bound to ``iterate_as``.

    Each return of the branch is reduced over the iterations: by default into a list in iteration order,
    or by ``reducer``, a lambda written as a string (``"lambda *x: max(x)"``).
    """

    branch: Pipeline
    iterate_on: str
    iterate_as: str
    reducer: str | None = None

    def create_node(self, next_node: str) -> g.BaseNode:
        return g.MapNode(
            name=self.name,
            next=next_node,
            branch=self.branch._graph,
            iterate_on=self.iterate_on,
            iterate_as=self.iterate_as,
            reducer=self.reducer,
        )


class Conditional(BaseTraversal):
    """Run the one branch whose key equals the value of ``parameter`` (compared as strings)."""

    branches: dict[str, Pipeline]
    parameter: str

    def create_node(self, next_node: str) -> g.BaseNode:
        _branch_keys(self.name, list(self.branches))
        branches = {key: pipeline._graph for key, pipeline in self.branches.items()}
        return g.ConditionalNode(name=self.name, next=next_node, branches=branches, parameter=self.parameter)


class Loop(BaseTraversal):
    """Run ``branch`` repeatedly, ``index_as`` = 0, 1, ..., until ``break_on`` is true or ``max_iterations``."""

    branch: Pipeline
    max_iterations: int
    break_on: str
    index_as: str

    def create_node(self, next_node: str) -> g.BaseNode:
        return g.LoopNode(
            name=self.name,
            next=next_node,
            branch=self.branch._graph,
            max_iterations=self.max_iterations,
            break_on=self.break_on,
            index_as=self.index_as,
        )


class Success(BaseModel):
    """The end of a pipeline that succeeded. Added automatically; list it only to be explicit."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str = SUCCESS_NAME


class Fail(BaseModel):
    """The end of a pipeline that failed. Added automatically; list it only to be explicit."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str = FAIL_NAME


class Pipeline(BaseModel):
    """Steps run in the order listed (each step's ``next`` is the one after it), ending in success."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    steps: list[Any]
    name: str = ""
    description: str = ""

    _graph: g.Graph = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._graph = self._build()

    def _build(self) -> g.Graph:
        where = f"pipeline {self.name!r}" if self.name else "pipeline"
        steps = [s for s in self.steps if not isinstance(s, (Success, Fail))]
        if not steps:
            raise PipelineDefinitionError(f"{where}: it has no steps")
        nodes: dict[str, g.BaseNode] = {}

        def add(node: g.BaseNode) -> None:
            if node.name in nodes or node.name in RESERVED:
                raise PipelineDefinitionError(f"{where}: step name {node.name!r} is used twice or reserved")
            nodes[node.name] = node

        for index, step in enumerate(self.steps):
            if isinstance(step, (Success, Fail)):
                continue
            if not isinstance(step, BaseTraversal):
                raise PipelineDefinitionError(f"{where}: steps[{index}] is a {type(step).__name__}, not a step")
            node = step.create_node(self._next_of(index, step))
            add(node)
            if step.on_failure is not None:
                failure = step.on_failure
                node.on_failure = failure._graph.start_at
                for other in failure._graph.nodes.values():
                    if not other.is_terminal:
                        add(other.model_copy())
        nodes[SUCCESS_NAME] = g.SuccessNode(name=SUCCESS_NAME)
        nodes[FAIL_NAME] = g.FailNode(name=FAIL_NAME)
        graph = g.Graph(
            name=self.name,
            description=self.description,
            start_at=steps[0].name,
            nodes=nodes,  # type: ignore[arg-type]
        )
        return graph.validate_structure(where)

    def _next_of(self, index: int, step: BaseTraversal) -> str:
        if step.terminate_with_success:
            return SUCCESS_NAME
        if step.terminate_with_failure:
            return FAIL_NAME
        if step.next_node:
            return step.next_node
        if index + 1 < len(self.steps):
            return self.steps[index + 1].name
        return SUCCESS_NAME

    def return_dag(self) -> g.Graph:
        """The graph this pipeline compiles to (the same model the YAML loader produces)."""
        return self._graph

    def execute(
        self,
        configuration_file: str = "",
        run_id: str = "",
        tag: str = "",
        parameters_file: str = "",
        log_level: str = "WARNING",
    ) -> RunLog | None:
        """Run the pipeline with the configured executor and return its run log.

        Raises :class:`ExecutionFailedError` when the run fails. Called while the CLI or an executor only
        needs the pipeline's definition (``runnable execute file.py`` loading ``main()``, a container
        rebuilding the graph), it runs nothing and returns ``None``.
        """
        from runnable import frontdoor

        front = frontdoor.current()
        if front is not None:
            if front.define_only:
                front.pipeline = self
                return None
            configuration_file = front.configuration_file or configuration_file
            parameters_file = front.parameters_file or parameters_file
            run_id = front.run_id or run_id
            tag = front.tag or tag
        if run_id:  # refused before anything is written (also checked where every run starts)
            check_name(run_id, "run id")
        pipeline_file = front.pipeline_file if front else sys._getframe(1).f_code.co_filename
        run_log = frontdoor.run_graph(
            self._graph,
            configuration_file=configuration_file,
            parameters_file=parameters_file,
            run_id=run_id,
            tag=tag,
            pipeline_file=pipeline_file,
        )
        if front is not None:
            front.pipeline = self
            front.run_log = run_log
        if run_log.status != SUCCESS:
            raise ExecutionFailedError(run_log.run_id, run_log)
        return run_log


JOB_NAME = "job"


class BaseJob(BaseModel):
    """A single task run on its own, without a pipeline (``PythonJob(...).execute()``)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    catalog: Catalog | None = None
    returns: list[str | g.ReturnSpec] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    # Seconds the job may run before it is stopped and fails; None: no limit.
    timeout: float | None = Field(default=None, gt=0)

    @field_validator("catalog")
    @classmethod
    def _put_only(cls, catalog: Catalog | None) -> Catalog | None:
        if catalog is not None and catalog.get:
            raise ValueError("Catalog get is not supported for jobs: a job has no earlier step to get from")
        return catalog

    def get_task(self) -> g.TaskNode:
        return _task_node(self, JOB_NAME, "success")

    def return_dag(self) -> g.Graph:
        nodes = {
            JOB_NAME: self.get_task(),
            SUCCESS_NAME: g.SuccessNode(name=SUCCESS_NAME),
            FAIL_NAME: g.FailNode(name=FAIL_NAME),
        }
        return g.Graph(start_at=JOB_NAME, nodes=nodes)  # type: ignore[arg-type]

    def execute(
        self,
        configuration_file: str = "",
        job_id: str = "",
        tag: str = "",
        parameters_file: str = "",
        log_level: str = "WARNING",
    ) -> RunLog | None:
        """Run the job with the configured job executor; raises :class:`ExecutionFailedError` if it fails.

        An executor that submits the job to run elsewhere (``aws-batch``) returns the run log as it stands,
        ``PROCESSING``: that is no failure."""
        from runnable import frontdoor

        front = frontdoor.current()
        if front is not None:
            if front.define_only:
                front.pipeline = self  # type: ignore[assignment]
                return None
            configuration_file = front.configuration_file or configuration_file
            parameters_file = front.parameters_file or parameters_file
            job_id = front.run_id or job_id
            tag = front.tag or tag
        if job_id:
            check_name(job_id, "run id")
        run_log = frontdoor.run_graph(
            self.return_dag(),
            configuration_file=configuration_file,
            parameters_file=parameters_file,
            run_id=job_id,
            tag=tag,
            pipeline_file=front.pipeline_file if front else sys._getframe(1).f_code.co_filename,
            job=True,
        )
        if front is not None:
            front.pipeline = self  # type: ignore[assignment]
            front.run_log = run_log
        if run_log.status not in (SUCCESS, PROCESSING):  # PROCESSING: submitted to a service that runs it
            raise ExecutionFailedError(run_log.run_id, run_log)
        return run_log


class PythonJob(_PythonCommand, BaseJob):
    """Call ``function`` once, as a job."""


class NotebookJob(_NotebookCommand, BaseJob):
    """Execute a notebook once, as a job."""


class ShellJob(_ShellCommand, BaseJob):
    """Run a shell command once, as a job."""


# Schemas are built when a class is first used (defer_build): a pipeline file pays for the classes it uses,
# not for all twenty (issue 22: `from runnable import Pipeline, PythonTask` stays close to importing pydantic).
