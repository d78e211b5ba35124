"""A Mermaid flowchart of a rendered state machine: what the Step Functions console would draw.

Branches of Parallel and Map states are subgraphs (each branch starts at its first state); a ``Catch`` is a
dotted edge, a ``Choice`` rule an edge labelled with what it tests.
"""

from __future__ import annotations

import itertools
from typing import Any

_SHAPES = {"Succeed": ("([", "])"), "Fail": ("[[", "]]"), "Choice": ("{", "}")}


def mermaid(machine: dict[str, Any]) -> str:
    lines = ["flowchart TD"]
    counter = itertools.count()
    _scope(machine, lines, counter, "  ")
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _scope(scope: dict[str, Any], lines: list[str], counter: itertools.count, indent: str) -> dict[str, str]:
    ids = {name: f"s{next(counter)}" for name in scope["States"]}
    for name, state in scope["States"].items():
        node = ids[name]
        kind = state["Type"]
        if kind in ("Parallel", "Map"):
            lines.append(f"{indent}subgraph {node}[{_label(f'{name} · {kind}')}]")
            branches = state.get("Branches") or [state["ItemProcessor"]]
            for branch in branches:
                _scope(branch, lines, counter, indent + "  ")
            lines.append(f"{indent}end")
            continue
        opening, closing = _SHAPES.get(kind, ("[", "]"))
        text = name if kind != "Task" else f"{name}<br/><i>{state['Resource'].rsplit(':', 1)[-1]}</i>"
        lines.append(f"{indent}{node}{opening}{_label(text)}{closing}")
    for name, state in scope["States"].items():
        node = ids[name]
        if "Next" in state:
            lines.append(f"{indent}{node} --> {ids[state['Next']]}")
        for rule in state.get("Choices", []):
            test = next(f"{k} {v}" for k, v in rule.items() if k not in ("Variable", "Next"))
            lines.append(f"{indent}{node} -->|{_label(rule['Variable'] + ' ' + test)}| {ids[rule['Next']]}")
        if "Default" in state:
            lines.append(f"{indent}{node} -->|default| {ids[state['Default']]}")
        for catch in state.get("Catch", []):
            lines.append(f"{indent}{node} -.->|catch| {ids[catch['Next']]}")
    return ids
