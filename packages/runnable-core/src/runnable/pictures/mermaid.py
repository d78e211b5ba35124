"""The pipeline as Mermaid flowchart text, to paste into Markdown (GitHub, GitLab and MkDocs render it).

Mermaid is the lingua franca of diagrams in docs, so this text is what a person copies into a README. The
output is a pure function of the graph: the same pipeline always gives the same text, which keeps diffs of
committed diagrams quiet.

Shapes: python/notebook/shell tasks are rectangles, stubs rounded, ``success`` a circle, ``fail`` a double
circle. ``next`` edges are solid; ``on_failure`` edges dashed and labelled. Composite steps are ``subgraph``
blocks: parallel and conditional steps hold one nested subgraph per branch, map and loop steps hold their
single branch directly and say what drives them in their title.
"""

from __future__ import annotations

import re

from runnable.models import graph as g
from runnable.pictures._common import branch_title, detail_of, edges_of, kind_of, visible_nodes

_INDENT = "    "
# Mermaid keywords that break a flowchart when used as a node id; a prefix on every id avoids all of them.
_ID_PREFIX = "s_"

_CLASS_DEFS = {
    "python": "fill:#e8f0fe,stroke:#3367d6,color:#172b4d",
    "notebook": "fill:#fef3e0,stroke:#e37400,color:#172b4d",
    "shell": "fill:#e6f4ea,stroke:#137333,color:#172b4d",
    "stub": "fill:#f1f3f4,stroke:#80868b,stroke-dasharray:4 3,color:#3c4043",
    "success": "fill:#ceead6,stroke:#188038,color:#0d652d",
    "fail": "fill:#fad2cf,stroke:#c5221f,color:#a50e0e",
}


def escape_label(text: str) -> str:
    """Make ``text`` safe inside a quoted Mermaid label (entity codes, since backslashes do not escape)."""
    text = text.replace("#", "#35;")  # first: the other replacements introduce '#'
    for char, code in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;"), ("&", "#amp;")):
        text = text.replace(char, code)
    return text


class _Ids:
    """Node ids from internal-name paths: readable (``s_fit__train``), sanitised and unique across nesting."""

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, ...], str] = {}
        self._used: set[str] = set()

    def get(self, path: tuple[str, ...]) -> str:
        if path not in self._by_path:
            base = _ID_PREFIX + "__".join(re.sub(r"[^0-9A-Za-z]+", "_", part).strip("_") or "x" for part in path)
            candidate, counter = base, 2
            while candidate in self._used:
                candidate, counter = f"{base}_{counter}", counter + 1
            self._used.add(candidate)
            self._by_path[path] = candidate
        return self._by_path[path]


def to_mermaid(graph: g.Graph) -> str:
    """The whole pipeline as a ``flowchart TD`` (nested branches to any depth), ending with a newline."""
    ids = _Ids()
    lines = ["flowchart TD"]
    if graph.name:
        lines.append(f"{_INDENT}%% pipeline: {' '.join(graph.name.split())}")
    classes: dict[str, list[str]] = {}
    edge_lines: list[str] = []
    _emit_graph(graph, (), 1, ids, lines, edge_lines, classes)
    lines += edge_lines
    for name, style in _CLASS_DEFS.items():
        if name in classes:  # only the kinds this pipeline uses: shorter text to paste
            lines.append(f"{_INDENT}classDef {name} {style}")
    for name, members in classes.items():
        lines.append(f"{_INDENT}class {','.join(members)} {name}")
    return "\n".join(lines) + "\n"


def _emit_graph(
    graph: g.Graph,
    path: tuple[str, ...],
    depth: int,
    ids: _Ids,
    lines: list[str],
    edge_lines: list[str],
    classes: dict[str, list[str]],
) -> None:
    """Write the nodes of ``graph`` (subgraphs for composites) at ``depth``; collect its edges for the end.

    Edges go after all nodes: Mermaid places a node in the subgraph where it is first mentioned, so an edge
    written early could pull a node out of its branch.
    """
    pad = _INDENT * depth
    for name in visible_nodes(graph):
        node = graph.nodes[name]
        node_id = ids.get((*path, name))
        if isinstance(node, g.CompositeNode):
            title = f"{name} · {node.type}"
            detail = detail_of(node)
            if detail and not isinstance(node, g.ParallelNode):
                title += f": {detail}"
            lines.append(f'{pad}subgraph {node_id}["{escape_label(title)}"]')
            lines.append(f"{pad}{_INDENT}direction TB")
            branches = node.branch_graphs()
            if isinstance(node, g.MapNode | g.LoopNode):
                (branch,) = branches.values()
                _emit_graph(branch, (*path, name), depth + 1, ids, lines, edge_lines, classes)
            else:
                for key, branch in branches.items():
                    branch_id = ids.get((*path, name, key))
                    label = escape_label(f"branch {branch_title(node, key)}")
                    lines.append(f'{pad}{_INDENT}subgraph {branch_id}["{label}"]')
                    lines.append(f"{pad}{_INDENT * 2}direction TB")
                    _emit_graph(branch, (*path, name, key), depth + 2, ids, lines, edge_lines, classes)
                    lines.append(f"{pad}{_INDENT}end")
            lines.append(f"{pad}end")
            continue
        label = escape_label(name)
        detail = detail_of(node)
        if detail:
            label += f"<br/><small>{escape_label(f'{kind_of(node)}: {detail}')}</small>"
        if isinstance(node, g.SuccessNode):
            shape = f'(("{label}"))'
        elif isinstance(node, g.FailNode):
            shape = f'((("{label}")))'
        elif isinstance(node, g.StubNode):
            shape = f'("{label}<br/><small>stub</small>")'
        else:
            shape = f'["{label}"]'
        lines.append(f"{pad}{node_id}{shape}")
        classes.setdefault(kind_of(node), []).append(node_id)
    for edge in edges_of(graph):
        source, target = ids.get((*path, edge.source)), ids.get((*path, edge.target))
        if edge.kind == "next":
            edge_lines.append(f"{_INDENT}{source} --> {target}")
        else:
            edge_lines.append(f"{_INDENT}{source} -. on failure .-> {target}")
