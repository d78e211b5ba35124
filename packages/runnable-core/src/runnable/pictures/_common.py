"""What the Mermaid text and the SVG picture agree on: which steps are drawn, in which order, with which words.

Both pictures walk the same graph model, so the rules live here once: a step's kind, its one-line
description, the edges between steps and which terminal steps deserve a shape at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runnable.models import graph as g

EdgeKind = Literal["next", "on_failure"]

# Longest text a label line keeps before it is cut with an ellipsis; pictures stay readable with long commands.
DETAIL_CHARS = 38


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    """The first line of ``text``, whitespace squeezed, cut to ``limit`` characters with an ellipsis."""
    lines = text.strip().splitlines()
    first = " ".join(lines[0].split()) if lines else ""
    if len(lines) > 1:
        first += " …"
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def kind_of(node: g.BaseNode) -> str:
    """The word a person reads for a step: ``python``/``notebook``/``shell`` for tasks, else the node type."""
    if isinstance(node, g.TaskNode):
        return node.command_type
    return str(getattr(node, "type", "step"))


def detail_of(node: g.BaseNode) -> str:
    """One short line under the step name: the command of a task, what drives a composite step."""
    if isinstance(node, g.TaskNode):
        command = node.command
        if node.command_type == "python":
            # module.function is long and the module is rarely news: keep the last two parts.
            command = ".".join(command.split(".")[-2:])
        return shorten(command)
    if isinstance(node, g.MapNode):
        return shorten(f"for {node.iterate_as} in {node.iterate_on}")
    if isinstance(node, g.LoopNode):
        return shorten(f"until {node.break_on} (max {node.max_iterations}, index {node.index_as})")
    if isinstance(node, g.ConditionalNode):
        return shorten(f"branch by {node.parameter}")
    if isinstance(node, g.ParallelNode):
        return f"{len(node.branches)} branches in parallel"
    return ""


def branch_title(node: g.CompositeNode, key: str) -> str:
    """How a branch is called in a picture: its key, or the condition under which a conditional runs it."""
    if isinstance(node, g.ConditionalNode):
        return f"{node.parameter} == {key}"
    return key


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind


def edges_of(graph: g.Graph) -> list[Edge]:
    """Every ``next`` and ``on_failure`` edge, in step order (``next`` first for each step)."""
    edges: list[Edge] = []
    for node in graph.nodes.values():
        if node.is_terminal:
            continue
        if node.next_node:
            edges.append(Edge(node.name, node.next_node, "next"))
        if node.on_failure:
            edges.append(Edge(node.name, node.on_failure, "on_failure"))
    return edges


def visible_nodes(graph: g.Graph) -> list[str]:
    """The steps to draw, in walk order from ``start_at``.

    A terminal step is drawn only when an edge leads to it: every (sub-)graph has a success and a fail step,
    and an unreferenced ``fail`` would float unconnected in every branch. Steps failing without
    ``on_failure`` end in ``fail`` implicitly; the pictures do not draw those edges (nor does the Argo UI).
    """
    targets = {edge.target for edge in edges_of(graph)}
    order: list[str] = []
    seen: set[str] = set()
    stack = [graph.start_at]
    while stack:
        name = stack.pop()
        if name in seen or name not in graph.nodes:
            continue
        seen.add(name)
        order.append(name)
        node = graph.nodes[name]
        # Push on_failure first so that the next step is visited first (depth first along the happy path).
        for target in (node.on_failure, node.next_node):
            if target and target not in seen:
                stack.append(target)
    order += [name for name in graph.nodes if name not in seen]  # validate_structure forbids these; be lenient
    return [name for name in order if not graph.nodes[name].is_terminal or name in targets]
