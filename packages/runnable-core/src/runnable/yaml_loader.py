"""The YAML front door: ``dag: {start_at, steps}`` to the same graph model the SDK builds.

``success`` and ``fail`` steps may be declared or left out; like the SDK, the loader always provides them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runnable.errors import PipelineDefinitionError, RunnableError
from runnable.models import graph as g
from runnable.yaml_io import load_yaml_file

_DAG_KEYS = {"start_at", "steps", "description", "name"}


def load_pipeline_yaml(path: str | Path, *, check_imports: bool = False) -> g.Graph:
    """The graph of a YAML pipeline, named by its ``name:`` key (top level or in ``dag``) or else its file.

    With ``check_imports`` (for a run in this process), every python task's command is imported now, so a
    typo in a module or function name is reported naming the step before anything runs, not after an hour
    of earlier steps. Drawing or rendering a pipeline for an orchestrator leaves it off: there the code lives
    in an image, not necessarily here.
    """
    path = Path(path)
    data = load_yaml_file(path, PipelineDefinitionError)
    if not isinstance(data, dict) or not isinstance(data.get("dag"), dict):
        raise PipelineDefinitionError(f"{path}: a pipeline file needs a top-level 'dag' mapping")
    graph = graph_from_dict(data["dag"], str(path))
    graph.name = str(data.get("name") or graph.name or path.stem)
    if check_imports:
        check_python_commands(graph, str(path))
    return graph


def check_python_commands(graph: g.Graph, source: str) -> None:
    """Import the function of every python task (in branches too); the first that fails is the error."""
    from runnable.engine.tasks.python import import_callable

    for node in graph.nodes.values():
        if isinstance(node, g.TaskNode) and node.command_type == "python" and node._function is None:
            try:
                import_callable(node.command, step=node.name)
            except RunnableError as error:
                raise PipelineDefinitionError(f"{source}: {error.message}", hint=error.hint) from None
            except Exception as error:  # the module itself raised while importing (a SyntaxError, a bad import)
                raise PipelineDefinitionError(
                    f"{source}: step {node.name!r}: importing {node.command!r} failed: {type(error).__name__}: {error}"
                ) from None
        elif isinstance(node, g.CompositeNode):
            for branch in node.branch_graphs().values():
                check_python_commands(branch, source)


def graph_from_dict(dag: dict[str, Any], source: str, *, validate: bool = True) -> g.Graph:
    """A (sub-)graph from its YAML mapping; only the top level validates, recursing into branches."""
    if not isinstance(dag, dict):
        raise PipelineDefinitionError(f"{source}: must be a mapping with start_at and steps")
    unknown = set(dag) - _DAG_KEYS
    if unknown:
        raise PipelineDefinitionError(
            f"{source}: dag: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_DAG_KEYS))}"
        )
    for key in ("start_at", "steps"):
        if key not in dag:
            raise PipelineDefinitionError(f"{source}: dag: missing {key!r}")
    steps = dag["steps"]
    if not isinstance(steps, dict) or not steps:
        raise PipelineDefinitionError(f"{source}: dag.steps must be a mapping of step name to step")
    nodes: dict[str, g.BaseNode] = {}
    for name, body in steps.items():
        nodes[str(name)] = node_from_dict(str(name), body, source)
    for name, cls in (("success", g.SuccessNode), ("fail", g.FailNode)):
        if name in nodes and not isinstance(nodes[name], cls):
            raise PipelineDefinitionError(f"{source}: step name {name!r} is reserved for the {name} step")
        nodes.setdefault(name, cls(name=name))
    graph = g.Graph(
        name=str(dag.get("name", "")),
        description=str(dag.get("description", "") or ""),
        start_at=str(dag["start_at"]),
        nodes=nodes,  # type: ignore[arg-type]
    )
    return graph.validate_structure(source) if validate else graph


def node_from_dict(name: str, body: Any, source: str) -> g.BaseNode:
    where = f"{source}: step {name!r}"
    try:
        g.check_node_name(name)
    except RunnableError as error:
        raise PipelineDefinitionError(f"{where}: {error}", hint=error.hint) from None
    if not isinstance(body, dict):
        raise PipelineDefinitionError(f"{where}: must be a mapping with a 'type'")
    known = ", ".join(g.NODE_TYPES)
    if "type" not in body:
        raise PipelineDefinitionError(f"{where}: has no 'type'; known types: {known}")
    kind = body["type"]
    if not isinstance(kind, str) or kind not in g.NODE_TYPES:
        raise PipelineDefinitionError(f"{where}: unknown step type {kind!r}; known types: {known}")
    fields = dict(body)
    if "returns" in fields:
        fields["returns"] = [_return_spec(item, where) for item in fields["returns"] or []]
    if kind in ("map", "loop") and "branch" in fields:
        fields["branch"] = graph_from_dict(fields["branch"], f"{where}, branch", validate=False)
    if kind in ("parallel", "conditional") and isinstance(fields.get("branches"), dict):
        fields["branches"] = {
            str(key): graph_from_dict(sub, f"{where}, branch {key!r}", validate=False)
            for key, sub in fields["branches"].items()
        }
    try:
        return g.NODE_TYPES[kind].model_validate({"name": name, **fields})
    except RunnableError as error:
        raise PipelineDefinitionError(f"{where}: {error}", hint=error.hint) from None
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "step"
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise PipelineDefinitionError(f"{where}: {key}: {problem}") from None


def _return_spec(item: Any, where: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"name": item}
    if isinstance(item, dict):
        return item
    raise PipelineDefinitionError(f"{where}: returns: each item is a name or {{name: ..., kind: json|object|metric}}")
