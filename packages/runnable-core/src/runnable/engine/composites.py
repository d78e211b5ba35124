"""Composite steps: parallel, map, conditional and loop.

Each branch runs in its own :class:`Scope` (a copy of the parameters, a prefix for internal names); what the
branches return is merged back into the enclosing scope when the composite step ends:

* parallel: every branch runs; on a name returned by several branches the later branch (in declaration
  order) wins, and a warning says so;
* map: the branch runs once per item; each return is reduced over the iterations, by default into a list in
  iteration order, or by the ``reducer`` lambda;
* conditional: the branch keyed by ``str(parameter value)`` runs; its returns are merged;
* loop: the branch runs with ``index_as`` = 0, 1, ... carrying its parameters from one iteration to the
  next, until ``break_on`` is true or ``max_iterations`` ran.

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
from runnable.engine.parallel import BranchRun, run_branches
from runnable.engine.parameters import json_parameter, metric_parameter
from runnable.engine.steps import begin, end, now, one_line_message
from runnable.errors import ParameterError, RunnableError
from runnable.models.graph import CompositeNode, ConditionalNode, LoopNode, MapNode, ParallelNode
from runnable.models.parameters import Parameter
from runnable.models.run_log import FAIL, SUCCESS, BranchLog, StepAttempt, StepLog

logger = logging.getLogger("runnable")


def run_composite(node: CompositeNode, context: RunContext, scope: Scope) -> StepLog:
    step_log = begin(node, context, scope, node.type)  # type: ignore[attr-defined]
    attempt = StepAttempt(start_time=now(), status=FAIL)
    step_log.attempts.append(attempt)
    merged: dict[str, Parameter] = {}
    try:
        runner = _RUNNERS[type(node)]
        status, merged, notes = runner(node, context, scope, step_log)
        attempt.status = status
        attempt.message = "; ".join(notes)
    except RunnableError as error:
        attempt.status = FAIL
        attempt.message = one_line_message(node, error)
    attempt.end_time = now()
    attempt.output_parameters = merged
    step_log.status = attempt.status
    step_log.message = attempt.message
    metrics = {name: p.value for name, p in merged.items() if p.kind == "metric"}
    return end(context, scope, step_log, merged, metrics)


def _run(branches: list[BranchRun], context: RunContext, step_log: StepLog) -> list[Scope]:
    """Run branches (in processes when the executor allows), attach their records, return their scopes."""
    results = run_branches(branches, context)
    for branch, (status, branch_log, child) in zip(branches, results, strict=True):
        if branch_log is not None:
            step_log.branches[branch.name] = branch_log
        record = step_log.branches.setdefault(branch.name, BranchLog(internal_name=branch.name))
        record.status = status
        branch.scope = child
        branch.status = status
    return [b.scope for b in branches]


def _failed(branches: list[BranchRun]) -> list[str]:
    return [b.name for b in branches if b.status != SUCCESS]


def _returns(scope: Scope) -> dict[str, Parameter]:
    return {name: scope.parameters[name] for name in sorted(scope.returned)}


def _parallel(
    node: ParallelNode, context: RunContext, scope: Scope, step_log: StepLog
) -> tuple[str, dict[str, Parameter], list[str]]:
    internal = step_log.internal_name
    branches = [
        BranchRun(f"{internal}.{key}", graph, scope.branch(f"{internal}.{key}")) for key, graph in node.branches.items()
    ]
    _run(branches, context, step_log)
    merged: dict[str, Parameter] = {}
    origin: dict[str, str] = {}
    notes = []
    for branch in branches:
        for name, parameter in _returns(branch.scope).items():
            if name in merged:
                note = f"parameter {name!r} returned by branches {origin[name]!r} and {branch.name!r}: the later wins"
                logger.warning("step %r: %s", node.name, note)
                notes.append(note)
            merged[name] = parameter
            origin[name] = branch.name
    failed = _failed(branches)
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
        keys.append(key)
        taken.add(key)
    return keys


def _map(
    node: MapNode, context: RunContext, scope: Scope, step_log: StepLog
) -> tuple[str, dict[str, Parameter], list[str]]:
    values = ParameterValues(scope.parameters, context.catalog, context.run_id, scope.iteration)
    if node.iterate_on not in values:
        raise ParameterError(f"step {node.name!r}: iterate_on names no parameter {node.iterate_on!r}")
    items = values[node.iterate_on]
    if not isinstance(items, (list, tuple)):
        raise ParameterError(
            f"step {node.name!r}: iterate_on parameter {node.iterate_on!r} must be a list, got {type(items).__name__}"
        )
    internal = step_log.internal_name
    branches = [
        BranchRun(f"{internal}.{key}", node.branch, scope.branch(f"{internal}.{key}", {node.iterate_as: item}))
        for key, item in zip(iteration_keys(list(items)), items, strict=True)
    ]
    _run(branches, context, step_log)
    failed = _failed(branches)
    if failed:
        return FAIL, {}, [f"iteration {failed[0]!r} failed"]
    reducer = _reducer(node)
    merged: dict[str, Parameter] = {}
    names = [n for b in branches for n in sorted(b.scope.returned)]
    for name in dict.fromkeys(names):
        returned = [b.scope.parameters[name] for b in branches if name in b.scope.returned]
        merged[name] = _reduce(node, context, scope, name, returned, reducer)
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


def _conditional(
    node: ConditionalNode, context: RunContext, scope: Scope, step_log: StepLog
) -> tuple[str, dict[str, Parameter], list[str]]:
    values = ParameterValues(scope.parameters, context.catalog, context.run_id, scope.iteration)
    if node.parameter not in values:
        raise ParameterError(f"step {node.name!r}: parameter {node.parameter!r} that picks the branch is not set")
    key = str(values[node.parameter])
    if key not in node.branches:
        raise ParameterError(
            f"step {node.name!r}: no branch for {node.parameter}={key!r}; branches: {', '.join(node.branches)}"
        )
    internal = step_log.internal_name
    (branch,) = branches = [BranchRun(f"{internal}.{key}", node.branches[key], scope.branch(f"{internal}.{key}"))]
    _run(branches, context, step_log)
    if branch.status != SUCCESS:
        return FAIL, {}, [f"branch {key!r} failed"]
    return SUCCESS, _returns(branch.scope), [f"ran branch {key!r}"]


def _loop(
    node: LoopNode, context: RunContext, scope: Scope, step_log: StepLog
) -> tuple[str, dict[str, Parameter], list[str]]:
    internal = step_log.internal_name
    parameters = dict(scope.parameters)
    returned: set[str] = set()
    for index in range(node.max_iterations):
        child = Scope(dict(parameters), f"{internal}.{index}", {**scope.iteration, node.index_as: index})
        (branch,) = branches = [BranchRun(child.prefix, node.branch, child)]
        _run(branches, context, step_log)
        parameters = branch.scope.parameters
        returned |= branch.scope.returned
        if branch.status != SUCCESS:
            return FAIL, {}, [f"iteration {index} failed"]
        if node.break_on in parameters and parameters[node.break_on].value is True:
            return (
                SUCCESS,
                {n: parameters[n] for n in sorted(returned)},
                [f"{node.break_on} after {index + 1} iterations"],
            )
    return SUCCESS, {n: parameters[n] for n in sorted(returned)}, [f"max_iterations ({node.max_iterations}) reached"]


_RUNNERS: dict[type, Callable[..., tuple[str, dict[str, Parameter], list[str]]]] = {
    ParallelNode: _parallel,
    MapNode: _map,
    ConditionalNode: _conditional,
    LoopNode: _loop,
}
