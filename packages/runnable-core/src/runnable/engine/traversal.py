"""Walking a graph in-process: from ``start_at``, follow ``next`` on success and ``on_failure`` (or the
graph's fail step) on failure, until a terminal step."""

from __future__ import annotations

from runnable.engine.context import RunContext, Scope
from runnable.engine.steps import run_node
from runnable.models.graph import FailNode, Graph
from runnable.models.run_log import FAIL, SUCCESS, Status


def traverse(graph: Graph, context: RunContext, scope: Scope) -> Status:
    """Run the graph's steps in order; the status is that of the terminal step reached."""
    current = graph.nodes[graph.start_at]
    while not current.is_terminal:
        step_log = run_node(current, context, scope)
        if step_log.status == SUCCESS:
            current = graph.nodes[current.next_node]
        else:
            current = graph.nodes[current.on_failure or graph.fail_node]
    run_node(current, context, scope)
    return FAIL if isinstance(current, FailNode) else SUCCESS
