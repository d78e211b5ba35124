"""The ``emulator`` executor: run a pipeline exactly as an orchestrator would, one fresh process per call.

Every step runs through ``runnable execute-step``, every composite step through ``runnable fan-out``, its
branches and ``runnable fan-in``, each in a new Python process that rebuilds the graph from the pipeline
file and shares nothing with the others but the configured run log store and catalog. So a pipeline that
passes here will behave the same in Argo's or Step Functions' containers, and one that does not shows what
would break there: a value that does not cross a process boundary, a file not put in the catalog, a
module-level side effect. It is also the reference the Argo and Step Functions renderers are held to::

    pipeline-executor:
      type: emulator
      config:
        enable_parallel: true   # branches of parallel and map steps at the same time (needs chunked-fs)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from runnable.engine.composites import branch_graph
from runnable.engine.context import RunContext
from runnable.errors import ConfigurationError, InfrastructureError, RunnableError
from runnable.models.graph import CompositeNode, Graph
from runnable.models.run_log import RunLog
from runnable.services.executor import BasePipelineExecutor

logger = logging.getLogger("runnable")

# Exit statuses of the container commands (SPEC §10).
OK, FAILED, BAD_INPUT, INFRASTRUCTURE = 0, 1, 2, 3

Call = Callable[[str, str, Sequence[str]], int]  # (command, address, extra arguments) -> exit status


class CommandDriver:
    """Walks a graph by calling the container commands, in the order an orchestrator runs them.

    ``call`` runs one command and returns its exit status; the emulator runs ``python -m runnable`` in a
    fresh process, a test interpreter of a rendered manifest can pass its own. On success a step is followed
    by its ``next``, on failure (exit 1) by its ``on_failure`` or the graph's fail step; exit 2 or 3 stops
    the walk, as a broken container stops a workflow.
    """

    def __init__(self, call: Call, *, parallel: int = 1) -> None:
        self.call = call
        self.parallel = parallel

    def walk(self, graph: Graph, prefix: str = "") -> bool:
        """Run a graph (the pipeline or a branch); True when it reached its success step."""
        current = graph.nodes[graph.start_at]
        while not current.is_terminal:
            address = f"{prefix}.{current.name}" if prefix else current.name
            if isinstance(current, CompositeNode):
                succeeded = self.composite(current, address)
            else:
                succeeded = self._checked("execute-step", address) == OK
            current = graph.nodes[current.next_node if succeeded else (current.on_failure or graph.fail_node)]
        address = f"{prefix}.{current.name}" if prefix else current.name
        return self._checked("execute-step", address) == OK

    def composite(self, node: CompositeNode, address: str) -> bool:
        while True:
            with tempfile.TemporaryDirectory(prefix="runnable-plan-") as folder:
                plan_file = Path(folder) / "plan.json"
                if self._checked("fan-out", address, ["--plan-file", str(plan_file)]) != OK:
                    return False
                plan = json.loads(plan_file.read_text())
            branches = [(branch_graph(node, b["key"]), b["name"]) for b in plan["branches"]]
            if self.parallel > 1 and len(branches) > 1:
                with ThreadPoolExecutor(min(self.parallel, len(branches))) as pool:
                    list(pool.map(lambda b: self.walk(*b), branches))
            else:
                for graph, name in branches:
                    self.walk(graph, name)
            if plan["done"]:
                return self._checked("fan-in", address) == OK

    def _checked(self, command: str, address: str, extra: Sequence[str] = ()) -> int:
        status = self.call(command, address, extra)
        if status not in (OK, FAILED):
            raise RunnableError(f"`runnable {command} {address}` exited with status {status}")
        return status


class EmulatorExecutor(BasePipelineExecutor):
    service_name: ClassVar[str] = "emulator"

    # Run the branches of a parallel or map step at the same time (needs a run log store for concurrent writers).
    enable_parallel: bool = False
    # How many branch processes at once with enable_parallel (default: the number of cores).
    max_workers: int | None = Field(default=None, ge=1)

    def execute_pipeline(self, context: RunContext) -> RunLog:
        if not context.pipeline_file or not Path(context.pipeline_file).is_file():
            raise ConfigurationError(
                "pipeline-executor 'emulator' runs every step in a new process that re-reads the pipeline file, "
                f"and there is none here ({context.pipeline_file!r})",
                hint="run the pipeline with `runnable execute FILE`, or call execute() from the pipeline's own file",
            )
        if self.enable_parallel and not context.run_log_store.supports_concurrent_writers:
            raise ConfigurationError(
                f"pipeline-executor 'emulator': enable_parallel needs a run log store for concurrent writers; "
                f"{context.run_log_store.service_name!r} is not one",
                hint="use run-log-store: {type: chunked-fs}",
            )
        if context.retry_of:  # the processes cannot know what run they retry: open it here, they join it
            from runnable.engine.run import Run

            Run(context).open()
        call = _subprocess_call(context)
        driver = CommandDriver(call, parallel=(self.max_workers or os.cpu_count() or 1) if self.enable_parallel else 1)
        driver.walk(context.graph)
        run_log = context.run_log_store.get_run_log(context.run_id)
        context.run_log = run_log
        for observer in context.observers:  # the command's own console shows the summary of what ran
            finished = getattr(observer, "run_finished", None)
            if finished is not None:
                finished(run_log=run_log)
        return run_log


def _subprocess_call(context: RunContext) -> Call:
    common = ["--run-id", context.run_id]
    if context.config.source:
        common += ["--config", context.config.source]
    if context.parameters_file:
        common += ["--parameters", context.parameters_file]
    if context.tag:
        common += ["--tag", context.tag]
    environment = {k: v for k, v in os.environ.items() if k not in ("RUNNABLE_RUN_ID", "RUNNABLE_CONFIGURATION_FILE")}

    def call(command: str, address: str, extra: Sequence[str]) -> int:
        argv = [sys.executable, "-m", "runnable", command, context.pipeline_file, address, *common, *extra]
        start = time.perf_counter()
        done = subprocess.run(argv, env=environment, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        logger.info("emulator: %s %s -> %s (%.2f s)", command, address, done.returncode, seconds)
        if done.returncode == INFRASTRUCTURE or done.returncode == BAD_INPUT:
            lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("error:")]  # the one line, not its hint
            said = (errors or lines or ["no output"])[-1]
            error = InfrastructureError if done.returncode == INFRASTRUCTURE else RunnableError
            raise error(f"`runnable {command} {address}`: {said}")
        return done.returncode

    return call
