"""Walking a graph in-process over the run protocol: from ``start_at``, follow ``next`` on success and
``on_failure`` (or the graph's fail step) on failure, until a terminal step; composite steps are fanned out,
their branches walked (here, or in forked processes), and fanned in."""

from __future__ import annotations

from runnable.engine.composites import branch_graph
from runnable.engine.parallel import run_branches
from runnable.engine.run import Plan, Run
from runnable.models.graph import CompositeNode, Graph
from runnable.models.run_log import SUCCESS, StepLog


def execute(run: Run) -> None:
    """The whole run in this process: open, walk, close (a terminal step closes it; a crash still does)."""
    with run.running():
        walk(run, run.context.graph, "")


def walk(run: Run, graph: Graph, prefix: str) -> None:
    """Run the steps of ``graph`` (the pipeline, or a branch whose internal name is ``prefix``) in order."""
    current = graph.nodes[graph.start_at]
    while not current.is_terminal:
        address = f"{prefix}.{current.name}" if prefix else current.name
        if isinstance(current, CompositeNode):
            step_log = run_composite(run, current, address)
        else:
            step_log = run.step(address)
        if step_log.status == SUCCESS:
            current = graph.nodes[current.next_node]
        else:
            current = graph.nodes[current.on_failure or graph.fail_node]
    run.step(f"{prefix}.{current.name}" if prefix else current.name)


def run_composite(run: Run, node: CompositeNode, address: str) -> StepLog:
    """Fan out (again and again for a loop), walk the planned branches, fan in."""
    while True:
        plan: Plan = run.fan_out(address)
        if plan.status != SUCCESS and plan.status != "PROCESSING":
            assert run.context.run_log is not None
            return run.context.run_log.search_step(address)
        run_branches(run, [(b.name, branch_graph(node, b.key)) for b in plan.branches], walk)
        if plan.done:
            return run.fan_in(address)
