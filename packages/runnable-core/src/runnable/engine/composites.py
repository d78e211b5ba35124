"""Composite steps: parallel, map, conditional and loop, as two decisions the run object makes.

*Fan out* decides which branches run (:func:`plan_branches`); *fan in* merges what they returned into the
enclosing scope (:func:`merge_branches`). Both read only the graph, the enclosing scope and the composite's
record in the run log, so a process that never saw the branches run (a container) decides exactly as the
process that ran them would:

* parallel: every branch runs; on a name returned by several branches the later branch (in declaration
  order) wins, and a warning says so;
* map: the branch runs once per item; each return is reduced over the iterations, by default into a list in
  iteration order, or by the ``reducer`` lambda;
* conditional: the branch keyed by ``str(parameter value)`` runs; its returns are merged;
* loop: the branch runs with ``index_as`` = 0, 1, ... carrying its parameters from one round to the next,
  until ``break_on`` is true after a round or ``max_iterations`` rounds ran.

A composite step fails when any branch it ran failed.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable
from typing import Any

from runnable.engine.context import RunContext, Scope
from runnable.engine.objects import ParameterValues, load_object, store_object
from runnable.engine.parameters import json_parameter, metric_parameter
from runnable.engine.scopes import branch_status, returns_of
from runnable.errors import ParameterError
from runnable.models.graph import CompositeNode, ConditionalNode, Graph, LoopNode, MapNode, ParallelNode
from runnable.models.names import check_map_item_key
from runnable.models.parameters import Parameter
from runnable.models.run_log import FAIL, SUCCESS, BranchLog, StepLog, walk_steps
from runnable.services.catalog import put_clashes

logger = logging.getLogger("runnable")


Planned = list[tuple[str, dict[str, Any]]]  # (branch key, the iteration values it adds)
Merged = tuple[str, dict[str, Parameter], list[str]]  # (status, merged returns, notes for the message)


def branch_graph(node: CompositeNode, key: str) -> Graph:
    if isinstance(node, (ParallelNode, ConditionalNode)):
        return node.branches[key]
    return next(iter(node.branch_graphs().values()))


def plan_branches(node: CompositeNode, record: StepLog, scope: Scope, context: RunContext) -> tuple[Planned, bool]:
    """The branches to run now, and whether the composite is then done fanning out (a loop is not, until the
    round that breaks it). Bad input (no such parameter, no branch for a value) raises a ParameterError."""
    if isinstance(node, ParallelNode):
        return [(key, {}) for key in node.branches], True
    values = ParameterValues(scope.parameters, context.catalog, context.run_id, scope.iteration)
    if isinstance(node, MapNode):
        if node.iterate_on not in values:
            raise ParameterError(f"step {node.name!r}: iterate_on names no parameter {node.iterate_on!r}")
        items = values[node.iterate_on]
        if not isinstance(items, (list, tuple)):
            raise ParameterError(
                f"step {node.name!r}: iterate_on parameter {node.iterate_on!r} must be a list, "
                f"got {type(items).__name__}"
            )
        return [
            (key, {node.iterate_as: item}) for key, item in zip(iteration_keys(list(items)), items, strict=True)
        ], True
    if isinstance(node, ConditionalNode):
        if node.parameter not in values:
            raise ParameterError(f"step {node.name!r}: parameter {node.parameter!r} that picks the branch is not set")
        key = str(values[node.parameter])
        if key not in node.branches:
            raise ParameterError(
                f"step {node.name!r}: no branch for {node.parameter}={key!r}; branches: {', '.join(node.branches)}"
            )
        return [(key, {})], True
    assert isinstance(node, LoopNode)
    rounds = list(record.branches.values())
    if rounds:
        if branch_status(rounds[-1]) != SUCCESS or len(rounds) >= node.max_iterations:
            return [], True
        parameters = dict(scope.parameters)
        for earlier in rounds:
            parameters.update(returns_of(earlier))
        if node.break_on in parameters and parameters[node.break_on].value is True:
            return [], True
    index = len(rounds)
    return [(str(index), {node.index_as: index})], False


def merge_branches(node: CompositeNode, record: StepLog, scope: Scope, context: RunContext) -> Merged:
    """What the composite returns to its scope, from its branches' records (statuses already derived).

    Branches that put one catalog name with different bytes overwrite each other's item: when they ran at the
    same time (``enable_parallel``) a file may even have been read or hashed while another branch rewrote it,
    so the composite fails; run one after the other, the last one wins and the message says so.
    """
    branches = list(record.branches.values())
    status, merged, notes = _MERGERS[type(node)](node, branches, scope, context)
    if isinstance(node, (ParallelNode, MapNode)) and len(branches) > 1:
        clashes = put_clashes(
            {b.internal_name: [e for s in walk_steps(b.steps) for e in s.data_catalog] for b in branches}
        )
        if clashes and getattr(context.executor, "enable_parallel", False):
            return FAIL, merged, [*clashes[:1], "give each branch's files their own names (e.g. with the map item)"]
        for clash in clashes:
            logger.warning("step %r: %s: the last one wins", node.name, clash)
        notes = [*notes, *(f"{clash}: the last one wins" for clash in clashes[:1])]
    return status, merged, notes


def _parallel(node: ParallelNode, branches: list[BranchLog], scope: Scope, context: RunContext) -> Merged:
    merged: dict[str, Parameter] = {}
    origin: dict[str, str] = {}
    notes = []
    for branch in branches:
        for name, parameter in sorted(returns_of(branch).items()):
            if name in merged:
                note = (
                    f"parameter {name!r} returned by branches {origin[name]!r} and {branch.internal_name!r}: "
                    "the later wins"
                )
                logger.warning("step %r: %s", node.name, note)
                notes.append(note)
            merged[name] = parameter
            origin[name] = branch.internal_name
    failed = [b.internal_name for b in branches if b.status != SUCCESS]
    if failed:
        return FAIL, merged, [f"branch {failed[0]!r} failed", *notes]
    return SUCCESS, merged, notes


_KEY = re.compile(r"[^A-Za-z0-9_-]+")


def iteration_keys(values: list[Any]) -> list[str]:
    """Readable, unique parts of internal names for map items: the item itself when short and simple."""
    keys: list[str] = []
    taken: set[str] = set()  # not `key in keys`: a list scan per item is quadratic (0.45 s at 10,000 items)
    for index, value in enumerate(values):
        key = _KEY.sub("_", str(value))[:40] if isinstance(value, (str, int, float, bool)) else str(index)
        key = key if key and key not in taken else f"{key}-{index}"
        keys.append(check_map_item_key(key))
        taken.add(key)
    return keys


def _map(node: MapNode, branches: list[BranchLog], scope: Scope, context: RunContext) -> Merged:
    failed = [b.internal_name for b in branches if b.status != SUCCESS]
    if failed:
        return FAIL, {}, [f"iteration {failed[0]!r} failed"]
    reducer = _reducer(node)
    returns = [returns_of(b) for b in branches]
    merged: dict[str, Parameter] = {}
    names = [n for returned in returns for n in sorted(returned)]
    for name in dict.fromkeys(names):
        values = [returned[name] for returned in returns if name in returned]
        merged[name] = _reduce(node, context, scope, name, values, reducer)
    return SUCCESS, merged, []


def _reducer(node: MapNode) -> Callable[..., Any]:
    if not node.reducer:
        return lambda *values: list(values)
    try:
        reducer = eval(node.reducer, {"__builtins__": builtins})  # the pipeline author's own code
    except Exception as error:
        raise ParameterError(f"step {node.name!r}: reducer {node.reducer!r} is not valid python: {error}") from None
    if not callable(reducer):
        raise ParameterError(f"step {node.name!r}: reducer {node.reducer!r} is not a function")
    return reducer


def _reduce(
    node: MapNode, context: RunContext, scope: Scope, name: str, returned: list[Parameter], reducer: Callable[..., Any]
) -> Parameter:
    if any(p.kind == "object" for p in returned):
        values = [load_object(context.catalog, context.run_id, p.value) for p in returned]
    else:
        values = [p.value for p in returned]
    try:
        reduced = reducer(*values)
    except Exception as error:
        raise ParameterError(f"step {node.name!r}: reducing {name!r} failed: {type(error).__name__}: {error}") from None
    kinds = {p.kind for p in returned}
    if "object" in kinds:
        return store_object(context.catalog, context.run_id, scope.internal_name(name), reduced, step=node.name)
    if kinds == {"metric"}:
        try:
            return metric_parameter(name, reduced, node.name)
        except ParameterError:
            pass  # e.g. a grid of metrics from nested maps: still worth keeping, as json
    return json_parameter(name, reduced, node.name)


def _conditional(node: ConditionalNode, branches: list[BranchLog], scope: Scope, context: RunContext) -> Merged:
    (branch,) = branches
    key = branch.internal_name.rsplit(".", 1)[1]
    if branch.status != SUCCESS:
        return FAIL, {}, [f"branch {key!r} failed"]
    return SUCCESS, dict(sorted(returns_of(branch).items())), [f"ran branch {key!r}"]


def _loop(node: LoopNode, branches: list[BranchLog], scope: Scope, context: RunContext) -> Merged:
    merged: dict[str, Parameter] = {}
    for index, branch in enumerate(branches):
        if branch.status != SUCCESS:
            return FAIL, {}, [f"iteration {index} failed"]
        merged.update(returns_of(branch))
    merged = dict(sorted(merged.items()))
    final = {**scope.parameters, **merged}
    if node.break_on in final and final[node.break_on].value is True:
        return SUCCESS, merged, [f"{node.break_on} after {len(branches)} iterations"]
    return SUCCESS, merged, [f"max_iterations ({node.max_iterations}) reached"]


_MERGERS: dict[type, Callable[..., Merged]] = {
    ParallelNode: _parallel,
    MapNode: _map,
    ConditionalNode: _conditional,
    LoopNode: _loop,
}
