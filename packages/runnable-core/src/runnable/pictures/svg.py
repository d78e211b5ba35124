"""The pipeline as an SVG picture, laid out here without any layout library, and as a standalone HTML page.

Why self-written: a picture must open offline from a file (no mermaid.js, no CDN) and the core must not pull
graphviz or a JavaScript engine for it. Pipelines are small, mostly chains with a few fans, so a compact
layered ("Sugiyama-style") layout is enough:

1. rank every step by the longest path from ``start_at`` (over ``next`` and ``on_failure`` edges; the graph
   is acyclic by validation), so every edge points down;
2. an edge spanning several ranks gets a thin invisible placeholder in each rank it crosses, so it bends
   around the steps of those ranks instead of running through them;
3. a few barycentre sweeps order each rank to reduce crossings; rows are then centred;
4. a composite step is a frame holding its branches, each laid out by the same function (recursion gives
   nesting to any depth): parallel and conditional branches side by side, map and loop with their one branch.

The text sizes are estimated from character counts (no font metrics at hand), generously, for DejaVu Sans,
the widest common fallback font.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html import escape
from itertools import pairwise

from runnable.models import graph as g
from runnable.pictures._common import (
    Edge,
    EdgeKind,
    branch_title,
    detail_of,
    edges_of,
    kind_of,
    shorten,
    visible_nodes,
)
from runnable.pictures._page import page

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', 'Liberation Sans', sans-serif"
TEXT = "#202124"
MUTED = "#5f6368"
EDGE = "#5f6368"
FAILURE = "#c5221f"

# (fill, stroke) per step kind and per frame kind.
STEP_COLOURS = {
    "python": ("#e8f0fe", "#3367d6"),
    "notebook": ("#fef3e0", "#e37400"),
    "shell": ("#e6f4ea", "#137333"),
    "stub": ("#f8f9fa", "#80868b"),
    "success": ("#ceead6", "#188038"),
    "fail": ("#fad2cf", "#c5221f"),
}
FRAME_COLOURS = {
    "parallel": ("#f6edfc", "#8e24aa"),
    "map": ("#e4f7f9", "#00838f"),
    "conditional": ("#fff8e1", "#b06000"),
    "loop": ("#eceef9", "#3949ab"),
    "branch": ("#ffffff", "#9aa0a6"),
}

STEP_H = 50
TERMINAL_H = 34
STEP_MIN_W, STEP_MAX_W = 150, 300
GAP_X, GAP_Y = 26, 46  # between steps of a row, between rows
DUMMY_W = 14  # room an edge takes where it passes a row
FRAME_PAD, FRAME_HEADER = 14, 44
BRANCH_PAD, BRANCH_HEADER = 12, 26
STACK = 5  # offset of each card behind a map frame ("many of these")
LOOP_RAIL = 30  # room on the right of a loop frame for the arrow going back up
LOOP_GAP = 14  # room above and below a loop's branch for that arrow


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An upper estimate of the width of ``text`` in pixels (DejaVu Sans averages about 0.6 em a character)."""
    return len(text) * size * (0.66 if bold else 0.6)


# --- shapes: plain positioned records, moved as a whole when a block is placed inside another ---------------


@dataclass
class StepShape:
    x: float
    y: float
    w: float
    h: float
    name: str
    kind: str
    detail: str
    tooltip: str
    path: str = ""  # the step's place in the graph (``train.fit``; parallel branches keep their key)

    def moved(self, dx: float, dy: float) -> StepShape:
        return replace(self, x=self.x + dx, y=self.y + dy)


@dataclass
class FrameShape:
    x: float
    y: float
    w: float
    h: float
    kind: str  # parallel | map | conditional | loop | branch
    title: str
    subtitle: str = ""
    path: str = ""  # for composite frames: the composite step's place in the graph

    def moved(self, dx: float, dy: float) -> FrameShape:
        return replace(self, x=self.x + dx, y=self.y + dy)


@dataclass
class EdgeShape:
    points: list[tuple[float, float]]
    kind: EdgeKind | str  # "loop" for the arrow back up a loop frame

    def moved(self, dx: float, dy: float) -> EdgeShape:
        return replace(self, points=[(x + dx, y + dy) for x, y in self.points])


Shape = StepShape | FrameShape | EdgeShape


@dataclass
class Block:
    """A laid-out piece of picture with its origin at (0, 0).

    ``port_x`` is where edges attach (top and bottom); ``end_x`` is where a graph's success step is, for the
    arrow that takes a loop back to its start.
    """

    w: float
    h: float
    shapes: list[Shape]
    port_x: float
    end_x: float = 0

    def placed(self, dx: float, dy: float) -> list[Shape]:
        return [shape.moved(dx, dy) for shape in self.shapes]


@dataclass(eq=False)
class _Item:
    """One slot of a row: a step's block, or the passage of a long edge (``block`` None)."""

    w: float
    h: float
    block: Block | None = None
    x: float = 0
    y: float = 0
    row_top: float = 0
    row_bottom: float = 0
    above: list[_Item] = field(default_factory=list)
    below: list[_Item] = field(default_factory=list)


# --- layout -----------------------------------------------------------------------------------------------


def layout(graph: g.Graph) -> Block:
    """The whole graph laid out, composite steps expanded recursively."""
    return _layout_graph(graph)


def _layout_graph(graph: g.Graph, prefix: str = "") -> Block:
    names = visible_nodes(graph)
    edges = [edge for edge in edges_of(graph) if edge.source in names and edge.target in names]
    ranks = _ranks(names, edges)
    last = max(ranks.values())
    for name in names:
        if graph.nodes[name].is_terminal:
            ranks[name] = last  # every way out ends on the bottom row, where a reader looks for the end
    items = {name: _item_for(_node_block(graph.nodes[name], prefix)) for name in names}
    rows: list[list[_Item]] = [[] for _ in range(last + 1)]
    for name in names:
        rows[ranks[name]].append(items[name])
    chains: list[tuple[Edge, list[_Item]]] = []
    for edge in edges:
        chain = [items[edge.source]]
        for rank in range(ranks[edge.source] + 1, ranks[edge.target]):
            passage = _Item(w=DUMMY_W, h=0)
            rows[rank].append(passage)
            chain.append(passage)
        chain.append(items[edge.target])
        for upper, lower in pairwise(chain):
            upper.below.append(lower)
            lower.above.append(upper)
        chains.append((edge, chain))
    _order_rows(rows)
    width, height = _place_rows(rows)
    _straighten(chains, rows, width)
    shapes: list[Shape] = []
    for name in names:
        item = items[name]
        assert item.block is not None
        shapes += item.block.placed(item.x, item.y)
    shapes += _route_edges(chains)
    start = items[graph.start_at]
    port_x = width / 2 if len(rows[0]) == 1 else _port(start)
    end = items.get(graph.success_node)
    end_x = _port(end) if end is not None else width / 2
    return Block(width, height, shapes, port_x, end_x)


def _ranks(names: list[str], edges: list[Edge]) -> dict[str, int]:
    """Longest-path rank of each step (Kahn's topological order; cycles were refused by validation)."""
    incoming = {name: 0 for name in names}
    for edge in edges:
        incoming[edge.target] += 1
    rank = {name: 0 for name in names}
    ready = [name for name in names if incoming[name] == 0]
    while ready:
        name = ready.pop(0)
        for edge in edges:
            if edge.source == name:
                rank[edge.target] = max(rank[edge.target], rank[name] + 1)
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)
    return rank


def _item_for(block: Block) -> _Item:
    return _Item(w=block.w, h=block.h, block=block)


def _order_rows(rows: list[list[_Item]]) -> None:
    """Barycentre sweeps (down, up, down): each item moves towards the mean position of its neighbours."""
    for sweep in range(3):
        down = sweep % 2 == 0
        indices = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for index in indices:
            reference = rows[index - 1] if down else rows[index + 1]
            position = {id(item): i for i, item in enumerate(reference)}

            def key(pair: tuple[int, _Item], down: bool = down, position: dict[int, int] = position) -> float:
                i, item = pair
                neighbours = [position[id(n)] for n in (item.above if down else item.below) if id(n) in position]
                return sum(neighbours) / len(neighbours) if neighbours else float(i)

            rows[index] = [item for _, item in sorted(enumerate(rows[index]), key=key)]


def _place_rows(rows: list[list[_Item]]) -> tuple[float, float]:
    """Rows top to bottom, each centred horizontally; items centred vertically in their row."""
    widths = [sum(item.w for item in row) + GAP_X * (len(row) - 1) for row in rows]
    width = max(widths)
    y = 0.0
    for row, row_width in zip(rows, widths, strict=True):
        row_height = max(item.h for item in row)
        x = (width - row_width) / 2
        for item in row:
            item.x, item.y = x, y + (row_height - item.h) / 2
            item.row_top, item.row_bottom = y, y + row_height
            x += item.w + GAP_X
        y += row_height + GAP_Y
    return width, y - GAP_Y


def _straighten(chains: list[tuple[Edge, list[_Item]]], rows: list[list[_Item]], width: float) -> None:
    """Line up the passages of a long edge under its source (or above its target) where the rows have room.

    Centring rows puts a long edge's passages at different x in each row, and the edge wiggles; a straight
    run is easier to follow. A passage only moves within the gap between its row neighbours, so the order
    (and the crossings) found before stay as they are.
    """
    row_of = {id(item): row for row in rows for item in row}

    def fits(item: _Item, x: float) -> bool:
        row = row_of[id(item)]
        index = row.index(item)
        left = row[index - 1].x + row[index - 1].w + 4 if index > 0 else 0
        right = row[index + 1].x - 4 if index + 1 < len(row) else width
        return left <= x - item.w / 2 and x + item.w / 2 <= right

    for _, chain in chains:
        passages = chain[1:-1]
        for x in (_port(chain[0]), _port(chain[-1])):
            if passages and all(fits(passage, x) for passage in passages):
                for passage in passages:
                    passage.x = x - passage.w / 2
                break


def _route_edges(chains: list[tuple[Edge, list[_Item]]]) -> list[Shape]:
    """Edge polylines: out of the bottom of the source, through each passage, into the top of the target.

    Several edges leaving (or entering) the same step get ports spread along its side so that their arrows
    stay apart.
    """
    out_ports: dict[int, list[tuple[float, int]]] = {}
    in_ports: dict[int, list[tuple[float, int]]] = {}
    for index, (_, chain) in enumerate(chains):
        out_ports.setdefault(id(chain[0]), []).append((_centre(chain[1]), index))
        in_ports.setdefault(id(chain[-1]), []).append((_centre(chain[-2]), index))
    offset_out = _spread_ports(out_ports, {id(c[0]): c[0] for _, c in chains})
    offset_in = _spread_ports(in_ports, {id(c[-1]): c[-1] for _, c in chains})
    shapes: list[Shape] = []
    for index, (edge, chain) in enumerate(chains):
        source, target = chain[0], chain[-1]
        points = [(_port(source) + offset_out[index], source.y + source.h)]
        for passage in chain[1:-1]:
            points += [(_centre(passage), passage.row_top), (_centre(passage), passage.row_bottom)]
        points.append((_port(target) + offset_in[index], target.y))
        shapes.append(EdgeShape(points, edge.kind))
    return shapes


def _centre(item: _Item) -> float:
    return item.x + item.w / 2


def _port(item: _Item) -> float:
    return item.x + (item.block.port_x if item.block else item.w / 2)


def _spread_ports(ports: dict[int, list[tuple[float, int]]], owners: dict[int, _Item]) -> dict[int, float]:
    offsets: dict[int, float] = {}
    for owner, entries in ports.items():
        entries.sort()
        count = len(entries)
        step = min(16.0, owners[owner].w * 0.6 / count) if count > 1 else 0.0
        for rank, (_, index) in enumerate(entries):
            offsets[index] = (rank - (count - 1) / 2) * step
    return offsets


def _node_block(node: g.BaseNode, prefix: str = "") -> Block:
    path = f"{prefix}.{node.name}" if prefix else node.name
    if isinstance(node, g.CompositeNode):
        return _composite_block(node, path)
    kind = kind_of(node)
    name = shorten(node.name, 34)
    if node.is_terminal:
        w = max(96.0, text_width(name, 13, bold=True) + 36)
        return Block(w, TERMINAL_H, [StepShape(0, 0, w, TERMINAL_H, name, kind, "", node.name, path)], w / 2, w / 2)
    detail = detail_of(node)
    line = f"{kind}: {detail}" if detail else kind
    tooltip = f"{node.name} ({kind})"
    if isinstance(node, g.TaskNode):
        tooltip += f"\n{node.command}"
    w = max(text_width(name, 13, bold=True), text_width(line, 11)) + 28
    w = min(STEP_MAX_W, max(STEP_MIN_W, w))
    return Block(w, STEP_H, [StepShape(0, 0, w, STEP_H, name, kind, line, tooltip, path)], w / 2, w / 2)


def _composite_block(node: g.CompositeNode, path: str = "") -> Block:
    """A frame with a header (name, type and what drives it) around the branches, laid out recursively."""
    title = shorten(node.name, 40)
    detail = detail_of(node)
    subtitle = f"{node.type} · {detail}" if detail else str(node.type)
    header_w = max(text_width(title, 13, bold=True), text_width(subtitle, 11)) + 2 * FRAME_PAD
    shapes: list[Shape] = []
    if isinstance(node, g.MapNode | g.LoopNode):
        (branch,) = node.branch_graphs().values()
        inner = _layout_graph(branch, path)
        is_loop = isinstance(node, g.LoopNode)
        rail = LOOP_RAIL if is_loop else 0
        header = FRAME_HEADER + (LOOP_GAP if is_loop else 0)
        w = max(header_w, inner.w + 2 * FRAME_PAD + rail)
        h = header + inner.h + FRAME_PAD + (LOOP_GAP / 2 if is_loop else 0)
        inner_x = (w - rail - inner.w) / 2
        shapes += inner.placed(inner_x, header)
        if is_loop:
            # The arrow back up: out of the branch's success, along the right rail, down into its first step.
            rail_x = w - FRAME_PAD - 4
            end_y, start_y = header + inner.h, header
            below, above = end_y + LOOP_GAP / 2 + 2, start_y - LOOP_GAP + 2
            end_x, start_x = inner_x + inner.end_x, inner_x + inner.port_x
            points = [(end_x, end_y), (end_x, below), (rail_x, below), (rail_x, above), (start_x, above)]
            shapes.append(EdgeShape([*points, (start_x, start_y)], "loop"))
    else:
        boxes: list[tuple[str, Block, float]] = []
        for key, branch in node.branch_graphs().items():
            inner = _layout_graph(branch, f"{path}.{key}")
            label = shorten(branch_title(node, key), 40)
            boxes.append((label, inner, max(inner.w, text_width(label, 12, bold=True)) + 2 * BRANCH_PAD))
        box_h = BRANCH_HEADER + max(inner.h for _, inner, _ in boxes) + BRANCH_PAD
        content_w = sum(box_w for _, _, box_w in boxes) + GAP_X * (len(boxes) - 1)
        w = max(header_w, content_w + 2 * FRAME_PAD)
        h = FRAME_HEADER + box_h + FRAME_PAD
        x = (w - content_w) / 2
        for label, inner, box_w in boxes:
            shapes.append(FrameShape(x, FRAME_HEADER, box_w, box_h, "branch", label))
            shapes += inner.placed(x + (box_w - inner.w) / 2, FRAME_HEADER + BRANCH_HEADER)
            x += box_w + GAP_X
    frame = FrameShape(0, 0, w, h, str(node.type), title, subtitle, path)
    behind: list[Shape] = []
    if isinstance(node, g.MapNode):
        behind = [replace(frame, x=STACK * i, y=STACK * i, title="", subtitle="") for i in (2, 1)]
        w, h = w + 2 * STACK, h + 2 * STACK
    return Block(w, h, [*behind, frame, *shapes], frame.w / 2, frame.w / 2)


# --- rendering --------------------------------------------------------------------------------------------


def _n(value: float) -> str:
    """Coordinates with at most one decimal: small, stable output."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(x: float, y: float, text: str, size: float, *, bold: bool = False, fill: str = TEXT, **attrs: str) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{escape(value)}"' for key, value in attrs.items())
    weight = ' font-weight="600"' if bold else ""
    return f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}"{weight} fill="{fill}"{extra}>{escape(text)}</text>'


def render_step(shape: StepShape) -> str:
    fill, stroke = STEP_COLOURS.get(shape.kind, STEP_COLOURS["stub"])
    x, y, w, h = shape.x, shape.y, shape.w, shape.h
    parts = [f'<g class="step {escape(shape.kind)}"><title>{escape(shape.tooltip)}</title>']
    if shape.kind == "fail":
        # An octagon, like a stop sign.
        c = h / 3
        corners = [(x + c, y), (x + w - c, y), (x + w, y + c), (x + w, y + h - c), (x + w - c, y + h), (x + c, y + h)]
        corners += [(x, y + h - c), (x, y + c)]
        points = " ".join(f"{_n(px)},{_n(py)}" for px, py in corners)
        parts.append(f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
    else:
        radius = h / 2 if shape.kind == "success" else 8
        dash = ' stroke-dasharray="5 3"' if shape.kind == "stub" else ""
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{_n(radius)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        )
        if shape.kind in ("python", "notebook", "shell") and h > 30:
            parts.append(f'<rect x="{_n(x)}" y="{_n(y + 8)}" width="4" height="{_n(h - 16)}" rx="2" fill="{stroke}"/>')
    if not shape.name:
        pass  # a legend sample
    elif shape.detail:
        parts.append(_text(x + w / 2, y + 21, shape.name, 13, bold=True, text_anchor="middle"))
        parts.append(_text(x + w / 2, y + 38, shape.detail, 11, fill=MUTED, text_anchor="middle"))
    else:
        colour = stroke if shape.kind in ("success", "fail") else TEXT
        parts.append(_text(x + w / 2, y + h / 2 + 4.5, shape.name, 13, bold=True, fill=colour, text_anchor="middle"))
    parts.append("</g>")
    return "".join(parts)


def render_frame(shape: FrameShape) -> str:
    fill, stroke = FRAME_COLOURS.get(shape.kind, FRAME_COLOURS["branch"])
    x, y, w, h = shape.x, shape.y, shape.w, shape.h
    if shape.kind == "branch":
        rect = (
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8" fill="{fill}" '
            f'fill-opacity="0.75" stroke="{stroke}" stroke-dasharray="4 3"/>'
        )
        return f'<g class="branch">{rect}{_text(x + 10, y + 17, shape.title, 12, bold=True, fill=MUTED)}</g>'
    rect = (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="10" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"/>'
    )
    texts = ""
    if shape.title:
        texts = _text(x + FRAME_PAD, y + 19, shape.title, 13, bold=True)
        texts += _text(x + FRAME_PAD, y + 35, shape.subtitle, 11, fill=stroke)
    return f'<g class="composite {escape(shape.kind)}">{rect}{texts}</g>'


def _edge_style(kind: str) -> str:
    """Stroke, dashes and arrowhead of an edge kind: grey ``next``, dashed red ``on_failure``, blue loop."""
    if kind == "on_failure":
        return f'stroke="{FAILURE}" stroke-dasharray="6 4" marker-end="url(#rn-arrow-fail)"'
    if kind == "loop":
        return f'stroke="{FRAME_COLOURS["loop"][1]}" marker-end="url(#rn-arrow-loop)"'
    return f'stroke="{EDGE}" marker-end="url(#rn-arrow)"'


def render_edge(shape: EdgeShape) -> str:
    points = shape.points
    path = f"M{_n(points[0][0])},{_n(points[0][1])}"
    if shape.kind == "loop":
        path += "".join(f" L{_n(x)},{_n(y)}" for x, y in points[1:])
    else:
        # Cubic curves with vertical tangents between consecutive points: smooth, and straight when aligned.
        for (x1, y1), (x2, y2) in pairwise(points):
            middle = (y1 + y2) / 2
            path += f" C{_n(x1)},{_n(middle)} {_n(x2)},{_n(middle)} {_n(x2)},{_n(y2)}"
    style = _edge_style(shape.kind)
    out = f'<path class="edge {shape.kind}" d="{path}" fill="none" stroke-width="1.5" {style}/>'
    if shape.kind == "on_failure":
        (x1, y1), (x2, y2) = points[0], points[1]
        out += _text(
            (x1 + x2) / 2 + 6,
            (y1 + y2) / 2 + 4,
            "on failure",
            11,
            fill=FAILURE,
            stroke="#ffffff",
            stroke_width="4",
            paint_order="stroke",
        )
    return out


_DEFS = "".join(
    f'<marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
    f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
    for marker, colour in (("rn-arrow", EDGE), ("rn-arrow-fail", FAILURE), ("rn-arrow-loop", FRAME_COLOURS["loop"][1]))
)


def _legend(width: float, y: float) -> tuple[list[str], float]:
    """Samples of every shape, in two rows, centred in ``width``; returns the parts and the height used."""
    steps = [("python", "python task"), ("notebook", "notebook task"), ("shell", "shell task"), ("stub", "stub")]
    steps += [("success", "success"), ("fail", "fail")]
    others = [("parallel", "parallel"), ("map", "map"), ("conditional", "conditional"), ("loop", "loop")]
    others += [("next", "next"), ("on_failure", "on failure")]
    cell = 124.0
    parts: list[str] = []
    for row, entries in enumerate((steps, others)):
        x0 = (width - cell * len(entries)) / 2
        top = y + row * 30
        for index, (kind, label) in enumerate(entries):
            x = x0 + index * cell
            if kind in STEP_COLOURS:
                parts.append(render_step(StepShape(x, top, 26, 18, "", kind, "", label)))
            elif kind in FRAME_COLOURS:
                fill, stroke = FRAME_COLOURS[kind]
                parts.append(
                    f'<rect x="{_n(x)}" y="{_n(top)}" width="26" height="18" rx="5" fill="{fill}" '
                    f'stroke="{stroke}" stroke-width="1.5"/>'
                )
            else:
                parts.append(
                    f'<path d="M{_n(x)},{_n(top + 9)} L{_n(x + 26)},{_n(top + 9)}" fill="none" stroke-width="1.5" '
                    f"{_edge_style(kind)}/>"
                )
            parts.append(_text(x + 32, top + 13.5, label, 11, fill=MUTED))
    return parts, 2 * 30


STATUS_COLOURS = {"SUCCESS": "#188038", "FAIL": "#c5221f", "PROCESSING": "#e37400", "CREATED": "#e37400"}
_STATUS_MARKS = (("SUCCESS", "✓"), ("FAIL", "✗"), ("PROCESSING", "…"), ("CREATED", "…"))
StatusCounts = dict[str, int]


def status_overlay(
    x: float, y: float, w: float, h: float, counts: StatusCounts | None, radius: float, *, outside: bool = False
) -> str:
    """A run's status drawn over a step: a coloured outline and a count badge (``✓ 998 ✗ 2`` for map items);
    a step that never ran is washed out and says so."""
    if not counts:
        veil = f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{_n(radius)}" '
        veil += 'fill="#ffffff" fill-opacity="0.6"/>'
        note = _text(x + w - 6, y + 12, "not run", 10, fill=MUTED, text_anchor="end")
        return f'<g class="status not-run">{veil}{note}</g>'
    worst = next((s for s in ("FAIL", "PROCESSING", "CREATED", "SUCCESS") if counts.get(s)), "SUCCESS")
    colour = STATUS_COLOURS.get(worst, MUTED)
    total = sum(counts.values())
    marks = [(m, counts[s]) for s, m in _STATUS_MARKS if counts.get(s)]
    badge = " ".join(m if total == 1 else f"{m} {n}" for m, n in marks)
    outline = f'<rect x="{_n(x - 2)}" y="{_n(y - 2)}" width="{_n(w + 4)}" height="{_n(h + 4)}" rx="{_n(radius + 2)}" '
    outline += f'fill="none" stroke="{colour}" stroke-width="3"/>'
    if outside:  # a small pill (a branch's success step): the badge goes to its right
        label = _text(x + w + 8, y + h / 2 + 4, badge, 10.5, bold=True, fill=colour)
    else:
        label = _text(x + w - 6, y + 12, badge, 10.5, bold=True, fill=colour, text_anchor="end")
    title = ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
    return f'<g class="status {escape(worst)}"><title>{escape(title)}</title>{outline}{label}</g>'


def _with_status(shape: StepShape | FrameShape, statuses: dict[str, StatusCounts] | None) -> str:
    drawn = render_step(shape) if isinstance(shape, StepShape) else render_frame(shape)
    if statuses is None or not shape.path or (isinstance(shape, FrameShape) and not shape.title):
        return drawn
    if isinstance(shape, StepShape) and shape.kind in ("success", "fail") and shape.path not in statuses:
        return drawn  # an end the run did not reach is not news
    terminal = isinstance(shape, StepShape) and shape.kind in ("success", "fail")
    radius = shape.h / 2 if isinstance(shape, StepShape) and shape.kind == "success" else 8
    counts = statuses.get(shape.path)
    return drawn + status_overlay(shape.x, shape.y, shape.w, shape.h, counts, radius, outside=terminal)


def to_svg(
    graph: g.Graph, title: str = "", *, heading: bool = True, statuses: dict[str, StatusCounts] | None = None
) -> str:
    """The picture of ``graph`` as a standalone SVG document, with a legend below.

    The title (``title`` or the pipeline's name) and description go on top unless ``heading`` is false: a page
    that shows its own heading does not want it twice. With ``statuses`` (graph path -> status counts, see
    :func:`runnable.pictures.status.graph_statuses`) each step shows how it went in a run.
    """
    block = layout(graph)
    margin = 24.0
    legend_w = 124.0 * 6
    width = max(block.w, legend_w) + 2 * margin
    title = title or graph.name
    top = margin
    head: list[str] = []
    if title and heading:
        head.append(_text(margin, top + 16, title, 18, bold=True))
        top += 30
    if graph.description and heading:
        head.append(_text(margin, top + 12, shorten(graph.description, 140), 12, fill=MUTED))
        top += 24
    if head:
        top += 8
    graph_x = (width - block.w) / 2
    body = [_with_status(s, statuses) for s in block.shapes if isinstance(s, FrameShape)]
    body += [render_edge(s) for s in block.shapes if isinstance(s, EdgeShape)]
    body += [_with_status(s, statuses) for s in block.shapes if isinstance(s, StepShape)]
    legend_y = top + block.h + 32
    legend, legend_h = _legend(width, legend_y)
    height = legend_y + legend_h + margin / 2
    label = escape(f"pipeline {title}" if title else "pipeline")
    rule = (
        f'<line x1="{_n(margin)}" x2="{_n(width - margin)}" y1="{_n(legend_y - 14)}" y2="{_n(legend_y - 14)}" '
        'stroke="#e0e0e0"/>'
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="runnable-graph" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{label}" font-family="{escape(FONT)}">',
        f"<defs>{_DEFS}</defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *head,
        f'<g transform="translate({_n(graph_x)},{_n(top)})">',
        *body,
        "</g>",
        rule,
        *legend,
        "</svg>\n",
    ]
    return "".join(parts)


def to_html(graph: g.Graph, title: str = "", *, statuses: dict[str, StatusCounts] | None = None, run: str = "") -> str:
    """One standalone page: the SVG picture, and the Mermaid text (folded) to copy into docs.

    With ``statuses`` the picture shows how each step went in run ``run``.
    """
    from runnable.pictures.mermaid import to_mermaid

    title = title or graph.name or "pipeline"
    steps = sum(1 for _ in _all_steps(graph))
    of_run = f" · statuses of run <code>{escape(run)}</code>" if run else ""
    body = (
        f"<header><h1>{escape(title)}</h1>"
        + (f"<p class='muted'>{escape(graph.description)}</p>" if graph.description else "")
        + f"<p class='muted'>{steps} steps · starts at <code>{escape(graph.start_at)}</code> · "
        f"dag hash <code>{graph.dag_hash()[:12]}</code>{of_run}</p></header>"
        f"<section class='picture'>{to_svg(graph, title=title, heading=False, statuses=statuses)}</section>"
        "<details><summary>Mermaid text (paste into Markdown)</summary>"
        f"<pre>{escape(to_mermaid(graph))}</pre></details>"
    )
    return page(f"{title} · runnable graph", body)


def _all_steps(graph: g.Graph) -> Iterator[g.BaseNode]:
    for node in graph.nodes.values():
        if node.is_terminal:
            continue
        yield node
        if isinstance(node, g.CompositeNode):
            for branch in node.branch_graphs().values():
                yield from _all_steps(branch)
