"""The rendering-executor conformance suite of runnable.testing, on the ``step-functions`` executor.

The commands are read the way Step Functions builds them: a Batch Task's ``ContainerOverrides.Command``, or
its ``Command.$`` intrinsic (``States.Array`` of string literals, ``States.Format`` and JSONPaths) evaluated
with the run id for ``$$.Execution.Name`` / ``$.run`` and ``0`` for a map's or loop's key (``$.k1``...),
which any map or loop accepts as a key.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from aws_server import Aws
from runnable.testing import RenderingExecutorSuite, StepCommand
from runnable.testing.executors import SECRET_NAME
from runnable_aws.stepfunctions.asl import BATCH, RUN, Expr, command_field
from runnable_aws.stepfunctions.executor import StepFunctionsExecutor
from sfn_tools import execute

_TOKEN = re.compile(r"\s*(?:(States\.\w+)\(|'((?:\\.|[^'\\])*)'|(\$\$?[\w.\[\]]*)|(\))|(,))")


def evaluate(text: str, paths: dict[str, str]) -> Any:
    """A small evaluator of the intrinsic functions the renderer writes (States.Array, States.Format)."""
    position = 0

    def value() -> Any:
        nonlocal position
        match = _TOKEN.match(text, position)
        assert match, f"cannot read {text[position:]!r}"
        position = match.end()
        function, literal, path = match.group(1), match.group(2), match.group(3)
        if literal is not None:
            return _Literal(literal)
        if path is not None:
            return paths[path]
        assert function, f"unexpected {match.group(0)!r} in {text!r}"
        arguments = []
        while True:
            arguments.append(value())
            match = _TOKEN.match(text, position)
            assert match and (match.group(4) or match.group(5)), text
            position = match.end()
            if match.group(4):
                break
        if function == "States.Array":
            return arguments
        assert function == "States.Format", function
        template, *values = arguments
        pieces = [_unescape(p) for p in re.split(r"(?<!\\)\{\}", template.raw)]
        return "".join(p + (str(values[i]) if i < len(values) else "") for i, p in enumerate(pieces))

    result = value()
    return [str(a) for a in result] if isinstance(result, list) else str(result)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


class _Literal(str):
    """A string literal of an intrinsic: its value, and its text as written (States.Format reads the escapes)."""

    raw: str

    def __new__(cls, raw: str) -> _Literal:
        literal = super().__new__(cls, _unescape(raw))
        literal.raw = raw
        return literal


def _tasks(states: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        if state.get("Resource") == BATCH:
            found.append(state)
        for branch in state.get("Branches", []):
            found += _tasks(branch["States"])
        if "ItemProcessor" in state:
            found += _tasks(state["ItemProcessor"]["States"])
    return found


def sfn_commands(files: dict[str, str]) -> list[StepCommand]:
    commands = []
    for name, text in files.items():
        if not name.endswith("-sfn.json"):
            continue
        for task in _tasks(json.loads(text)["States"]):
            overrides = task["Parameters"]["ContainerOverrides"]
            paths = {"$$.Execution.Name": "run-id", "$.run": "run-id"} | {f"$.k{i}": "0" for i in range(1, 10)}
            argv = overrides.get("Command") or evaluate(overrides["Command.$"], paths)
            commands.append(StepCommand(name, tuple(argv)))
    return commands


def test_the_evaluator_reads_what_the_renderer_writes() -> None:
    """Quotes, braces and backslashes in names survive the renderer's escaping (ASL intrinsic string literals)."""
    address = Expr("it's {odd} \\.") + Expr("{}", ("$.k1",))
    field = command_field(["runnable", address, RUN, "{}'s"])
    paths = {"$.k1": "3", "$$.Execution.Name": "r"}
    assert evaluate(field["Command.$"], paths) == ["runnable", "it's {odd} \\.3", "r", "{}'s"]


class TestStepFunctionsExecutor(RenderingExecutorSuite):
    @pytest.fixture
    def artifact_runner(self, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Any:
        """Runs the rendered state machine in aws-local-stepfunctions (sfn_run.mjs), plans in moto's S3."""

        def run(files: dict[str, str], folder: Path) -> None:
            rendered = folder.parent / f"{folder.name}-rendered"
            rendered.mkdir()
            for name, text in files.items():
                (rendered / name).write_text(text)
            monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)  # the containers' S3 (plans)
            (machine,) = rendered.glob("*-sfn.json")
            (jobs,) = rendered.glob("*-batch-job-definitions.json")
            execute(machine, jobs, folder, f"conformance-{uuid.uuid4().hex[:8]}", aws.endpoint)

        return run

    @pytest.fixture
    def pipeline_executor(self, aws: Aws, secret_value: str) -> StepFunctionsExecutor:
        # the secret the tasks need, in moto's Secrets Manager: Batch resolves the reference when a job starts
        created = aws.client("secretsmanager").create_secret(Name="conformance-token", SecretString=secret_value)
        return StepFunctionsExecutor(
            image="registry.example.com/project:1.0",  # no 12345: the suite looks for it
            job_queue="runnable",
            plans={"bucket": aws.bucket},
            secrets={SECRET_NAME: created["ARN"]},
        )

    def commands_in(self, files: dict[str, str]) -> list[StepCommand]:
        return [c for c in sfn_commands(files) if "execute-step" in c.argv]
