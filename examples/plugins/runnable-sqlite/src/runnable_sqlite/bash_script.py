"""The ``bash-script`` pipeline executor: a pipeline rendered as a bash script, one function per step.

It is the smallest executor for an orchestrator: ``runnable render pipeline.yaml -c config.yaml`` writes
``pipeline.sh``, and bash is the orchestrator. Each step runs through ``runnable execute-step``, so it runs
through the same engine as locally; the run log store keeps the run (parameters included) between steps.
Composite steps (parallel, map, conditional, loop) are handed whole to ``execute-step``, which runs their
branches. Run the script from the project folder: ``bash pipeline.sh [RUN_ID]``.

Rendering follows the rendering contract checked by ``runnable.testing.RenderingExecutorSuite``: it needs
no network, runs nothing, and writes no parameter or secret value into the script.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, ClassVar

from runnable.models.graph import BaseNode, FailNode, SuccessNode
from runnable.services.executor import BaseRenderingExecutor

if TYPE_CHECKING:
    from runnable.engine.context import RunContext

HEADER = """#!/usr/bin/env bash
# {pipeline}, rendered by runnable's bash-script executor. Run it from the project folder:
#   bash {script} [RUN_ID]
# Each step runs through `runnable execute-step`; the run log store keeps the run between steps.
set -uo pipefail

RUN_ID="${{1:-${{RUNNABLE_RUN_ID:-$(date +%Y%m%d-%H%M%S)-$$}}}}"
"""


class BashScriptExecutor(BaseRenderingExecutor):
    """Configuration keys are the fields below (``pipeline-executor.config`` in the configuration file)."""

    service_name: ClassVar[str] = "bash-script"

    # How the script calls runnable: "runnable", "uv run runnable", "/opt/venv/bin/python -m runnable".
    runnable_command: str = "runnable"
    # The name of the rendered script.
    script_name: str = "pipeline.sh"

    def render(self, context: RunContext) -> dict[str, str]:
        graph = context.graph
        functions = {name: f"step_{index}" for index, name in enumerate(graph.nodes, start=1)}
        parts = [HEADER.format(pipeline=context.pipeline_file or "a pipeline", script=self.script_name)]
        for name, node in graph.nodes.items():
            command = self._command(context, node)
            if isinstance(node, SuccessNode):
                body = f"  {command}"
            elif isinstance(node, FailNode):
                body = f"  {command}\n  exit 1"
            else:
                on_failure = functions[node.on_failure or graph.fail_node]
                body = f"  if {command}; then\n    {functions[node.next_node]}\n  else\n    {on_failure}\n  fi"
            parts.append(f"{functions[name]}() {{  # {name}\n{body}\n}}\n")
        parts.append(f"{functions[graph.start_at]}\n")
        return {self.script_name: "\n".join(parts)}

    def _command(self, context: RunContext, node: BaseNode) -> str:
        """``runnable execute-step <pipeline> <step> --run-id "$RUN_ID"`` plus the run's config and parameters."""
        arguments = [context.pipeline_file, node.internal_name]
        if context.config.source:
            arguments += ["--config", context.config.source]
        if context.parameters_file:
            arguments += ["--parameters", context.parameters_file]
        return f'{self.runnable_command} execute-step {shlex.join(arguments)} --run-id "$RUN_ID"'
