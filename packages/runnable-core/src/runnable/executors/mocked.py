"""The ``mocked`` executor: test a pipeline's wiring without running its tasks.

Tasks are recorded as successful without running, except those named in ``patches``, whose command is
replaced (a python function, a shell command or a notebook, any ``command_type``)::

    pipeline-executor:
      type: mocked
      config:
        patches:
          train: {command: tests.fakes.tiny_train}          # a python function
          report: {command_type: shell, command: "echo ok"}  # or a shell command

Everything around the tasks still runs for real: the graph traversal, composite branches, parameters
passed between patched steps, catalog gets and puts of patched steps, the run log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator

from runnable.engine.context import RunContext
from runnable.engine.steps import patched_task
from runnable.errors import ConfigurationError
from runnable.executors.local import LocalExecutor
from runnable.models.graph import CompositeNode, Graph, TaskNode
from runnable.models.run_log import RunLog


def task_names(graph: Graph) -> set[str]:
    names: set[str] = set()
    for node in graph.nodes.values():
        if isinstance(node, TaskNode):
            names.add(node.name)
        elif isinstance(node, CompositeNode):
            for branch in node.branch_graphs().values():
                names |= task_names(branch)
    return names


class MockedExecutor(LocalExecutor):
    service_name: ClassVar[str] = "mocked"

    patches: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("patches", mode="before")
    @classmethod
    def _command_shorthand(cls, patches: Any) -> Any:
        # `step: "module.function"` is shorthand for `step: {command: module.function}`
        if isinstance(patches, dict):
            return {k: {"command": v} if isinstance(v, str) else v for k, v in patches.items()}
        return patches

    def execute_pipeline(self, context: RunContext) -> RunLog:
        from runnable.engine.policies import MockTasks
        from runnable.engine.run import Run
        from runnable.engine.traversal import execute

        known = task_names(context.graph)
        unknown = sorted(set(self.patches) - known)
        if unknown:
            raise ConfigurationError(
                f"pipeline-executor.config.patches: no task step named {unknown[0]!r}; "
                f"task steps: {', '.join(sorted(known))}"
            )
        for name, patch in self.patches.items():
            try:
                patched_task(_any_task(context.graph, name), patch)
            except ValidationError as error:
                first = error.errors()[0]
                key = ".".join(str(p) for p in first["loc"])
                raise ConfigurationError(
                    f"pipeline-executor.config.patches.{name}.{key}: {first['msg']} for plugin 'mocked'"
                ) from None
        execute(Run(context, policy=MockTasks(self.patches)))
        assert context.run_log is not None
        return context.run_log


def _any_task(graph: Graph, name: str) -> TaskNode:
    for node in graph.nodes.values():
        if isinstance(node, TaskNode) and node.name == name:
            return node
        if isinstance(node, CompositeNode):
            for branch in node.branch_graphs().values():
                if name in task_names(branch):
                    return _any_task(branch, name)
    raise KeyError(name)
