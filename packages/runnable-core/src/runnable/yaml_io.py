"""YAML reading with errors that name the file and line; the C loader when available (much faster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runnable.errors import RunnableError

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml built without libyaml
    _Loader = yaml.SafeLoader


def load_yaml_file(path: str | Path, error: type[RunnableError]) -> Any:
    """The parsed content of ``path``; any problem is raised as ``error`` in one line naming the file.

    A syntax error names ``file:line:column`` of the problem, and the construct it was found in
    ("while scanning a quoted scalar ... at line 3, column 9") when PyYAML knows it.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{path}: {error.subject} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: {error.subject} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {error.subject} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {error.subject} ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise error(_describe(path, exc)) from None


def _describe(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        problem += f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    elif context:
        problem = f"{context}, {problem}"
    return " ".join(f"{where}: malformed YAML: {problem}".split())
