"""Loading pipeline files, retrying runs, and the commands an orchestrator's containers run.

``runnable execute-step``, ``fan-out`` and ``fan-in`` are each a few lines over the run protocol
(:mod:`runnable.engine.run`): rebuild the graph from the pipeline file, prepare the configured services,
join the run through the run log store, make one protocol call.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runnable.errors import ImportPathError, PipelineDefinitionError
from runnable.frontdoor import FrontDoor, current, front_door, pipeline_module_name, run_graph

if TYPE_CHECKING:
    from runnable.engine.run import Plan, Run
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog, StepLog
    from runnable.sdk import Pipeline

__all__ = ["FrontDoor", "current", "front_door", "run_graph"]


def retry_run(original_run_id: str, *, configuration_file: str = "", run_id: str = "", tag: str = "") -> RunLog:
    """Run a failed run again: same pipeline, same initial parameters, reusing the steps that succeeded.

    The pipeline file is read again (so a fixed bug is picked up) but its graph must be the one that ran:
    reusing outputs is only sound when the steps around them are the same. The original run's catalog is
    copied into the new run first, so reused steps' files and objects are where later steps expect them.
    """
    from runnable.config import load_config
    from runnable.engine.prepare import prepare
    from runnable.errors import RunLogNotFoundError, RunnableError
    from runnable.models.names import check_run_id
    from runnable.models.run_log import SUCCESS
    from runnable.plugins import get_registry
    from runnable.reporting import ConsoleReporter

    check_run_id(original_run_id)
    config = load_config(configuration_file)
    store = get_registry().configured(config, "run-log-store")
    original = store.get_run_log(original_run_id)
    if original.status == SUCCESS:
        raise RunnableError(f"run {original_run_id!r} succeeded: there is nothing to retry")
    from runnable.engine.run import runner_alive
    from runnable.models.run_log import PROCESSING

    if original.status == PROCESSING and runner_alive(original):
        runner = original.run_config.get("runner", {})
        raise RunnableError(
            f"run {original_run_id!r} is still running (process {runner.get('pid')} on {runner.get('host')})",
            hint="wait for it to end, or stop it (Ctrl-C or SIGTERM closes it as failed), then retry",
        )
    if original.job is not None:
        raise RunnableError(f"run {original_run_id!r} is a job: run the job again with `runnable execute-job`")
    pipeline_file = original.run_config.get("pipeline_file", "")
    if not pipeline_file or not Path(pipeline_file).is_file():
        raise RunnableError(
            f"run {original_run_id!r}: its pipeline file {pipeline_file!r} is not here",
            hint="run `runnable retry` from the folder the original run started in",
        )
    graph = load_graph(pipeline_file, check_imports=True)
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
    try:  # refuse an id in use before anything (the catalog copy) is written under it
        context.run_log_store.get_run_log(context.run_id)
    except RunLogNotFoundError:
        pass
    else:
        raise RunnableError(
            f"run id {context.run_id!r} is taken in the run log store", hint="leave --run-id out to get a fresh one"
        )
    context.parameters = dict(original.initial_parameters)
    context.retry_of = original.run_id  # the run's policy reuses the original run's successful steps
    context.catalog.copy_run(original.run_id, context.run_id)
    context.observers.append(ConsoleReporter(context))
    return context.executor.execute_pipeline(context)  # type: ignore[union-attr]


def find_step(graph: Graph, internal_name: str) -> tuple[Any, str]:
    """The node a dotted internal name points at, and the prefix of the branch it is in."""
    from runnable.engine.scopes import find_node

    return find_node(graph, internal_name)


def join_run(
    pipeline_file: str, *, run_id: str, configuration_file: str = "", parameters_file: str = "", tag: str = ""
) -> Run:
    """What every container command starts with: the graph rebuilt, services prepared, the run created or
    joined (the first process to arrive creates it with the initial parameters and fires ``run_started``)."""
    from runnable.engine.prepare import prepare
    from runnable.engine.run import Run

    context = prepare(
        load_graph(pipeline_file),
        configuration_file=configuration_file,
        parameters_file=parameters_file,
        run_id=run_id,
        tag=tag,
        pipeline_file=pipeline_file,
    )
    run = Run(context)
    run.open(join=True)
    return run


def execute_step(
    pipeline_file: str, address: str, *, run_id: str, iteration: dict[str, Any] | None = None, **options: str
) -> StepLog:
    """``runnable execute-step``: run one step of a run, as an orchestrator's container does.

    A composite step given here runs whole in this process (fanned out, its branches walked, fanned in).
    """
    from runnable.engine.traversal import run_composite
    from runnable.models.graph import CompositeNode

    run = join_run(pipeline_file, run_id=run_id, **options)
    node, _ = find_step(run.context.graph, address)
    if isinstance(node, CompositeNode):
        return run_composite(run, node, address)
    return run.step(address, iteration)


def fan_out(
    pipeline_file: str, address: str, *, run_id: str, iteration: dict[str, Any] | None = None, **options: str
) -> Plan:
    """``runnable fan-out``: record a composite step and plan its branches."""
    return join_run(pipeline_file, run_id=run_id, **options).fan_out(address, iteration)


def fan_in(
    pipeline_file: str, address: str, *, run_id: str, iteration: dict[str, Any] | None = None, **options: str
) -> StepLog:
    """``runnable fan-in``: merge what a composite step's branches returned and end it."""
    return join_run(pipeline_file, run_id=run_id, **options).fan_in(address, iteration)


def import_pipeline_module(path: Path) -> Any:
    """Import a pipeline file as a module, with its folder and the working directory importable."""
    if not path.is_file():
        raise ImportPathError(f"{path}: file not found")
    for folder in (str(path.resolve().parent), os.getcwd()):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    name = pipeline_module_name(path)
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


def load_graph(path: str | Path, *, check_imports: bool = False) -> Graph:
    """The graph of a pipeline file, without running anything.

    ``check_imports`` (a run about to start here) imports every python command of a YAML pipeline now, so a
    typo is reported naming its step before any step runs; rendering and drawing leave it off, since the
    code may live only in the image.
    """
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        from runnable.yaml_loader import load_pipeline_yaml

        return load_pipeline_yaml(path, check_imports=check_imports)
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
