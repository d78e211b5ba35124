"""Shell tasks: parameters in as environment variables, exported variables back out as returns.

The command runs under ``bash``; an ``EXIT`` trap writes the environment the command leaves behind to a
file (NUL-separated, so values may hold newlines), from which the task's ``returns`` are read. Output is
streamed to the console as it comes and kept for the step's execution log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from runnable.engine.parameters import parse_env_value
from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.errors import ParameterError, TaskFailedError

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode


class ShellTaskType(BaseTaskType):
    command_type: ClassVar[str] = "shell"

    def run(
        self,
        node: TaskNode,
        context: RunContext,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        if any(spec.kind == "object" for spec in node.returns):
            raise ParameterError(
                f"step {node.name!r}: shell tasks cannot return objects (pickled), only json and metrics"
            )
        environment = dict(os.environ)
        for name, value in values.serialisable().items():
            environment[name] = value if isinstance(value, str) else json.dumps(value)
        environment.update(env)
        with tempfile.TemporaryDirectory(prefix="runnable-shell-") as scratch:
            dump = Path(scratch) / "env"
            environment["RUNNABLE_ENV_DUMP"] = str(dump)
            script = "trap 'env -0 > \"$RUNNABLE_ENV_DUMP\"' EXIT\n" + node.command + "\n"
            process = subprocess.Popen(
                ["bash", "-c", script],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(line)
            code = process.wait()
            if code != 0:
                raise TaskFailedError(f"step {node.name!r}: shell command exited with status {code}")
            left = _read_env_dump(dump)
        returned = {}
        for spec in node.returns:
            if spec.name not in left:
                raise ParameterError(
                    f"step {node.name!r}: return {spec.name!r} was not exported by the shell command",
                    hint=f"add `export {spec.name}=...` to the command",
                )
            returned[spec.name] = parse_env_value(left[spec.name])
        result.returned = returned
        result.used = list(values.serialisable())


def _read_env_dump(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    variables = {}
    for entry in path.read_bytes().split(b"\0"):
        name, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            variables[name] = value
    return variables
