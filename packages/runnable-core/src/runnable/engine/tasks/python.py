"""Python tasks: a plain function called in-process, arguments bound from the parameters by name."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from runnable.engine.parameters import bind_arguments, split_returns
from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.errors import ImportPathError

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode


def import_callable(path: str, *, step: str) -> Callable[..., Any]:
    """``package.module.function`` (or ``module.Class.method``) -> the object, with the cwd importable."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name, attributes = ".".join(parts[:split]), parts[split:]
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # this prefix is not a module; try a shorter one
            raise ImportPathError(f"step {step!r}: importing {module_name!r} failed: {error}") from None
        try:
            for attribute in attributes:
                target = getattr(target, attribute)
        except AttributeError:
            raise ImportPathError(
                f"step {step!r}: command {path!r}: module {module_name!r} has no {'.'.join(attributes)!r}"
            ) from None
        if not callable(target):
            raise ImportPathError(f"step {step!r}: command {path!r} is not callable")
        return target
    if len(parts) > 1:  # every prefix was tried: not even the first part is a module
        raise ImportPathError(
            f"step {step!r}: command {path!r}: no module named {parts[0]!r}",
            hint="python commands are dotted import paths relative to the working directory, e.g. pkg.module.func",
        )
    raise ImportPathError(
        f"step {step!r}: command {path!r} does not resolve to module.function",
        hint="python commands are dotted import paths relative to the working directory, e.g. pkg.module.func",
    )


class PythonTaskType(BaseTaskType):
    command_type: ClassVar[str] = "python"

    def run(
        self,
        node: TaskNode,
        context: RunContext,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        function = node._function or import_callable(node.command, step=node.name)
        kwargs = bind_arguments(function, values, step=node.name, qualname=node.command)
        # env (secrets) is already in os.environ: the engine set it for the task's duration.
        result.used = list(kwargs)
        returned = function(**kwargs)
        result.returned = split_returns(node.returns, returned, step=node.name)
