"""Addresses and scopes: which node a dotted internal name points at, and what it sees when it runs.

An address is a step's dotted internal name: ``train`` at the top, ``fan.3.train`` for step ``train`` of
the branch ``3`` of map ``fan``, ``outer.a.inner.0.x`` deeper down. Parts alternate step name and branch
key. A branch exists only once its composite step was fanned out: the fan-out records each planned branch
(with its iteration values) in the run log, so an address naming a branch that was never planned is an
error, whatever the graph says.

The scope of a branch is rebuilt from the run log alone, so a fresh process (a container) sees exactly what
the in-process traversal keeps in memory:

* a branch starts from its enclosing scope's parameters; a loop round also from what earlier rounds
  returned, in order;
* every step of the branch that succeeded adds what it returned (a composite: what its fan-in merged);
* iteration values are those of the enclosing branches plus the branch's own (``iterate_as``, ``index_as``).
"""

from __future__ import annotations

from typing import Any

from runnable.engine.context import Scope
from runnable.errors import AddressError
from runnable.models.graph import BaseNode, CompositeNode, ConditionalNode, Graph, LoopNode, ParallelNode
from runnable.models.parameters import Parameter
from runnable.models.run_log import SUCCESS, BranchLog, RunLog, StepLog


def find_node(graph: Graph, address: str) -> tuple[BaseNode, str]:
    """The node an address points at in the graph, and the prefix (branch internal name) it runs in."""
    parts = address.split(".")
    current, prefix = graph, []
    while True:
        name = parts.pop(0)
        node = current.nodes.get(name)
        if node is None:
            raise AddressError(f"no step {address!r}: {'.'.join([*prefix, name])!r} names no step")
        if not parts:
            return node, ".".join(prefix)
        if not isinstance(node, CompositeNode):
            raise AddressError(f"no step {address!r}: {name!r} has no branches")
        key = parts.pop(0)
        if not parts:
            raise AddressError(f"no step {address!r}: it names branch {key!r} of {name!r}, not a step")
        if isinstance(node, (ParallelNode, ConditionalNode)):
            if key not in node.branches:
                raise AddressError(f"no step {address!r}: {name!r} has no branch {key!r}")
            current = node.branches[key]
        else:
            current = next(iter(node.branch_graphs().values()))
        prefix += [name, key]


def enclosing(prefix: str) -> tuple[str, str]:
    """``outer.a.inner.3`` -> (``outer.a.inner``, ``outer.a``): the composite step and the prefix it runs in."""
    composite = prefix.rsplit(".", 1)[0]
    return composite, (composite.rsplit(".", 1)[0] if "." in composite else "")


def returns_of(branch: BranchLog) -> dict[str, Parameter]:
    """What the steps of a branch returned, in the order they ran; only steps that succeeded return."""
    returned: dict[str, Parameter] = {}
    for step in branch.steps.values():
        if step.status == SUCCESS and step.attempts:
            returned.update(step.attempts[-1].output_parameters)
    return returned


def branch_status(branch: BranchLog) -> str:
    """A branch succeeded when it reached its success step; anything else (its fail step, a step that failed
    with nowhere to go, a branch that never ended) is a failure."""
    for step in branch.steps.values():
        if step.step_type == "success" and step.status == SUCCESS:
            return SUCCESS
    return "FAIL"


def composite_record(run_log: RunLog, internal_name: str) -> StepLog | None:
    return run_log.find_step(internal_name)


def resolve_scope(run_log: RunLog, graph: Graph, prefix: str, top: Scope, cache: dict[str, Scope]) -> Scope:
    """The scope of the branch ``prefix`` (``""`` is the run itself), built from the run log."""
    if not prefix:
        return top
    if prefix in cache:
        return cache[prefix]
    composite_name, parent_prefix = enclosing(prefix)
    parent = resolve_scope(run_log, graph, parent_prefix, top, cache)
    record = composite_record(run_log, composite_name)
    branch = record.branches.get(prefix) if record is not None else None
    if record is None or branch is None or branch.status == "CREATED":
        raise AddressError(
            f"no branch {prefix!r} in run {run_log.run_id!r}: step {composite_name!r} did not plan it",
            hint=f"run `runnable fan-out` for {composite_name!r} first; its plan lists the branches",
        )
    parameters = dict(parent.parameters)
    node, _ = find_node(graph, composite_name)
    if isinstance(node, LoopNode):  # a round starts where the rounds before it left off
        for name, earlier in record.branches.items():
            if name == prefix:
                break
            parameters.update(returns_of(earlier))
    scope = Scope(parameters, prefix, {**parent.iteration, **branch.iteration})
    own = returns_of(branch)
    scope.parameters.update(own)
    scope.returned.update(own)
    cache[prefix] = scope
    return scope


def check_iteration(scope: Scope, given: dict[str, Any] | None, address: str) -> None:
    """Iteration values passed on the command line must be those the fan-out planned for this branch."""
    for name, value in (given or {}).items():
        if scope.iteration.get(name, object()) != value:
            planned = scope.iteration.get(name, "nothing")
            raise AddressError(
                f"step {address!r}: iteration value {name}={value!r} was not planned (planned: {planned!r})"
            )
