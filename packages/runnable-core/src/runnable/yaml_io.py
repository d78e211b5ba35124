"""YAML reading with errors that name the file and line; the C loader when available (much faster).

Every YAML file runnable reads (pipelines, configuration, parameters) goes through :func:`load_yaml_file`,
which refuses, in one line naming the file:

* a file larger than :data:`MAX_YAML_BYTES` (10 MiB): these are definitions, not data;
* aliases that expand the document by more than :data:`MAX_ALIAS_EXPANSION` nodes ("billion laughs": a few
  lines of anchors that become billions of values once anything walks them);
* a mapping with the same key twice (YAML says keys are unique; PyYAML would silently keep the last one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runnable.errors import RunnableError

MAX_YAML_BYTES = 10 * 1024 * 1024
MAX_ALIAS_EXPANSION = 100_000

try:
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml built without libyaml
    _Base = yaml.SafeLoader

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader, refusing duplicate keys (merge keys ``<<`` may still be overridden, as YAML allows)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {first.line + 1})", key_node.start_mark
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


class _TooLarge(Exception):
    pass


def load_yaml_file(path: str | Path, error: type[RunnableError]) -> Any:
    """The parsed content of ``path``; any problem is raised as ``error`` in one line naming the file.

    A syntax error names ``file:line:column`` of the problem, and the construct it was found in
    ("while scanning a quoted scalar ... at line 3, column 9") when PyYAML knows it.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise error(
                f"{path}: {error.subject} is {size} bytes, over the {MAX_YAML_BYTES} bytes runnable reads",
                hint="keep data in files the tasks read (or the catalog), not in YAML definitions",
            )
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
        if "&" in text:  # anchors (hence aliases) are possible: count what they would expand to first
            _check_alias_expansion(path, text, error)
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise error(_describe(path, exc)) from None
    except RecursionError:
        raise error(f"{path}: {error.subject} nests too deeply to read") from None


def _check_alias_expansion(path: Path, text: str, error: type[RunnableError]) -> None:
    """Refuse documents whose aliases, expanded, add more than MAX_ALIAS_EXPANSION nodes (one pass over events)."""
    sizes: dict[str, int] = {}  # anchor -> nodes in its subtree with aliases expanded
    stack: list[list[Any]] = []  # open collections: [anchor, expanded size]
    expanded = written = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            written += 1
            stack.append([event.anchor, 1])
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, count = stack.pop()
            if anchor:
                sizes[anchor] = count
        elif isinstance(event, yaml.ScalarEvent):
            written += 1
            count = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            written += 1
            count = sizes.get(event.anchor, 1)
        else:
            continue
        if stack:
            stack[-1][1] += count
        else:
            expanded += count
        if max(expanded, stack[0][1] if stack else 0) - written > MAX_ALIAS_EXPANSION:
            mark = event.start_mark
            raise error(
                f"{path}:{mark.line + 1}:{mark.column + 1}: {error.subject}: aliases expand to more than "
                f"{MAX_ALIAS_EXPANSION} extra values",
                hint="write the values out, or use fewer nested aliases",
            )


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
