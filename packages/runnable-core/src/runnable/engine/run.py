"""The one entry point every front door (SDK, YAML, CLI) uses to run a pipeline.

:func:`prepare` turns a graph and the user's choices (configuration file, parameters file, run id, tag)
into a :class:`RunContext` with every service instantiated and validated, before anything is written, so a
bad configuration fails fast and leaves nothing behind. :func:`execute_in_process` is what in-process
executors call: it creates the run log, walks the graph and always closes the run log, even on Ctrl-C.
"""

from __future__ import annotations

import functools
import inspect
import os
import random
from datetime import datetime
from typing import Any

from runnable.config import load_config
from runnable.engine.context import RunContext, Scope
from runnable.engine.parameters import initial_parameters
from runnable.hookspecs import PROJECT
from runnable.models.graph import Graph
from runnable.models.run_log import FAIL, PROCESSING, RunLog, Status
from runnable.plugins import get_registry

RUN_ID_ENV = "RUNNABLE_RUN_ID"
TAG_ENV = "RUNNABLE_RUN_TAG"

_ADJECTIVES = (
    "agile bold brave bright calm clever cosmic crisp daring eager fancy gentle happy jolly keen lively lucid "
    "merry nimble noble online polite proud quiet rapid serene sharp steady swift tidy vivid witty zesty"
).split()
_SCIENTISTS = (
    "babbage bohr curie darwin dijkstra euler faraday feynman franklin gauss hopper hypatia kepler knuth "
    "lamport lovelace maxwell meitner newton noether pascal planck ramanujan shannon tesla turing wu yalow"
).split()


def generate_run_id() -> str:
    """``adjective-scientist-HHMMSS-xxxx``: readable like the original's, unique enough for many runs a second."""
    stamp = datetime.now().strftime("%H%M%S")
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_SCIENTISTS)}-{stamp}-{random.getrandbits(16):04x}"


def prepare(
    graph: Graph,
    *,
    configuration_file: str = "",
    parameters_file: str = "",
    run_id: str = "",
    tag: str = "",
    pipeline_file: str = "",
    job: bool = False,
) -> RunContext:
    """Everything a run needs, validated before anything is written. ``job`` picks the job executor."""
    config = load_config(configuration_file)
    registry = get_registry()
    services: dict[str, Any] = {}
    unused = "pipeline-executor" if job else "job-executor"
    for section, chosen in config.sections.items():
        if section == unused:
            continue
        services[section] = registry.create(section, chosen.type, chosen.config, source=config.source)
    task_types = {name: registry.get("task-type", name)() for name in registry.names("task-type")}
    context = RunContext(
        run_id=run_id or os.environ.get(RUN_ID_ENV, "") or generate_run_id(),
        tag=tag or os.environ.get(TAG_ENV, ""),
        graph=graph,
        config=config,
        executor=services["job-executor" if job else "pipeline-executor"],
        catalog=services["catalog"],
        run_log_store=services["run-log-store"],
        secrets=services["secrets"],
        tracker=services["experiment-tracker"],
        pm=registry.pm,
        task_types=task_types,
        pipeline_file=pipeline_file,
        parameters_file=parameters_file,
        job=job,
    )
    context.parameters = initial_parameters(parameters_file)
    return context


def effective_configuration(context: RunContext) -> dict[str, Any]:
    return {
        context.executor.service_kind: context.executor.masked_config(),
        "run-log-store": context.run_log_store.masked_config(),
        "catalog": context.catalog.masked_config(),
        "secrets": context.secrets.masked_config(),
        "experiment-tracker": context.tracker.masked_config(),
        "configuration_file": context.config.source,
        "pipeline_file": context.pipeline_file,
        "parameters_file": context.parameters_file,
    }


def start_run(context: RunContext) -> RunLog:
    """Create the run log and register this run's observers."""
    run_log = RunLog(
        run_id=context.run_id,
        tag=context.tag,
        status=PROCESSING,
        dag_hash=context.graph.dag_hash(),
        pipeline_name=context.graph.name,
        start_time=datetime.now(),
        initial_parameters=dict(context.parameters),
        parameters=dict(context.parameters),
        run_config=effective_configuration(context),
        original_run_id=context.retry_of,
    )
    context.run_log_store.create_run_log(run_log)
    context.run_log = run_log
    context.observers = _register_observers(context)
    context.pm.hook.run_started(run_log=run_log)
    return run_log


def finish_run(context: RunContext, status: Status) -> RunLog:
    """Close the run log (always called, even on Ctrl-C) and tell the observers."""
    run_log = context.run_log
    assert run_log is not None
    run_log.status = status
    run_log.end_time = datetime.now()
    run_log.parameters = dict(context.parameters)
    context.run_log_store.finish_run_log(run_log)
    try:
        context.pm.hook.run_finished(run_log=run_log)
    finally:
        for observer in context.observers:
            context.pm.unregister(observer)
        context.observers = []
    return run_log


def execute_in_process(context: RunContext) -> RunLog:
    """Create the run log, walk the graph here, close the run log whatever happens."""
    from runnable.engine.traversal import traverse

    start_run(context)
    status: Status = FAIL
    try:
        status = traverse(context.graph, context, Scope(context.parameters))
    finally:
        finish_run(context, status)
    assert context.run_log is not None
    return context.run_log


def execute_job_in_process(context: RunContext) -> RunLog:
    """Run the context's single task node as a job; its record is ``run_log.job``."""
    from runnable.engine.steps import run_job_task

    start_run(context)
    status: Status = FAIL
    try:
        status = run_job_task(context).status
    finally:
        finish_run(context, status)
    assert context.run_log is not None
    return context.run_log


def _register_observers(context: RunContext, *, announce: bool = True) -> list[Any]:
    """The configured tracker and the console reporter observe this run through the lifecycle hooks.

    Only observers that implement a hook are registered: pluggy inspects every attribute of what it
    registers, which for a pydantic service with no hooks at all (the ``run-log`` tracker) is about 1.5 ms
    of every run for nothing.
    """
    from runnable.reporting import ConsoleReporter

    candidates = [context.tracker, ConsoleReporter(context)] if announce else [context.tracker]
    observers = [o for o in candidates if _observes(o)]
    for observer in observers:
        context.pm.register(observer)
    return observers


_MARKER = f"{PROJECT}_impl"  # the attribute @hookimpl sets on the functions it marks


def _observes(observer: Any) -> bool:
    """Whether registering ``observer`` gives pluggy any hook implementation to find."""
    own = getattr(observer, "__dict__", {})
    return _class_observes(type(observer)) or any(hasattr(value, _MARKER) for value in own.values())


@functools.cache
def _class_observes(cls: type) -> bool:
    for name in dir(cls):
        value = inspect.getattr_static(cls, name, None)
        if hasattr(value, _MARKER) or hasattr(getattr(value, "__func__", None), _MARKER):
            return True
    return False
