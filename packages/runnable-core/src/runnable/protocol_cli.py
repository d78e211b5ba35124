"""The run protocol's container commands: ``runnable execute-step``, ``fan-out`` and ``fan-in``.

An orchestrator (Argo, Step Functions, the emulator) starts a fresh process for every step, fan-out and fan-in
of a run, so these commands' start-up is paid once per step. They are parsed here with argparse, without
typer: importing typer, building every command of the CLI and coercing each option through a pydantic
adapter costs about 30 ms of a trivial step's 200 (``benchmarks/``, W4). ``runnable`` dispatches them here
before importing the rest of the CLI (:mod:`runnable.supervise`); ``runnable --help`` still lists them
(:mod:`runnable.cli` delegates to :func:`main`), and their ``--help`` is built from the definitions below.

Exit status (``docs/run-protocol.md``): 0 done, 1 the step (or a branch) failed and the run log says why,
2 bad invocation, configuration or address, 3 a service (run log store, catalog) could not be reached.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runnable.errors import InfrastructureError, RunnableError, TaskFailedError

if TYPE_CHECKING:
    import argparse


@dataclass(frozen=True)
class Command:
    summary: str  # the line `runnable --help` shows
    description: str
    example: str
    options: tuple[tuple[tuple[str, ...], str], ...] = ()  # (flags, help): extra path options


COMMANDS: dict[str, Command] = {
    "execute-step": Command(
        summary="Run one step of a run: what an orchestrator's container runs (Argo, Step Functions, the emulator).",
        description=(
            "The first call of a run creates it (with the initial parameters); the others join it through the "
            "run log store. A composite step given here runs whole in this process. The pipeline's success or "
            "fail step closes the run."
        ),
        example="runnable execute-step pipeline.yaml fan.3.train --run-id my-run -c config.yaml",
    ),
    "fan-out": Command(
        summary="Record a composite step (parallel, map, conditional, loop) and plan its branches.",
        description=(
            'The plan lists the branches to run now: {"step", "kind", "status", "branches": [{"name", "key", '
            '"iteration"}], "keys", "done"}. A loop plans one round at a time: fan it out again after each round '
            'until "done" is true, then fan it in. Exit status 1 when the step could not be planned (e.g. its '
            "list parameter is missing: the run log says why)."
        ),
        example="runnable fan-out pipeline.yaml fan --run-id my-run --plan-file /tmp/plan.json",
        options=(
            (("--plan-file", "-o"), "Write the plan (JSON) here; stdout carries logs. Default: stdout."),
            (("--keys-file",), "Also write the planned branch keys alone, a JSON list (Argo's withParam)."),
            (("--done-file",), "Also write the plan's done flag alone, true or false (a loop's decision)."),
        ),
    ),
    "fan-in": Command(
        summary="End a composite step: merge what its branches returned (reduce a map's returns), set its status.",
        description="Exit status 1 when a branch failed (the run log says which).",
        example="runnable fan-in pipeline.yaml fan --run-id my-run",
    ),
}

EXIT_STATUS = (
    "exit status: 0 done; 1 the step (or a branch) failed, the run log says why; 2 bad invocation, configuration "
    "or address; 3 a service (run log store, catalog) could not be reached"
)


def parser(name: str) -> argparse.ArgumentParser:
    import argparse
    from textwrap import fill

    command = COMMANDS[name]
    result = argparse.ArgumentParser(
        prog=f"runnable {name}",
        description=fill(f"{command.summary} {command.description}", 100),
        epilog=f"example:\n  {command.example}\n\n{fill(EXIT_STATUS, 100)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    result.add_argument("file", metavar="FILE", help="The pipeline file (YAML or .py), as given to render.")
    result.add_argument(
        "address", metavar="STEP", help="The step's address: its dotted internal name, e.g. train, fan.3.train."
    )
    run_id = os.environ.get("RUNNABLE_RUN_ID", "")
    result.add_argument(
        "--run-id",
        default=run_id,
        required=not run_id,
        help="The run this call belongs to. [env var: RUNNABLE_RUN_ID]",
    )
    result.add_argument(
        "--config",
        "-c",
        default="",
        help="Configuration file choosing executor, catalog, run log store, secrets. "
        "[env var: RUNNABLE_CONFIGURATION_FILE]",
    )
    result.add_argument("--parameters", "--parameters-file", "-p", default="", help="YAML file of initial parameters.")
    result.add_argument("--tag", default="", help="A label stored with the run.")
    result.add_argument(
        "--iter-variable",
        default="",
        help='Values of the enclosing maps and loops, JSON: {"item": 3}. Checked against the recorded plan.',
    )
    for flags, text in command.options:
        result.add_argument(*flags, default=None, help=text)
    return result


def main(argv: list[str]) -> int:
    """``argv`` is the command's name and its arguments; returns the exit status (argparse exits 2 itself)."""
    name, arguments = argv[0], parser(argv[0]).parse_args(argv[1:])
    level = os.environ.get("RUNNABLE_LOG_LEVEL")
    try:
        if level:
            from runnable.log_levels import configure_logging, log_level_name

            try:
                configure_logging(log_level_name(level))
            except ValueError as error:
                raise RunnableError(f"RUNNABLE_LOG_LEVEL: {error}") from None
        return _run(name, arguments)
    except RunnableError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code


def _run(name: str, arguments: argparse.Namespace) -> int:
    import json

    from runnable import entrypoints

    iteration = _iteration(arguments.iter_variable)
    call = {"execute-step": entrypoints.execute_step, "fan-out": entrypoints.fan_out, "fan-in": entrypoints.fan_in}
    try:
        result: Any = call[name](
            arguments.file,
            arguments.address.replace("%", " "),
            run_id=arguments.run_id,
            iteration=iteration,
            configuration_file=arguments.config,
            parameters_file=arguments.parameters,
            tag=arguments.tag,
        )
    except OSError as error:  # a store or catalog that cannot be reached: the orchestrator may retry
        raise InfrastructureError(f"{type(error).__name__}: {error}") from None
    where = f"{arguments.file}: step {arguments.address!r}"
    if name == "fan-out":
        body = json.dumps({**result.model_dump(mode="json"), "keys": result.keys})
        if arguments.plan_file:
            _write(arguments.plan_file, body)
        else:
            print(body)
        if arguments.keys_file:
            _write(arguments.keys_file, json.dumps(result.keys))
        if arguments.done_file:
            _write(arguments.done_file, json.dumps(result.done))
        if result.status == "FAIL":
            raise TaskFailedError(f"{where}: {result.message}")
        return 0
    from runnable.models.graph import FailNode
    from runnable.models.run_log import SUCCESS

    if result.status != SUCCESS:
        raise TaskFailedError(f"{arguments.file}: step {result.internal_name!r}: {result.message}")
    if name == "execute-step" and result.step_type == FailNode.model_fields["type"].default:
        raise TaskFailedError(f"{arguments.file}: {result.internal_name!r} reached: the run (or branch) failed")
    return 0


def _iteration(text: str) -> dict[str, Any] | None:
    import json

    if not text:
        return None
    try:
        values = json.loads(text)
    except ValueError:
        raise RunnableError(f"--iter-variable: not JSON: {text!r}") from None
    if not isinstance(values, dict):
        raise RunnableError(f"--iter-variable: a JSON object is expected, got {text!r}")
    return values


def _write(path: str, text: str) -> None:
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
