"""Task types: how a task step's command runs. One class per ``command_type``, registered through the
``register_task_types`` hook, so a plugin can add, say, an ``r`` or ``sql`` command type; a YAML step then
says ``command_type: sql``. runnable checks every step's ``command_type`` against the installed ones before a
run starts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from runnable.models.graph import TaskNode


@dataclass
class TaskResult:
    """What a task gives back, filled in as it goes (kept even when it then fails)."""

    # return name -> python value, for the names the node's ``returns`` lists
    returned: dict[str, Any] = field(default_factory=dict)
    # names of the parameters the task actually received (recorded as the attempt's input parameters)
    used: list[str] = field(default_factory=list)
    # extra files to keep in the catalog: (catalog name, local path), e.g. the executed notebook
    files: list[tuple[str, Path]] = field(default_factory=list)


class BaseTaskType(ABC):
    """Runs the commands of one ``command_type``. It sees the step, its parameters and its secrets, nothing else
    of the run: catalog, run log and observers are the engine's business."""

    command_type: ClassVar[str]

    @abstractmethod
    def run(self, node: TaskNode, values: Mapping[str, Any], env: dict[str, str], result: TaskResult) -> None:
        """Run ``node.command`` with ``values`` as parameters; ``env`` (the step's secrets) is already set in the
        process environment for the duration, and is given for commands started with an environment of their own.

        ``values`` maps every parameter name (and the enclosing maps' and loops' iteration values) to its python
        value; pickled objects are loaded only when read. Fill ``result`` as the task goes: files listed there
        are kept in the catalog even when the task fails. Raise :class:`runnable.errors.RunnableError` for a
        one-line failure, any other exception for a task that crashed (its traceback goes in the step's
        execution log). Output printed to stdout and stderr is captured by the engine.
        """
