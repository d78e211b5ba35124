"""The pipeline graph: nodes, their kinds and the checks every graph must pass.

The SDK, the YAML loader and the executors all speak this model, so "the YAML and the Python form give the
same graph" is a comparison of two instances of :class:`Graph`. Nodes are plain data: a task node names its
command (``module.function``, a notebook path or a shell command), which keeps the graph hashable and
serialisable for executors that run steps in other processes. A task built by the SDK also carries its
function privately (not dumped, not hashed), so functions defined in ``__main__`` run in-process.

Composite nodes (parallel, map, conditional, loop) hold sub-graphs ("branches"). Steps inside them get
dotted *internal names* at run time: ``parallel.branch.step``, ``map.<item>.step``, ``loop.<index>.step``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from runnable.errors import PipelineDefinitionError
from runnable.models.names import check_name

ReturnKind = Literal["json", "object", "metric"]


class ReturnSpec(BaseModel):
    """One name a task's result is bound to, and how the value is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: ReturnKind = "json"

    # A return name names a pickled object in the catalog and a shell variable: checked like every name.
    _check_name = field_validator("name")(classmethod(lambda cls, v: check_name(v, "return name")))


class CatalogSpec(BaseModel):
    """Files a step gets from the run's catalog before it runs and puts into it after it succeeds."""

    model_config = ConfigDict(extra="forbid")
    get: list[str] = Field(default_factory=list)
    put: list[str] = Field(default_factory=list)
    store_copy: bool = True
    # Folder the globs are relative to for this step; None falls back to the catalog's compute_data_folder.
    compute_data_folder: str | None = None


def check_node_name(name: str) -> str:
    """A step name, checked by :func:`runnable.models.names.check_name` (the SDK and YAML loader call this)."""
    return check_name(name, "step name")


def _check_branch_keys(branches: dict[str, Graph]) -> dict[str, Graph]:
    for key in branches:
        check_name(key, "branch key")
    return branches


class BaseNode(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    internal_name: str = ""
    next_node: str = Field(default="", alias="next")
    on_failure: str = ""

    _check_name = field_validator("name")(classmethod(lambda cls, v: check_node_name(v)))

    def model_post_init(self, __context: Any) -> None:
        if not self.internal_name:
            self.internal_name = self.name

    @property
    def is_terminal(self) -> bool:
        return False


class TaskNode(BaseNode):
    type: Literal["task"] = "task"
    # python | notebook | shell, or any command type an installed plugin registers (checked before a run)
    command_type: str = "python"
    command: str
    returns: list[ReturnSpec] = Field(default_factory=list)
    catalog: CatalogSpec | None = None
    secrets: list[str] = Field(default_factory=list)
    overrides: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(default=1, ge=1)
    # Seconds an attempt may run before it is stopped and failed; None: no limit.
    timeout: float | None = Field(default=None, gt=0)
    # Accepted so notebooks written for the original runnable (ploomber-engine) load; nbclient ignores it.
    optional_ploomber_args: dict[str, Any] = Field(default_factory=dict)

    # The SDK's function object, when the graph was built in this process.
    _function: Callable[..., Any] | None = PrivateAttr(default=None)


class StubNode(BaseNode):
    """Does nothing and succeeds; accepts any extra keys so a step can be sketched before it is written."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: Literal["stub"] = "stub"
    returns: list[ReturnSpec] = Field(default_factory=list)
    catalog: CatalogSpec | None = None


class SuccessNode(BaseNode):
    type: Literal["success"] = "success"

    @property
    def is_terminal(self) -> bool:
        return True


class FailNode(BaseNode):
    type: Literal["fail"] = "fail"

    @property
    def is_terminal(self) -> bool:
        return True


class CompositeNode(BaseNode):
    """A step that runs sub-graphs; ``branches()`` lists them by key (the key is part of internal names)."""

    def branch_graphs(self) -> dict[str, Graph]:
        raise NotImplementedError


class ParallelNode(CompositeNode):
    """Every branch runs, each with its own copy of the parameters; their returns are merged back."""

    type: Literal["parallel"] = "parallel"
    branches: dict[str, Graph]

    _check_keys = field_validator("branches")(classmethod(lambda cls, v: _check_branch_keys(v)))

    def branch_graphs(self) -> dict[str, Graph]:
        return self.branches


class MapNode(CompositeNode):
    """The branch runs once per item of the list parameter ``iterate_on``, the item bound to ``iterate_as``."""

    type: Literal["map"] = "map"
    branch: Graph
    iterate_on: str
    iterate_as: str
    # "lambda *x: ..." combining the iterations' values of each return; default: a list in iteration order.
    reducer: str | None = None

    def branch_graphs(self) -> dict[str, Graph]:
        return {"map_variable_placeholder": self.branch}


class ConditionalNode(CompositeNode):
    """The branch whose key equals ``str(parameters[parameter])`` runs."""

    type: Literal["conditional"] = "conditional"
    branches: dict[str, Graph]
    parameter: str

    _check_keys = field_validator("branches")(classmethod(lambda cls, v: _check_branch_keys(v)))

    def branch_graphs(self) -> dict[str, Graph]:
        return self.branches


class LoopNode(CompositeNode):
    """The branch runs again and again until the parameter ``break_on`` is true or ``max_iterations`` ran."""

    type: Literal["loop"] = "loop"
    branch: Graph
    max_iterations: int = Field(ge=1)
    break_on: str
    index_as: str

    def branch_graphs(self) -> dict[str, Graph]:
        return {"loop_variable_placeholder": self.branch}


Node = Annotated[
    TaskNode | StubNode | SuccessNode | FailNode | ParallelNode | MapNode | ConditionalNode | LoopNode,
    Field(discriminator="type"),
]
NODE_TYPES: dict[str, type[BaseNode]] = {
    "task": TaskNode,
    "stub": StubNode,
    "success": SuccessNode,
    "fail": FailNode,
    "parallel": ParallelNode,
    "map": MapNode,
    "conditional": ConditionalNode,
    "loop": LoopNode,
}


class Graph(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str = ""
    start_at: str
    nodes: dict[str, Node] = Field(default_factory=dict)

    @property
    def success_node(self) -> str:
        return next(n.name for n in self.nodes.values() if isinstance(n, SuccessNode))

    @property
    def fail_node(self) -> str:
        return next(n.name for n in self.nodes.values() if isinstance(n, FailNode))

    def all_nodes(self) -> list[BaseNode]:
        """Every node of the graph and of its branches, at any depth, each composite before its branches' nodes
        (what a renderer checks step names, secrets and overrides against)."""
        found: list[BaseNode] = []
        for node in self.nodes.values():
            found.append(node)
            if isinstance(node, CompositeNode):
                for branch in node.branch_graphs().values():
                    found += branch.all_nodes()
        return found

    def dag_hash(self) -> str:
        """A stable fingerprint of the graph's structure, independent of step order in the source."""
        data = _drop_run_limits(self.model_dump(mode="json", by_alias=True, exclude={"name", "description"}))
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def validate_structure(self, source: str) -> Graph:
        """Check what pydantic cannot: references, terminal nodes, cycles and reachability."""
        where = f"{source}: " if source else ""
        if self.start_at not in self.nodes:
            raise PipelineDefinitionError(f"{where}start_at names no step: {self.start_at!r}")
        terminals = [n for n in self.nodes.values() if n.is_terminal]
        if (
            sum(isinstance(n, SuccessNode) for n in terminals) != 1
            or sum(isinstance(n, FailNode) for n in terminals) != 1
        ):
            raise PipelineDefinitionError(f"{where}a pipeline needs exactly one success and one fail step")
        for node in self.nodes.values():
            if node.is_terminal:
                continue
            if not node.next_node:
                raise PipelineDefinitionError(
                    f"{where}step {node.name!r} has no 'next'",
                    hint="point it at another step or at the success step",
                )
            for key, target in (("next", node.next_node), ("on_failure", node.on_failure)):
                if target and target not in self.nodes:
                    raise PipelineDefinitionError(
                        f"{where}step {node.name!r}: {key} names no step: {target!r}",
                        hint=f"known steps: {', '.join(self.nodes)}",
                    )
        self._check_cycles_and_reach(where)
        for node in self.nodes.values():
            if isinstance(node, CompositeNode):
                for key, branch in node.branch_graphs().items():
                    label = "branch" if key.endswith("_placeholder") else f"branch {key!r}"
                    branch.validate_structure(f"{where}step {node.name!r}, {label}".rstrip(": "))
        return self

    def _check_cycles_and_reach(self, where: str) -> None:
        # Depth-first walk over next/on_failure edges; a grey node seen again closes a cycle.
        WHITE, GREY, BLACK = 0, 1, 2
        colour = {name: WHITE for name in self.nodes}

        def edges(name: str) -> list[str]:
            node = self.nodes[name]
            return [t for t in (node.next_node, node.on_failure) if t]

        stack: list[tuple[str, int]] = [(self.start_at, 0)]
        colour[self.start_at] = GREY
        path = [self.start_at]
        while stack:
            name, index = stack[-1]
            targets = edges(name)
            if index < len(targets):
                stack[-1] = (name, index + 1)
                target = targets[index]
                if colour[target] == GREY:
                    cycle = path[path.index(target) :] + [target]
                    raise PipelineDefinitionError(f"{where}the steps form a cycle: {' -> '.join(cycle)}")
                if colour[target] == WHITE:
                    colour[target] = GREY
                    stack.append((target, 0))
                    path.append(target)
            else:
                colour[name] = BLACK
                stack.pop()
                path.pop()
        unreachable = [n for n, c in colour.items() if c == WHITE and not self.nodes[n].is_terminal]
        if unreachable:
            raise PipelineDefinitionError(
                f"{where}step {unreachable[0]!r} cannot be reached from start_at {self.start_at!r}",
                hint="link it with 'next' or 'on_failure' from another step, or remove it",
            )


def _drop_run_limits(data: Any) -> Any:
    """The dump without tasks' ``timeout``: a limit on how long a task runs is not the graph's structure, so
    changing it neither blocks a retry nor changes the fingerprint of graphs that never set it."""
    if isinstance(data, dict):
        return {k: _drop_run_limits(v) for k, v in data.items() if not (k == "timeout" and data.get("type") == "task")}
    if isinstance(data, list):
        return [_drop_run_limits(v) for v in data]
    return data


for _model in (ParallelNode, MapNode, ConditionalNode, LoopNode):
    _model.model_rebuild()
Graph.model_rebuild()
