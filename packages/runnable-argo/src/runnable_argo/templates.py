"""The pipeline graph as Argo templates: one DAG template per graph, three container templates for the protocol.

Why this shape:

* Every container runs one call of the run protocol (``docs/run-protocol.md``): ``runnable execute-step``
  for a task, stub, success or fail step, ``runnable fan-out`` and ``runnable fan-in`` around a composite
  step. Three generic container templates take the step's address as their input, so a 500-step pipeline
  is 500 small DAG tasks, not 500 copies of a container spec; a step with ``overrides`` gets its own copy.
* Each graph (the pipeline, each branch) is a DAG template. A step runs when the step before it ended the
  way that leads to it: ``depends: "train.Succeeded"`` after success, ``"train.Failed"`` on the failure path
  (its ``on_failure``, else the graph's fail step). Only one path through a graph runs, so every step's
  ``depends`` is the OR of the ways into it, and steps off the path are omitted. ``failFast`` is off: the
  graph's failure paths, not Argo, decide what runs after a failure.
* Branch keys of maps and loops are only known at run time: the fan-out writes them to a file read as an
  output parameter, the branch template runs once per key (``withParam``), and the key reaches the branch
  as an input parameter (``key1``, ``key2``... by nesting depth) spliced into its steps' addresses.
* A conditional runs each branch ``when`` the fan-out's key list is that branch alone.
* A loop is a template that fans out, runs one round ``when`` the plan is not ``done``, and calls itself
  (Argo has no back edges); the fan-in follows the whole recursion.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runnable.errors import PipelineDefinitionError
from runnable.models.graph import BaseNode, ConditionalNode, Graph, LoopNode, MapNode, ParallelNode

from runnable_argo.names import Names

EXECUTE, FAN_OUT, FAN_IN = "execute-step", "fan-out", "fan-in"
PLAN_FOLDER = "/tmp/runnable"  # where a fan-out container writes its plan, keys and done flag
KEYS, DONE = f"{PLAN_FOLDER}/keys.json", f"{PLAN_FOLDER}/done.json"


@dataclass
class Unit:
    """The DAG tasks one step became: ``entry`` waits for the steps before it; the two expressions say how
    the step ended, for the ``depends`` of the steps after it."""

    entry: dict[str, Any]
    tasks: list[dict[str, Any]]
    succeeded: str
    failed: str


def reachable(graph: Graph) -> list[str]:
    """The steps a walk of the graph can reach, from ``start_at``: an unreachable fail step would otherwise
    run at once, having no ``depends``."""
    seen: list[str] = []
    queue = [graph.start_at]
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.append(name)
        node = graph.nodes[name]
        if not node.is_terminal:
            queue += [node.next_node, node.on_failure or graph.fail_node]
    return seen


def _grouped(expression: str) -> str:
    return f"({expression})" if " " in expression else expression


def _arguments(parameters: list[dict[str, str]]) -> dict[str, Any]:
    return {"arguments": {"parameters": parameters}} if parameters else {}


def _inputs(keys: list[str]) -> dict[str, Any]:
    return {"inputs": {"parameters": [{"name": key} for key in keys]}} if keys else {}


class TemplateBuilder:
    """Builds the templates of one workflow; ``step_template(node)`` names the container template a step
    runs in (the executor decides which steps have their own)."""

    def __init__(self, graph: Graph, step_template: Callable[[BaseNode], str], taken: tuple[str, ...]) -> None:
        self.graph = graph
        self.step_template = step_template
        self.names = Names(taken)
        self.templates: list[dict[str, Any]] = []

    def build(self) -> list[dict[str, Any]]:
        """The DAG templates, the pipeline's (the entrypoint, ``main``) first."""
        self.dag_template(self.graph, "main", "", [])
        return [self.templates[-1], *self.templates[:-1]]

    def dag_template(self, graph: Graph, wanted: str, prefix: str, keys: list[str]) -> str:
        name = self.names.take(wanted)
        tasks = Names()
        order = reachable(graph)
        units = {step: self.unit(graph.nodes[step], tasks, prefix, keys, wanted) for step in order}
        ways_in: dict[str, list[str]] = defaultdict(list)
        for step in order:
            node = graph.nodes[step]
            if not node.is_terminal:
                ways_in[node.next_node].append(units[step].succeeded)
                ways_in[node.on_failure or graph.fail_node].append(units[step].failed)
        rendered: list[dict[str, Any]] = []
        for step in order:
            if ways_in[step]:
                units[step].entry["depends"] = " || ".join(_grouped(way) for way in ways_in[step])
            rendered += units[step].tasks
        self.templates.append({"name": name, **_inputs(keys), "dag": {"failFast": False, "tasks": rendered}})
        return name

    def unit(self, node: BaseNode, tasks: Names, prefix: str, keys: list[str], path: str) -> Unit:
        address = f"{prefix}.{node.name}" if prefix else node.name
        address = address.replace(" ", "%")  # the protocol's spelling of a space in an address
        passed = [{"name": key, "value": f"{{{{inputs.parameters.{key}}}}}"} for key in keys]
        child = node.name if path == "main" else f"{path}-{node.name}"
        if not isinstance(node, (ParallelNode, ConditionalNode, MapNode, LoopNode)):
            step = {"name": tasks.take(node.name), "template": self.step_template(node)}
            step.update(_arguments([{"name": "address", "value": address}]))
            return Unit(step, [step], f"{step['name']}.Succeeded", f"{step['name']}.Failed")

        fan_in = {"name": tasks.take(f"{node.name}-fan-in"), "template": FAN_IN}
        fan_in.update(_arguments([{"name": "address", "value": address}]))
        if isinstance(node, LoopNode):
            return self._loop(node, tasks, address, keys, passed, child, fan_in)
        fan_out = {"name": tasks.take(f"{node.name}-fan-out"), "template": FAN_OUT}
        fan_out.update(_arguments([{"name": "address", "value": address}]))
        planned = f"{{{{tasks.{fan_out['name']}.outputs.parameters.keys}}}}"
        branches: list[dict[str, Any]] = []
        if isinstance(node, MapNode):
            key = f"key{len(keys) + 1}"
            template = self.dag_template(node.branch, child, f"{address}.{{{{inputs.parameters.{key}}}}}", [*keys, key])
            branch = {"name": tasks.take(f"{node.name}-branches"), "template": template}
            branch.update(depends=f"{fan_out['name']}.Succeeded", withParam=planned)
            branch.update(_arguments([*passed, {"name": key, "value": "{{item}}"}]))
            branches.append(branch)
        else:
            assert isinstance(node, (ParallelNode, ConditionalNode))
            for key, graph in node.branches.items():
                spelled = key.replace(" ", "%")
                template = self.dag_template(graph, f"{child}-{key}", f"{address}.{spelled}", keys)
                branch = {"name": tasks.take(f"{node.name}-{key}"), "template": template}
                branch["depends"] = f"{fan_out['name']}.Succeeded"
                if isinstance(node, ConditionalNode):
                    if "'" in key:
                        raise PipelineDefinitionError(
                            f"conditional step {address!r}: branch {key!r}: Argo's 'when' cannot compare a key "
                            "holding a single quote",
                            hint="rename the branch",
                        )
                    branch["when"] = f"'{planned}' == '{json.dumps([key])}'"
                branch.update(_arguments(passed))
                branches.append(branch)
        fan_in["depends"] = " && ".join(
            f"({b['name']}.Succeeded || {b['name']}.Failed || {b['name']}.Skipped)" for b in branches
        )
        failed = f"{fan_out['name']}.Failed || {fan_in['name']}.Failed"
        return Unit(fan_out, [fan_out, *branches, fan_in], f"{fan_in['name']}.Succeeded", failed)

    def _loop(
        self,
        node: LoopNode,
        tasks: Names,
        address: str,
        keys: list[str],
        passed: list[dict[str, str]],
        child: str,
        fan_in: dict[str, Any],
    ) -> Unit:
        """The loop template fans out, runs the round it planned and calls itself; once a fan-out says
        ``done`` the recursion ends and the fan-in in the calling DAG closes the loop. A failed round does
        not stop the recursion: the next fan-out sees it and says ``done`` (the protocol's rule)."""
        key = f"key{len(keys) + 1}"
        body = self.dag_template(node.branch, child, f"{address}.{{{{inputs.parameters.{key}}}}}", [*keys, key])
        name = self.names.take(f"{child}-loop")
        fan_out = {"name": "fan-out", "template": FAN_OUT, **_arguments([{"name": "address", "value": address}])}
        round_ = {
            "name": "round",
            "template": body,
            "depends": "fan-out.Succeeded",
            "when": "{{tasks.fan-out.outputs.parameters.done}} == false",
            "withParam": "{{tasks.fan-out.outputs.parameters.keys}}",
            **_arguments([*passed, {"name": key, "value": "{{item}}"}]),
        }
        again = {
            "name": "next-round",
            "template": name,
            "depends": "round.Succeeded || round.Failed",
            **_arguments(passed),
        }
        self.templates.append(
            {"name": name, **_inputs(keys), "dag": {"failFast": False, "tasks": [fan_out, round_, again]}}
        )
        loop = {"name": tasks.take(node.name), "template": name, **_arguments(passed)}
        fan_in["depends"] = f"{loop['name']}.Succeeded || {loop['name']}.Failed"
        return Unit(loop, [loop, fan_in], f"{fan_in['name']}.Succeeded", f"{fan_in['name']}.Failed")
