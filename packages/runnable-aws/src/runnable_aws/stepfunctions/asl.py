"""The Amazon States Language state machine of a pipeline: one state per protocol call (docs/run-protocol.md).

The state machine reproduces :class:`runnable.executors.emulator.CommandDriver`'s walk:

* a task, stub, success or fail step is a Task state ``batch:submitJob.sync`` whose container runs
  ``runnable execute-step FILE ADDRESS --run-id <execution name>``; a non-zero exit fails the Batch job, the
  state's ``Catch`` goes to the step's ``on_failure`` or to the graph's fail step;
* a composite step is a fan-out Task, then its branches, then a fan-in Task. Parallel branches are a
  ``Parallel`` state. For map, conditional and loop the fan-out's container leaves a small plan in S3
  (``{done, keys, count}``, see :mod:`runnable_aws.stepfunctions.plan`) that an ``aws-sdk:s3:getObject``
  Task reads: a ``Map`` runs over the keys, a ``Choice`` picks the conditional's branch, and a loop is a
  ``Choice`` on ``done`` around a one-key ``Map`` that leads back to the fan-out, one round per fan-out;
  with a run log store that cannot take concurrent writers, branches run one at a time (a one-branch
  ``Parallel`` state per parallel branch, in sequence; maps with ``MaxConcurrency`` 1);
* a branch's own terminal step runs too, then the branch ends in ``Succeed`` whatever its outcome (its
  status is in the run log, the fan-in decides the composite's), so one failing branch never cancels its
  siblings; the pipeline's success step ends in ``Succeed``, its fail step in ``Fail``.

Map keys of the enclosing branches reach a state in its input as ``k1``, ``k2``...: addresses such as
``fan.3.train`` are built with ``States.Format`` at run time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runnable.models.graph import (
    CompositeNode,
    ConditionalNode,
    FailNode,
    Graph,
    LoopNode,
    MapNode,
    ParallelNode,
    SuccessNode,
)

BATCH = "arn:aws:states:::batch:submitJob.sync"
GET_OBJECT = "arn:aws:states:::aws-sdk:s3:getObject"
READ_ITEMS = "arn:aws:states:::s3:getObject"  # a distributed Map's ItemReader
RUN_ID = "$$.Execution.Name"
PLAN_MODULE = "runnable_aws.stepfunctions.plan"
ALL = ["States.ALL"]


def _quote(text: str) -> str:
    """A string literal of an intrinsic function: ' { } and \\ are escaped."""
    return "'" + re.sub(r"(['{}\\\\])", r"\\\1", text) + "'"


@dataclass(frozen=True)
class Expr:
    """A string known at render time (``paths`` empty) or built at run time with ``States.Format``."""

    template: str
    paths: tuple[str, ...] = ()

    @property
    def literal(self) -> bool:
        return not self.paths

    def intrinsic(self) -> str:
        if self.literal:
            return _quote(self.template)
        if self.template == "{}":
            return self.paths[0]
        pieces = self.template.split("{}")
        body = "{}".join(re.sub(r"(['{}\\\\])", r"\\\1", piece) for piece in pieces)
        return f"States.Format('{body}', {', '.join(self.paths)})"

    def field(self, name: str) -> dict[str, str]:
        """``{name: value}`` or ``{name.$: intrinsic}`` for a Parameters block."""
        if self.literal:
            return {name: self.template}
        return {f"{name}.$": self.intrinsic()}

    def __add__(self, other: Expr | str) -> Expr:
        other = other if isinstance(other, Expr) else Expr(other)
        return Expr(self.template + other.template, self.paths + other.paths)


RUN = Expr("{}", (RUN_ID,))


def command_field(arguments: list[Expr | str]) -> dict[str, Any]:
    """A container command for ``ContainerOverrides``: a plain list, or ``States.Array`` when parts are dynamic."""
    parts = [a if isinstance(a, Expr) else Expr(a) for a in arguments]
    if all(p.literal for p in parts):
        return {"Command": [p.template for p in parts]}
    return {"Command.$": "States.Array(" + ", ".join(p.intrinsic() for p in parts) + ")"}


@dataclass
class Scope:
    """Where a graph sits: its address prefix and how many map keys its input carries (k1..kN)."""

    prefix: Expr | None = None
    depth: int = 0
    top: bool = True
    # Inside a distributed map each branch is a child execution with a name of its own: the run id travels in
    # the input as `run` from there on.
    run_in_input: bool = False
    label: str = ""  # state names are unique in the whole machine: a branch's carry its path, maps' keys as *

    def state(self, name: str, suffix: str = "") -> str:
        """The state of step ``name`` (or of one of its calls: ``suffix``); ASL allows 80 characters."""
        text = f"{self.label}{name}{suffix}"
        if len(text) <= 80:
            return text
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        return f"{text[:35]}~{digest}~{text[-35:]}"

    def address(self, name: str) -> Expr:
        part = name.replace(" ", "%")
        return Expr(part) if self.prefix is None else self.prefix + f".{part}"

    def inner(self, name: str, key: Expr | str, depth: int | None = None) -> Scope:
        base = _as_expr(self.address(name))
        label = f"{self.label}{name}.{key if isinstance(key, str) else '*'}."
        depth = self.depth if depth is None else depth
        return Scope(base + "." + key, depth, top=False, run_in_input=self.run_in_input, label=label)

    def key_fields(self) -> dict[str, str]:
        fields = {f"k{i}.$": f"$.k{i}" for i in range(1, self.depth + 1)}
        if self.run_in_input:
            fields["run.$"] = "$.run"
        return fields

    @property
    def run(self) -> Expr:
        return Expr("{}", ("$.run",)) if self.run_in_input else RUN


def _as_expr(value: Expr | str) -> Expr:
    return value if isinstance(value, Expr) else Expr(value)


@dataclass
class StateBuilder:
    """Builds the states; what a step's job looks like (queue, definition, retries) is asked of the executor."""

    pipeline_file: str
    common: list[str]  # --config/--parameters/--tag, after --run-id
    batch_parameters: Callable[[str], dict[str, Any]]  # step name -> JobName, JobQueue, JobDefinition
    retry: Callable[[str], list[dict[str, Any]]]  # step name -> Retry rules
    plan_bucket: str | None
    plan_prefix: str
    max_concurrency: int = 0
    map_mode: str = "inline"
    # The run log store cannot take concurrent writers: branches run one at a time.
    sequential: bool = False
    comment: str = ""
    timeout_seconds: int | None = None
    # Retry of the S3 read of a plan: reading is idempotent, any failure may be retried.
    read_retry: list[dict[str, Any]] = field(default_factory=list)

    def machine(self, graph: Graph) -> dict[str, Any]:
        start, states = self.graph_states(graph, Scope())
        machine: dict[str, Any] = {"Comment": self.comment, "StartAt": start, "States": states}
        if self.timeout_seconds:
            machine["TimeoutSeconds"] = self.timeout_seconds
        return machine

    # --- a graph: the pipeline or a branch ------------------------------------------------------------------

    def graph_states(self, graph: Graph, scope: Scope) -> tuple[str, dict[str, Any]]:
        states: dict[str, Any] = {}
        for node in graph.nodes.values():
            next_state = scope.state(node.next_node) if node.next_node else ""
            failure = scope.state(node.on_failure or graph.fail_node)
            if isinstance(node, (SuccessNode, FailNode)):
                states.update(self._terminal(node.name, isinstance(node, SuccessNode), graph, scope))
            elif isinstance(node, CompositeNode):
                states.update(self._composite(node, scope, next_state, failure))
            else:
                states[scope.state(node.name)] = self._execute(node.name, scope, next_state, failure)
        start = scope.state(graph.start_at)
        return start, _reachable(start, states)

    def _terminal(self, name: str, success: bool, graph: Graph, scope: Scope) -> dict[str, Any]:
        """The terminal step runs (it closes the run, or the branch), then the machine or the branch ends."""
        if not scope.top:
            end = scope.state("(end)")
            task = self._execute(name, scope, end, end, last=True)
            return {scope.state(name): task, end: {"Type": "Succeed", "OutputPath": None}}
        end_ok, end_fail = scope.state(graph.success_node, " (end)"), scope.state(graph.fail_node, " (end)")
        task = self._execute(name, scope, end_ok if success else end_fail, end_fail)
        states: dict[str, Any] = {scope.state(name): task}
        if success:
            states[end_ok] = {"Type": "Succeed"}
        states[end_fail] = {"Type": "Fail", "Error": "runnable.RunFailed", "Cause": "the run failed: see its run log"}
        return states

    # --- one protocol call in a Batch job -----------------------------------------------------------------

    def _job(
        self, step: str, command: list[Expr | str], next_state: str, failure: str, *, last: bool = False
    ) -> dict[str, Any]:
        parameters = {**self.batch_parameters(step), "ContainerOverrides": command_field(command)}
        state: dict[str, Any] = {"Type": "Task", "Resource": BATCH, "Parameters": parameters, "ResultPath": None}
        if last:  # a branch's last state passes nothing on: a map of 10,000 branches collects 10,000 `{}`
            state["OutputPath"] = None
        retry = self.retry(step)
        if retry:
            state["Retry"] = retry
        state["Next"] = next_state
        state["Catch"] = [{"ErrorEquals": ALL, "ResultPath": None, "Next": failure}]
        return state

    def _call(self, command: str, scope: Scope, name: str) -> list[Expr | str]:
        address = _as_expr(scope.address(name))
        return ["runnable", command, self.pipeline_file, address, "--run-id", scope.run, *self.common]

    def _execute(self, name: str, scope: Scope, next_state: str, failure: str, last: bool = False) -> dict[str, Any]:
        return self._job(name, self._call("execute-step", scope, name), next_state, failure, last=last)

    # --- composite steps --------------------------------------------------------------------------------------

    def _composite(self, node: CompositeNode, scope: Scope, next_state: str, failure: str) -> dict[str, Any]:
        name = node.name
        fan_in = scope.state(name, " (fan-in)")
        states: dict[str, Any] = {}
        if isinstance(node, ParallelNode):
            branches_state = scope.state(name, " (branches)")
            if self.sequential:  # one branch after the other: a one-branch Parallel state each
                targets = [scope.state(name, f" ({key})") for key in node.branches] + [fan_in]
                branches_state = targets[0]
            states[scope.state(name)] = self._job(name, self._call("fan-out", scope, name), branches_state, failure)
            branches = []
            for index, (key, branch) in enumerate(node.branches.items()):
                start, inner = self.graph_states(branch, scope.inner(name, key))
                branches.append({"StartAt": start, "States": inner})
                if self.sequential:
                    one = {"Type": "Parallel", "Branches": [branches[-1]]}
                    states[targets[index]] = self._branches(one, scope, targets[index + 1])
            if not self.sequential:
                states[branches_state] = self._branches({"Type": "Parallel", "Branches": branches}, scope, fan_in)
        else:
            states.update(self._planned(node, scope, failure, fan_in))
        states[fan_in] = self._job(name, self._call("fan-in", scope, name), next_state, failure)
        return states

    @staticmethod
    def _branches(state: dict[str, Any], scope: Scope, fan_in: str) -> dict[str, Any]:
        """A Parallel state: its branches see the map keys only; whatever happens in them, the fan-in decides."""
        if scope.key_fields():
            state["Parameters"] = scope.key_fields()
        return {
            **state,
            "ResultPath": None,
            "Next": fan_in,
            "Catch": [{"ErrorEquals": ALL, "ResultPath": None, "Next": fan_in}],
        }

    def _planned(self, node: CompositeNode, scope: Scope, failure: str, fan_in: str) -> dict[str, Any]:
        """Map, conditional, loop: the fan-out's container writes the plan to S3, a Task reads it back."""
        name = node.name
        address = _as_expr(scope.address(name))
        plan_key = Expr(f"{self.plan_prefix}/") + scope.run + "/" + address + ".json"
        uri = Expr(f"s3://{self.plan_bucket}/") + plan_key
        fan_out = ["python", "-m", PLAN_MODULE, uri, *self._call("fan-out", scope, name)[2:]]
        read = scope.state(name, " (plan)")
        if isinstance(node, LoopNode):
            decide = scope.state(name, " (done?)")
        elif isinstance(node, ConditionalNode):
            decide = scope.state(name, " (which?)")
        else:
            decide = scope.state(name, " (branches)")
        states: dict[str, Any] = {scope.state(name): self._job(name, fan_out, read, failure)}
        states[read] = {
            "Type": "Task",
            "Resource": GET_OBJECT,
            "Parameters": {"Bucket": self.plan_bucket, **plan_key.field("Key")},
            "ResultSelector": {"value.$": "States.StringToJson($.Body)"},
            "ResultPath": "$.plan",
            **({"Retry": self.read_retry} if self.read_retry else {}),
            "Next": decide,
            "Catch": [{"ErrorEquals": ALL, "ResultPath": None, "Next": failure}],
        }
        if isinstance(node, ConditionalNode):
            choices = []
            for key, branch in node.branches.items():
                start, inner = self.graph_states(branch, scope.inner(name, key))
                target = scope.state(name, f" ({key})")
                states[target] = self._branches(
                    {"Type": "Parallel", "Branches": [{"StartAt": start, "States": inner}]}, scope, fan_in
                )
                choices.append({"Variable": "$.plan.value.keys[0]", "StringEquals": key, "Next": target})
            states[decide] = {"Type": "Choice", "Choices": choices, "Default": fan_in}
            return states
        depth = scope.depth + 1
        inner_scope = scope.inner(name, Expr("{}", (f"$.k{depth}",)), depth)
        distributed = isinstance(node, MapNode) and self.map_mode == "distributed"
        if distributed:
            inner_scope.run_in_input = True
        start, inner = self.graph_states(next(iter(node.branch_graphs().values())), inner_scope)
        selector = {**scope.key_fields(), f"k{depth}.$": "$$.Map.Item.Value"}
        branches: dict[str, Any] = {"Type": "Map", "ItemsPath": "$.plan.value.keys", "ItemSelector": selector}
        processor: dict[str, Any] = {"Mode": "INLINE"}
        if distributed:  # the keys are read from S3 by the Map itself; each branch is a child execution
            states[scope.state(name)]["Next"] = decide  # the plan's summary is not needed
            del branches["ItemsPath"]
            keys_key = Expr(f"{self.plan_prefix}/") + scope.run + "/" + address + ".keys.json"
            branches["ItemReader"] = {
                "Resource": READ_ITEMS,
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": self.plan_bucket, **keys_key.field("Key")},
            }
            selector["run.$"] = scope.run.paths[0]
            processor = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        branches["ItemProcessor"] = {"ProcessorConfig": processor, "StartAt": start, "States": inner}
        branches["ResultPath"] = None
        if isinstance(node, LoopNode):  # one round per fan-out, then the fan-out plans the next (or says done)
            branches["MaxConcurrency"] = 1
            round_state = scope.state(name, " (round)")
            states[decide] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.plan.value.done", "BooleanEquals": True, "Next": fan_in}],
                "Default": round_state,
            }
            states[round_state] = {
                **branches,
                "Next": scope.state(name),
                "Catch": [{"ErrorEquals": ALL, "ResultPath": None, "Next": scope.state(name)}],
            }
            return states
        if self.sequential or self.max_concurrency:
            branches["MaxConcurrency"] = 1 if self.sequential else self.max_concurrency
        states[decide] = {
            **branches,
            "Next": fan_in,
            "Catch": [{"ErrorEquals": ALL, "ResultPath": None, "Next": fan_in}],
        }
        return states


def _targets(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def _reachable(start: str, states: dict[str, Any]) -> dict[str, Any]:
    """Only the states a walk from ``start`` can reach (the Step Functions API rejects the others)."""
    seen = [start]
    for name in seen:
        for target in _targets(states[name]):
            if target not in seen:
                seen.append(target)
    return {name: state for name, state in states.items() if name in seen}
