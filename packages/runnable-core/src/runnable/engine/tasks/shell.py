"""Shell tasks: parameters in as environment variables, exported variables back out as returns.

The command runs under ``bash`` in its own process group (a timeout stops the command and everything it
started). An ``EXIT`` trap writes the environment the command leaves behind (NUL-separated, so values may
hold newlines) into a pipe the runner reads, never into a file: the environment holds the step's secrets, and
a file would outlive a killed runner. Output is read in chunks as it comes, shown, and kept for the step's
execution log without ever being held whole.
"""

from __future__ import annotations

import codecs
import json
import os
import selectors
import subprocess
import sys
from typing import TYPE_CHECKING, ClassVar

from runnable.engine.parameters import parse_env_value
from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.engine.tasks.limits import (
    deadline_after,
    describe_exit,
    new_group_arguments,
    seconds_left,
    stop_process_group,
    timed_out,
)
from runnable.engine.tasks.masking import mask_returns
from runnable.errors import ParameterError, TaskFailedError

if TYPE_CHECKING:
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode

ENV_FD_VARIABLE = "RUNNABLE_ENV_FD"
_CHUNK = 65536


class ShellTaskType(BaseTaskType):
    command_type: ClassVar[str] = "shell"

    def run(
        self,
        node: TaskNode,
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
        result.used = list(values.serialisable())
        left = _run_bash(node, environment)
        returned = {}
        for spec in node.returns:
            if spec.name not in left:
                raise ParameterError(
                    f"step {node.name!r}: return {spec.name!r} was not exported by the shell command",
                    hint=f"add `export {spec.name}=...` to the command",
                )
            returned[spec.name] = parse_env_value(left[spec.name])
        result.returned = mask_returns(returned, env)


def _run_bash(node: TaskNode, environment: dict[str, str]) -> dict[str, str]:
    """Run the command, stream its output to ``sys.stdout``, and return the environment it exported."""
    env_read, env_write = os.pipe()
    environment[ENV_FD_VARIABLE] = str(env_write)
    script = f"trap 'env -0 >&\"${ENV_FD_VARIABLE}\"' EXIT\n{node.command}\n"
    deadline = deadline_after(node.timeout)
    try:
        process = subprocess.Popen(
            ["bash", "-c", script],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(env_write,),
            **new_group_arguments(),
        )
    except OSError as error:
        os.close(env_read)
        raise TaskFailedError(f"step {node.name!r}: cannot start bash: {error.strerror}") from None
    finally:
        os.close(env_write)
    assert process.stdout is not None
    dumped: list[bytes] = []
    try:
        finished = _pump(process.stdout.fileno(), env_read, dumped, deadline)
        if not finished:
            stop_process_group(process)
            raise timed_out(node.name, node.timeout or 0)
        left = seconds_left(deadline)
        try:
            code = process.wait(timeout=None if left is None else max(left, 0.0))
        except subprocess.TimeoutExpired:
            stop_process_group(process)
            raise timed_out(node.name, node.timeout or 0) from None
    finally:
        if process.poll() is None:  # an error or Ctrl-C in the runner: the command does not outlive the step
            stop_process_group(process)
        process.stdout.close()
        os.close(env_read)
    if code != 0:
        raise TaskFailedError(f"step {node.name!r}: shell command {describe_exit(code, shell=True)}")
    return _parse_env_dump(b"".join(dumped))


def _pump(output_fd: int, env_fd: int, dumped: list[bytes], deadline: float | None) -> bool:
    """Copy the command's output to ``sys.stdout`` and collect its environment dump until both pipes close.

    Returns False when the deadline passed first.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with selectors.DefaultSelector() as selector:
        selector.register(output_fd, selectors.EVENT_READ, "output")
        selector.register(env_fd, selectors.EVENT_READ, "env")
        while selector.get_map():
            left = seconds_left(deadline)
            if left is not None and left <= 0:
                return False
            for key, _ in selector.select(left):
                data = os.read(key.fd, _CHUNK)
                if not data:
                    selector.unregister(key.fd)
                    if key.data == "output":
                        sys.stdout.write(decoder.decode(b"", final=True))
                elif key.data == "output":
                    sys.stdout.write(decoder.decode(data))
                else:
                    dumped.append(data)
    return True


def _parse_env_dump(data: bytes) -> dict[str, str]:
    variables = {}
    for entry in data.split(b"\0"):
        name, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            variables[name] = value
    return variables
