"""Front doors meet here: load a pipeline from a file (YAML or Python) and run a graph.

A Python pipeline file follows the convention of the original runnable: it defines ``main()``, which builds
the pipeline, calls ``execute()`` and returns the pipeline. To run such a file, or only to rebuild its graph
(an executor preparing a step in a container), the file is imported and ``main()`` called while a
:class:`FrontDoor` is active; ``Pipeline.execute()`` consults it, so the CLI's options win over the
arguments written in the file, and in *define only* mode nothing runs at all.
"""

from __future__ import annotations

import contextvars
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runnable.errors import ImportPathError, PipelineDefinitionError

if TYPE_CHECKING:
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog, StepLog
    from runnable.sdk import Pipeline


@dataclass
class FrontDoor:
    pipeline_file: str = ""
    configuration_file: str = ""
    parameters_file: str = ""
    run_id: str = ""
    tag: str = ""
    define_only: bool = False
    pipeline: Pipeline | None = None
    run_log: RunLog | None = None


_current: contextvars.ContextVar[FrontDoor | None] = contextvars.ContextVar("runnable_front_door", default=None)


def current() -> FrontDoor | None:
    return _current.get()


@contextmanager
def front_door(door: FrontDoor) -> Iterator[FrontDoor]:
    token = _current.set(door)
    try:
        yield door
    finally:
        _current.reset(token)


def run_graph(
    graph: Graph,
    *,
    configuration_file: str = "",
    parameters_file: str = "",
    run_id: str = "",
    tag: str = "",
    pipeline_file: str = "",
    job: bool = False,
) -> RunLog:
    """Prepare a run of ``graph`` and hand it to the configured executor (the job executor for a job)."""
    from runnable.engine.run import prepare

    context = prepare(
        graph,
        configuration_file=configuration_file,
        parameters_file=parameters_file,
        run_id=run_id,
        tag=tag,
        pipeline_file=pipeline_file,
        job=job,
    )
    if job:
        return context.executor.execute_job(context)  # type: ignore[union-attr]
    return context.executor.execute_pipeline(context)  # type: ignore[union-attr]


def retry_run(original_run_id: str, *, configuration_file: str = "", run_id: str = "", tag: str = "") -> RunLog:
    """Run a failed run again: same pipeline, same initial parameters, reusing the steps that succeeded.

    The pipeline file is read again (so a fixed bug is picked up) but its graph must be the one that ran:
    reusing outputs is only sound when the steps around them are the same. The original run's catalog is
    copied into the new run first, so reused steps' files and objects are where later steps expect them.
    """
    from runnable.config import load_config
    from runnable.engine.run import prepare
    from runnable.errors import RunnableError
    from runnable.models.run_log import SUCCESS
    from runnable.plugins import get_registry

    config = load_config(configuration_file)
    section = config.sections["run-log-store"]
    store = get_registry().create("run-log-store", section.type, section.config, source=config.source)
    original = store.get_run_log(original_run_id)
    if original.status == SUCCESS:
        raise RunnableError(f"run {original_run_id!r} succeeded: there is nothing to retry")
    if original.job is not None:
        raise RunnableError(f"run {original_run_id!r} is a job: run the job again with `runnable execute-job`")
    pipeline_file = original.run_config.get("pipeline_file", "")
    if not pipeline_file or not Path(pipeline_file).is_file():
        raise RunnableError(
            f"run {original_run_id!r}: its pipeline file {pipeline_file!r} is not here",
            hint="run `runnable retry` from the folder the original run started in",
        )
    graph = load_graph(pipeline_file)
    if graph.dag_hash() != original.dag_hash:
        raise RunnableError(
            f"{pipeline_file}: the pipeline's steps changed since run {original_run_id!r}; retry needs the same graph",
            hint="fix task code, not the pipeline's structure, between a failure and its retry",
        )
    context = prepare(
        graph,
        configuration_file=configuration_file or original.run_config.get("configuration_file", ""),
        run_id=run_id,
        tag=tag or original.tag,
        pipeline_file=pipeline_file,
    )
    context.parameters = dict(original.initial_parameters)
    context.retry_of = original.run_id
    context.reuse = {
        step.internal_name: step
        for step in original.iter_steps()
        if step.status == SUCCESS and step.step_type == "task" and step.attempts
    }
    context.catalog.copy_run(original.run_id, context.run_id)
    return context.executor.execute_pipeline(context)  # type: ignore[union-attr]


def find_step(graph: Graph, internal_name: str) -> tuple[Any, str]:
    """The node a dotted internal name points at, and the prefix of the branch it is in.

    ``train`` is a top-level step; ``fan.3.train`` is step ``train`` of the branch of map ``fan`` (any item);
    ``both.left.train`` is step ``train`` of branch ``left`` of parallel ``both``.
    """
    from runnable.models.graph import CompositeNode, ConditionalNode, ParallelNode

    parts = internal_name.split(".")
    current, prefix = graph, []
    while True:
        name = parts.pop(0)
        node = current.nodes.get(name)
        if node is None:
            raise PipelineDefinitionError(f"no step {internal_name!r}: {'.'.join([*prefix, name])!r} names no step")
        if not parts:
            return node, ".".join(prefix)
        if not isinstance(node, CompositeNode) or not parts:
            raise PipelineDefinitionError(f"no step {internal_name!r}: {name!r} has no branches")
        key = parts.pop(0)
        if isinstance(node, (ParallelNode, ConditionalNode)):
            if key not in node.branches:
                raise PipelineDefinitionError(f"no step {internal_name!r}: {name!r} has no branch {key!r}")
            current = node.branches[key]
        else:
            current = next(iter(node.branch_graphs().values()))
        prefix += [name, key]


def execute_step(
    pipeline_file: str,
    internal_name: str,
    *,
    run_id: str,
    configuration_file: str = "",
    parameters_file: str = "",
    tag: str = "",
    iteration: dict[str, Any] | None = None,
) -> StepLog:
    """Run one step of a pipeline, as an orchestrator's container does: ``runnable execute-step``.

    The run log store holds the run between containers: the first step to arrive creates the run log (with
    the initial parameters), every step reads the current parameters from it and records itself in it.
    A step inside a branch also sees what earlier steps of the same branch returned, and ``iteration``
    carries the values of the maps and loops around it (``{"item": 3}``).
    """
    from runnable.engine.context import Scope
    from runnable.engine.run import _register_observers, effective_configuration, finish_run, prepare
    from runnable.engine.steps import run_node
    from runnable.errors import RunLogNotFoundError
    from runnable.models.graph import FailNode
    from runnable.models.run_log import FAIL, PROCESSING, SUCCESS, RunLog

    graph = load_graph(pipeline_file)
    node, prefix = find_step(graph, internal_name)
    context = prepare(
        graph,
        configuration_file=configuration_file,
        parameters_file=parameters_file,
        run_id=run_id,
        tag=tag,
        pipeline_file=pipeline_file,
    )
    store = context.run_log_store
    try:
        run_log = store.get_run_log(run_id)
    except RunLogNotFoundError:
        run_log = RunLog(
            run_id=run_id,
            tag=context.tag,
            status=PROCESSING,
            dag_hash=graph.dag_hash(),
            pipeline_name=graph.name,
            initial_parameters=dict(context.parameters),
            parameters=dict(context.parameters),
            run_config=effective_configuration(context),
        )
        store.create_run_log(run_log)
    context.run_log = run_log
    context.parameters = dict(run_log.parameters)
    parameters = dict(run_log.parameters)
    if prefix:  # what earlier steps of this branch returned
        for step in run_log.iter_steps():
            if step.internal_name.startswith(prefix + ".") and step.status == "SUCCESS" and step.attempts:
                parameters.update(step.attempts[-1].output_parameters)
    scope = Scope(parameters if prefix else context.parameters, prefix, dict(iteration or {}))
    context.observers = _register_observers(context, announce=False)
    try:
        step_log = run_node(node, context, scope)
    except BaseException:
        for observer in context.observers:
            context.pm.unregister(observer)
        raise
    if node.is_terminal and not prefix:  # the pipeline's own success or fail step closes the run
        finish_run(context, FAIL if isinstance(node, FailNode) else SUCCESS)
    else:
        for observer in context.observers:
            context.pm.unregister(observer)
    return step_log


def import_pipeline_module(path: Path) -> Any:
    """Import a pipeline file as a module, with its folder and the working directory importable."""
    if not path.is_file():
        raise ImportPathError(f"{path}: file not found")
    for folder in (str(path.resolve().parent), os.getcwd()):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    name = f"runnable_pipeline_{path.stem.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportPathError(f"{path}: cannot be imported as a python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ImportPathError(f"{path}: importing it failed: {type(error).__name__}: {error}") from error
    return module


def call_main(path: Path, door: FrontDoor) -> Pipeline:
    """Import ``path`` and call its ``main()`` under ``door``; return the pipeline it built.

    A failed run does not raise here: the caller reads ``door.run_log``.
    """
    from runnable.sdk import ExecutionFailedError, Pipeline

    with front_door(door):
        module = import_pipeline_module(path)
        main = getattr(module, "main", None)
        result = None
        try:
            if callable(main):
                result = main()
            pipeline = door.pipeline or (result if isinstance(result, Pipeline) else None)
            if pipeline is None:
                found = [v for v in vars(module).values() if isinstance(v, Pipeline)]
                pipeline = found[0] if len(found) == 1 else None
            if pipeline is None:
                raise PipelineDefinitionError(
                    f"{path}: no pipeline found",
                    hint="define main() that builds the Pipeline, calls execute() and returns it",
                )
            if door.run_log is None and not door.define_only:
                pipeline.execute()  # main() built the pipeline but did not run it
        except ExecutionFailedError:
            if door.run_log is None:
                raise
    return door.pipeline or pipeline


def load_graph(path: str | Path) -> Graph:
    """The graph of a pipeline file, without running anything."""
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        from runnable.yaml_loader import load_pipeline_yaml

        return load_pipeline_yaml(path)
    if path.suffix == ".py":
        pipeline = call_main(path, FrontDoor(pipeline_file=str(path), define_only=True))
        return pipeline.return_dag()
    raise PipelineDefinitionError(f"{path}: a pipeline file is .yaml, .yml or .py")


def load_job_graph(path: str | Path) -> Graph:
    """The one-task graph of a job file: a .py whose ``main()`` builds a job, or a YAML task spec.

    A YAML job is a task step without a pipeline around it::

        type: python          # the command type: python | notebook | shell
        command: my_module.train
        returns: [{name: model, kind: object}]
        catalog: {put: [model.pkl]}
        secrets: [API_KEY]
    """
    from runnable.models import graph as g
    from runnable.sdk import JOB_NAME, BaseJob
    from runnable.yaml_io import load_yaml_file

    path = Path(path)
    if path.suffix == ".py":
        job = call_main(path, FrontDoor(pipeline_file=str(path), define_only=True))
        if not isinstance(job, BaseJob):
            raise PipelineDefinitionError(f"{path}: main() built a {type(job).__name__}, not a job")
        return job.return_dag()
    data = load_yaml_file(path, PipelineDefinitionError)
    if not isinstance(data, dict) or "command" not in data:
        raise PipelineDefinitionError(f"{path}: a job file is a mapping with 'type' and 'command'")
    body = dict(data)
    body["command_type"] = body.pop("type", "python")
    body["returns"] = [{"name": r} if isinstance(r, str) else r for r in body.get("returns", []) or []]
    try:
        node = g.TaskNode.model_validate({"name": JOB_NAME, "next": "success", **body})
    except Exception as error:
        first = str(error).splitlines()
        raise PipelineDefinitionError(f"{path}: invalid job: {first[1] if len(first) > 1 else first[0]}") from None
    nodes = {JOB_NAME: node, "success": g.SuccessNode(name="success"), "fail": g.FailNode(name="fail")}
    return g.Graph(start_at=JOB_NAME, nodes=nodes)  # type: ignore[arg-type]
