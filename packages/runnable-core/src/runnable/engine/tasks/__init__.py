"""Task types: how a task node's command is run. One class per ``command_type``, registered through
the ``register_task_types`` hook, so a plugin can add, say, an ``r`` or ``sql`` command type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode


@dataclass
class TaskResult:
    # return name -> python value, for the names the node's ``returns`` lists
    returned: dict[str, Any] = field(default_factory=dict)
    # names of the parameters the task actually received (recorded as the attempt's input parameters)
    used: list[str] = field(default_factory=list)
    # extra files to keep in the catalog: (catalog name, local path), e.g. the executed notebook
    files: list[tuple[str, Path]] = field(default_factory=list)


class BaseTaskType:
    command_type: ClassVar[str]

    def run(
        self,
        node: TaskNode,
        context: RunContext,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        """Run the node's command with ``values`` as parameters and ``env`` (secrets) in its environment.

        Fill ``result`` as the task goes: files listed there are kept in the catalog even when the task fails.
        Raise :class:`runnable.errors.RunnableError` for a one-line failure, any other exception for a task
        that crashed (its traceback is kept in the step's execution log).
        """
        raise NotImplementedError
