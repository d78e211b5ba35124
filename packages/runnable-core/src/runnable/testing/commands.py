"""Finding the ``runnable execute-step`` commands in rendered files, whatever their format.

Orchestrators write commands in different shapes: a line of a shell script, an argv list in JSON (a
Batch job's ``Command``), a container's ``command`` + ``args`` in YAML (Argo), or a script embedded in a
YAML string (``script.source``). :func:`find_commands` understands those; an executor with another shape
overrides ``RenderingExecutorSuite.commands_in``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

VERB = "execute-step"


@dataclass(frozen=True)
class StepCommand:
    """One ``runnable execute-step <pipeline file> <step> --run-id <id> ...`` found in a rendered file."""

    file: str
    argv: tuple[str, ...]

    @property
    def _verb(self) -> int:
        return self.argv.index(VERB)

    @property
    def pipeline_file(self) -> str:
        rest = self.argv[self._verb + 1 :]
        return rest[0] if rest else ""

    @property
    def step(self) -> str:
        rest = self.argv[self._verb + 1 :]
        return rest[1] if len(rest) > 1 else ""

    @property
    def run_id(self) -> str:
        options = self.argv[self._verb + 3 :]
        for index, token in enumerate(options):
            if token == "--run-id" and index + 1 < len(options):
                return options[index + 1]
            if token.startswith("--run-id="):
                return token.split("=", 1)[1]
        return ""

    @property
    def calls_runnable(self) -> bool:
        """The verb follows ``runnable`` (the console script, a path to it, or ``python -m runnable``)."""
        verb = self._verb
        return verb > 0 and PurePosixPath(self.argv[verb - 1]).name == "runnable"


def shell_commands(text: str) -> Iterator[tuple[str, ...]]:
    """Argv of each simple command naming the verb, from shell text (``;``, ``&&``, ``|`` separate commands)."""
    for line in text.splitlines():
        if VERB not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: not a command we can read
            continue
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set(";&|()<>"):
                if VERB in command:
                    yield tuple(command)
                command = []
            else:
                command.append(token)


def _walk(value: Any) -> Iterator[tuple[str, ...]]:
    if isinstance(value, str):
        yield from shell_commands(value)
    elif isinstance(value, list):
        if value and all(isinstance(item, str) for item in value) and VERB in value:
            yield tuple(value)
        else:
            for item in value:
                yield from _walk(item)
    elif isinstance(value, dict):
        keys = {str(k).lower(): k for k in value}
        command, args = value.get(keys.get("command", "")), value.get(keys.get("args", ""))
        if isinstance(command, list) and isinstance(args, list) and VERB in [*command, *args]:
            yield tuple(str(part) for part in [*command, *args])  # a container: command + args is one argv
            value = {k: v for k, v in value.items() if k not in (keys["command"], keys["args"])}
        for item in value.values():
            yield from _walk(item)


def _documents(name: str, text: str) -> list[Any] | None:
    """Parsed documents for JSON and YAML files, None for anything else (read as shell text)."""
    suffix = PurePosixPath(name).suffix.lower()
    try:
        if suffix == ".json":
            return [json.loads(text)]
        if suffix in (".yaml", ".yml"):
            return list(yaml.safe_load_all(text))
    except (ValueError, yaml.YAMLError):
        return None
    return None


def find_commands(files: dict[str, str]) -> list[StepCommand]:
    """Every ``execute-step`` command in the rendered files, in file order."""
    found = []
    for name, text in files.items():
        documents = _documents(name, text)
        argvs = _walk(documents) if documents is not None else shell_commands(text)
        found.extend(StepCommand(file=name, argv=argv) for argv in argvs)
    return found
