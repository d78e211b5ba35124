"""Preparing a run: the configuration read, every service instantiated and validated, the run named.

:func:`prepare` turns a graph and the user's choices (configuration file, parameters file, run id, tag)
into a :class:`RunContext` with every service instantiated and validated, before anything is written, so a
bad configuration (or a step whose ``command_type`` no installed plugin provides) fails fast and leaves
nothing behind. What happens next is the run object's business (:mod:`runnable.engine.run`).
"""

from __future__ import annotations

import os
import random
from datetime import datetime
from typing import Any

from runnable.config import load_config
from runnable.engine.context import RunContext
from runnable.engine.parameters import initial_parameters
from runnable.errors import PipelineDefinitionError
from runnable.models.graph import CompositeNode, Graph, TaskNode
from runnable.models.names import check_run_id
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
    for section in config.sections:
        if section != unused:
            services[section] = registry.configured(config, section)
    check_command_types(graph, registry.names("task-type"), source=pipeline_file)
    context = RunContext(
        run_id=check_run_id(run_id or os.environ.get(RUN_ID_ENV, "") or generate_run_id()),
        tag=tag or os.environ.get(TAG_ENV, ""),
        graph=graph,
        config=config,
        executor=services["job-executor" if job else "pipeline-executor"],
        catalog=services["catalog"],
        run_log_store=services["run-log-store"],
        secrets=services["secrets"],
        tracker=services["experiment-tracker"],
        task_types=TaskTypes(),
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


def check_command_types(graph: Graph, known: list[str], *, source: str = "") -> None:
    """Every task's ``command_type`` must be one an installed plugin provides: checked before anything runs."""
    for node in graph.nodes.values():
        if isinstance(node, TaskNode) and node.command_type not in known:
            where = f"{source}: " if source else ""
            raise PipelineDefinitionError(
                f"{where}step {node.name!r}: command_type {node.command_type!r} is not installed; "
                f"installed: {', '.join(sorted(known))}",
                hint="install the plugin that provides it (runnable plugins lists what is installed)",
            )
        if isinstance(node, CompositeNode):
            for branch in node.branch_graphs().values():
                check_command_types(branch, known, source=source)


class TaskTypes(dict):  # type: ignore[type-arg]
    """Task runners by ``command_type``, each created when a step first needs it: a run of python steps
    does not import the notebook runner (a mocked executor's patch may still need any of them)."""

    def __missing__(self, command_type: str) -> Any:
        runner = self[command_type] = get_registry().get("task-type", command_type)()
        return runner
