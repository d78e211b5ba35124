"""A run as one standalone HTML page: what ran, when, for how long, with which parameters and metrics.

``runnable runs show`` answers in a terminal; this page is for the moments a terminal is the wrong place:
attaching a run to a ticket or a review, archiving it next to a model, looking at a long run's timeline.
Everything shown comes from the run log (whose configuration already has secrets masked), and every piece
of user text is escaped, so a step message or a parameter value cannot inject markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from runnable.models.parameters import ObjectParameter
from runnable.models.run_log import BranchLog, RunLog, StepAttempt, StepLog, walk_steps
from runnable.pictures._common import shorten
from runnable.pictures._page import page
from runnable.pictures.status import graph_path
from runnable.records import catalog_path, display_name, explain_failure, is_reused, not_run

if TYPE_CHECKING:
    from runnable.models.graph import Graph

BAR_COLOURS = {"SUCCESS": "#34a853", "FAIL": "#ea4335", "PROCESSING": "#f9ab00", "CREATED": "#9aa0a6"}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', 'Liberation Sans', sans-serif"
ROW_H, BAR_H = 24, 14
LABEL_MAX_W, BARS_W = 340, 720
VALUE_CHARS = 160  # longer parameter values are cut in the tables (the full value is in the cell's tooltip)
COMPOSITE_TYPES = ("parallel", "map", "conditional", "loop")
ITEM_ROWS = 100  # rows of branch steps listed under a composite step (failed ones always are)
TABLE_ROWS = 300  # rows of the metrics and catalog tables
FOLDED_ROWS = 20  # a longer metrics table is folded under its charts


def duration_text(seconds: float | None) -> str:
    """Human durations: ``0.4 ms``, ``850 ms``, ``12.40 s``, ``3.5 min``, ``2.1 h`` (``-`` when unknown).

    Below 10 ms one decimal stays: a timeline of quick steps full of "0 ms" says nothing.
    """
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _time(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else "-"


def _depth(step: StepLog) -> int:
    """How deep in branches a step is: internal names alternate step / branch / step (``map.item.task``)."""
    return (len(step.internal_name.split(".")) - 1) // 2


def _label(step: StepLog) -> str:
    """``branch › step`` inside branches (the branch key is the map item, loop index or branch name)."""
    parts = step.internal_name.split(".")
    return f"{parts[-2]} › {step.name}" if len(parts) >= 3 else step.name


def _shown_steps(run_log: RunLog) -> list[StepLog]:
    """Every step that did something: the success/fail markers every (sub-)graph ends with are left out."""
    return [step for step in run_log.iter_steps() if step.step_type not in ("success", "fail")]


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _parameter_cell(parameter: Any) -> str:
    """A table cell for a parameter's value; objects show the catalog name they are pickled under."""
    if parameter is None:
        return "<td class='value muted'>-</td>"
    if isinstance(parameter, ObjectParameter):
        return f"<td class='value'>object in catalog: <code>{escape(parameter.value)}</code></td>"
    full = _value_text(parameter.value)
    short = full if len(full) <= VALUE_CHARS else full[: VALUE_CHARS - 1] + "…"
    return f"<td class='value' title='{escape(full)}'>{escape(short)}</td>"


# --- header ----------------------------------------------------------------------------------------------


def _code_identity(run_log: RunLog) -> str:
    """The git commit (or image) of the first step that recorded one, with its dirty flag and remote."""
    for step in run_log.iter_steps():
        for identity in step.code_identities:
            if identity.code_identifier:
                text = f"<code>{escape(identity.code_identifier[:12])}</code> ({escape(identity.code_identifier_type)}"
                if identity.code_identifier_type == "git":
                    text += ", clean" if identity.code_identifier_dependable else ", uncommitted changes"
                text += ")"
                if identity.code_identifier_url:
                    text += f" {escape(identity.code_identifier_url)}"
                return text
    for step in run_log.iter_steps():
        for identity in step.code_identities:
            if identity.code_identifier_message:
                return f"<span class='muted'>{escape(identity.code_identifier_message)}</span>"
    return "<span class='muted'>not recorded</span>"


def _header(run_log: RunLog) -> str:
    total = None
    if run_log.start_time and run_log.end_time:
        total = (run_log.end_time - run_log.start_time).total_seconds()
    executor = run_log.run_config.get("pipeline-executor", {})
    facts = [
        ("pipeline", escape(run_log.pipeline_name) or "<span class='muted'>unnamed</span>"),
        ("tag", escape(run_log.tag) or "<span class='muted'>none</span>"),
        *([("retry of", f"run <code>{escape(run_log.original_run_id)}</code>")] if run_log.original_run_id else []),
        ("started", escape(_time(run_log.start_time))),
        ("ended", escape(_time(run_log.end_time))),
        ("duration", escape(duration_text(total))),
        ("dag hash", f"<code>{escape(run_log.dag_hash)}</code>" if run_log.dag_hash else "-"),
        ("code", _code_identity(run_log)),
    ]
    if isinstance(executor, dict) and executor.get("type"):
        facts.append(("executor", escape(str(executor["type"]))))
    if run_log.run_config.get("pipeline_file"):
        facts.append(("pipeline file", f"<code>{escape(str(run_log.run_config['pipeline_file']))}</code>"))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return (
        f"<header><h1>Run {escape(run_log.run_id)} "
        f"<span class='badge {escape(run_log.status)}'>{escape(run_log.status)}</span></h1>"
        f"<dl class='facts'>{rows}</dl></header>"
    )


# --- timeline --------------------------------------------------------------------------------------------


def _nice_step(span: float, most: int = 8) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving at most ``most`` ticks over ``span`` seconds."""
    step = 0.001
    while span / step > most:
        for factor in (2, 2.5, 2):
            step *= factor
            if span / step <= most:
                break
    return step


def _tick_text(seconds: float) -> str:
    """Axis labels: round numbers without trailing zeros (``0``, ``250 ms``, ``1.5 s``, ``2 min``)."""
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _attempt_bounds(attempt: StepAttempt) -> tuple[datetime, datetime] | None:
    if attempt.start_time is None:
        return None
    return attempt.start_time, attempt.end_time or attempt.start_time


@dataclass
class _Row:
    """One timeline row: a step, or every record of one step of a map/loop branch (``fit › train ×1000``)."""

    label: str
    depth: int
    composite: bool
    records: list[StepLog] = field(default_factory=list)


def _timeline_rows(run_log: RunLog) -> list[_Row]:
    """Rows in run order, one per drawn step: the records of a map's items share their step's row, so a
    1,000-item map is a few rows of many thin bars instead of a thousand rows."""
    rows: dict[str, _Row] = {}
    for step in _shown_steps(run_log):
        if is_reused(step):
            continue  # a retry's reused step did its work in the original run: not drawn as this run's
        path = graph_path(run_log, step.internal_name)
        row = rows.get(path)
        if row is None:
            label = path.replace(".", " › ") if "." in path else path
            row = rows[path] = _Row(label, _depth(step), step.step_type in COMPOSITE_TYPES)
        row.records.append(step)
    for row in rows.values():
        if len(row.records) > 1:
            row.label = f"{row.label.rsplit(' › ', 1)[-1]} ×{len(row.records)}"
        elif row.depth:
            row.label = _label(row.records[0])
    return list(rows.values())


def timeline_svg(run_log: RunLog) -> str:
    """A Gantt chart of this run's work: a row per step, map items and loop iterations on their step's row,
    bars by status. Steps a retry reused are left out (their time was spent in the original run)."""
    rows = _timeline_rows(run_log)
    moments = [m for r in rows for s in r.records for a in s.attempts for m in (a.start_time, a.end_time) if m]
    moments += [m for m in (run_log.start_time, run_log.end_time) if m is not None]
    if not rows or not moments:
        return "<p class='muted'>No step recorded a start time.</p>"
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 0.001)
    label_w = min(LABEL_MAX_W, max(14 * r.depth + len(r.label) * 7.5 for r in rows) + 24)
    duration_w = 200  # room right of the bars for the duration text of the latest bar
    width = label_w + BARS_W + duration_w
    top = 28
    height = top + ROW_H * len(rows) + 8
    scale = BARS_W / span

    def x_at(moment: datetime) -> float:
        return label_w + (moment - start).total_seconds() * scale

    parts: list[str] = []
    tick = _nice_step(span)
    count = int(span / tick + 1e-9)
    for index in range(count + 1):
        x = label_w + index * tick * scale
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 4}" stroke="#e8eaed"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{top - 10}" font-size="11" fill="#5f6368" text-anchor="middle">'
            f"{escape(_tick_text(index * tick))}</text>"
        )
    for number, row in enumerate(rows):
        y = top + number * ROW_H
        if number % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="#f8f9fa"/>')
        label = shorten(row.label, int((label_w - 16 - 14 * row.depth) / 7.5))
        weight = ' font-weight="600"' if row.depth == 0 else ""
        parts.append(
            f'<text x="{8 + 14 * row.depth}" y="{y + 16}" font-size="12.5"{weight} fill="#202124">'
            f"{escape(label)}</text>"
        )
        many = len(row.records) > 1
        bar_end = label_w
        for step in row.records:
            for attempt in step.attempts:
                bounds = _attempt_bounds(attempt)
                if bounds is None:
                    continue
                x1, x2 = x_at(bounds[0]), x_at(bounds[1])
                colour = BAR_COLOURS.get(attempt.status, BAR_COLOURS["CREATED"])
                if row.composite:
                    style = f'fill="{colour}" fill-opacity="0.3" stroke="{colour}"'
                elif many:
                    style = f'fill="{colour}" fill-opacity="{0.9 if attempt.status == "FAIL" else 0.45}"'
                else:
                    style = f'fill="{colour}"'
                tip = (
                    f"{step.internal_name} · attempt {attempt.attempt_number} · {attempt.status}\n"
                    f"starts at +{duration_text((bounds[0] - start).total_seconds())}, "
                    f"takes {duration_text(attempt.duration)}"
                )
                if attempt.message:
                    tip += f"\n{attempt.message}"
                parts.append(
                    f'<rect class="bar" x="{x1:.1f}" y="{y + (ROW_H - BAR_H) / 2}" width="{max(x2 - x1, 2):.1f}" '
                    f'height="{BAR_H}" rx="2" {style}><title>{escape(tip)}</title></rect>'
                )
                bar_end = max(bar_end, x1 + max(x2 - x1, 2))
        if many:
            text = _distribution_text([s.duration for s in row.records])
        else:
            step = row.records[0]
            text = duration_text(step.duration) if step.attempts else "not run"
            if len(step.attempts) > 1:
                text += f" · {len(step.attempts)} attempts"
        parts.append(f'<text x="{bar_end + 6:.1f}" y="{y + 16}" font-size="11" fill="#5f6368">{escape(text)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="{escape(FONT)}" role="img" '
        f'aria-label="timeline of run {escape(run_log.run_id)}">' + "".join(parts) + "</svg>"
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _distribution_text(durations: list[float | None]) -> str:
    known = [d for d in durations if d is not None]
    if not known:
        return "-"
    return f"median {duration_text(_quantile(known, 0.5))}, max {duration_text(max(known))}"


def _histogram_svg(values: list[float], bins: int = 24, w: int = 220, h: int = 34) -> str:
    """A tiny histogram of durations (how the items of a map spread), min and max under it."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    width = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width * bins))] += 1
    tallest = max(counts)
    bar_w = w / bins
    bars = "".join(
        f'<rect x="{i * bar_w:.1f}" y="{h - c / tallest * h:.1f}" width="{bar_w - 1:.1f}" '
        f'height="{c / tallest * h:.1f}" '
        f'fill="#1a73e8" fill-opacity="0.7"><title>{c}</title></rect>'
        for i, c in enumerate(counts)
        if c
    )
    axis = (
        f'<text x="0" y="{h + 12}" font-size="10" fill="#5f6368">{escape(duration_text(low))}</text>'
        f'<text x="{w}" y="{h + 12}" font-size="10" fill="#5f6368" text-anchor="end">'
        f"{escape(duration_text(high))}</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" width="{w}" height="{h + 14}" '
        f'font-family="{escape(FONT)}" role="img" aria-label="durations">{bars}{axis}</svg>'
    )


# --- steps -------------------------------------------------------------------------------------------------


def _badge(status: str) -> str:
    return f"<span class='badge {escape(status.replace(' ', '-'))}'>{escape(status)}</span>"


def _step_row(run_log: RunLog, step: StepLog, depth: int) -> str:
    reused = is_reused(step)
    message = "" if reused else step.message or (step.attempts[-1].message if step.attempts else "")
    message_cell = escape(shorten(message, 200)) if message else ""
    started = step.attempts[0].start_time if step.attempts and not reused else None
    status = "REUSED" if reused else step.status
    duration = f"reused from {run_log.original_run_id}" if reused else duration_text(step.duration)
    return (
        f"<tr><td style='padding-left:{10 + 14 * depth}px' title='{escape(step.internal_name)}'>"
        f"{escape(_label(step))}</td><td>{escape(step.step_type)}</td><td>{_badge(status)}</td>"
        f"<td class='num'>{escape(_time(started)[11:] if started else '-')}</td>"
        f"<td class='num'>{escape(duration)}</td>"
        f"<td class='num'>{len(step.attempts)}</td><td title='{escape(message)}'>{message_cell}</td></tr>"
    )


def _branch_extent(branch: BranchLog) -> float | None:
    starts = [a.start_time for s in walk_steps(branch.steps) for a in s.attempts if a.start_time]
    ends = [a.end_time for s in walk_steps(branch.steps) for a in s.attempts if a.end_time]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else None


def _composite_summary(step: StepLog) -> str:
    """``1000 items: ✓ 998 ✗ 2 · median 50 ms, max 1.2 s`` and a histogram of the branches' durations."""
    one, many = {"map": ("item", "items"), "loop": ("iteration", "iterations")}.get(
        step.step_type, ("branch", "branches")
    )
    unit = one if len(step.branches) == 1 else many
    statuses: dict[str, int] = {}
    for branch in step.branches.values():
        statuses[branch.status] = statuses.get(branch.status, 0) + 1
    counts = " ".join(
        f"<span class='count {escape(s)}'>{escape(s.lower())} {n}</span>" for s, n in sorted(statuses.items())
    )
    durations = [d for d in (_branch_extent(b) for b in step.branches.values()) if d is not None]
    spread = f" · {escape(_distribution_text(list(durations)))}" if durations else ""
    return f"{len(step.branches)} {unit}: {counts}{spread}", _histogram_svg(durations)


def _steps_rows(run_log: RunLog, steps: dict[str, StepLog], depth: int) -> list[str]:
    rows: list[str] = []
    for step in steps.values():
        if step.step_type in ("success", "fail"):
            continue
        rows.append(_step_row(run_log, step, depth))
        if step.branches:
            rows.append(_composite_details(run_log, step, depth))
    return rows


def _composite_details(run_log: RunLog, step: StepLog, depth: int) -> str:
    """The branches of a composite step, folded (open when something in them failed); a long map lists its
    failed items and the first :data:`ITEM_ROWS` others."""
    summary, histogram = _composite_summary(step)
    branches = list(step.branches.values())
    failed = [b for b in branches if b.status == "FAIL"]
    shown = failed + [b for b in branches if b.status != "FAIL"][: max(ITEM_ROWS - len(failed), 0)]
    inner: list[str] = []
    for branch in sorted(shown, key=branches.index):
        inner += _steps_rows(run_log, branch.steps, depth + 1)
    left = len(branches) - len(shown)
    if left:
        inner.append(
            f"<tr><td colspan='7' class='muted' style='padding-left:{24 + 14 * depth}px'>… {left} more "
            f"(all of them: <code>runnable runs show {escape(run_log.run_id)} --json</code>)</td></tr>"
        )
    opened = " open" if failed and len(branches) <= ITEM_ROWS else ""
    return (
        f"<tr class='branches'><td colspan='7' style='padding-left:{10 + 14 * depth}px'>"
        f"<details{opened}><summary>{summary}</summary>{histogram}"
        f"<table class='steps inner'>{''.join(inner)}</table></details></td></tr>"
    )


def _steps_table(run_log: RunLog, missing: list[str]) -> str:
    rows = _steps_rows(run_log, run_log.steps, 0)
    if run_log.job is not None:
        rows.append(_step_row(run_log, run_log.job, 0))
    for name in missing:
        depth = name.count(".") // 2
        rows.append(
            f"<tr class='not-run'><td style='padding-left:{10 + 14 * depth}px'>{escape(name.rsplit('.', 1)[-1])}</td>"
            f"<td></td><td>{_badge('NOT RUN')}</td><td class='num'>-</td><td class='num'>-</td><td class='num'>0</td>"
            "<td class='muted'>never started: an earlier step failed</td></tr>"
        )
    head = "<tr><th>step</th><th>type</th><th>status</th><th>started</th><th>duration</th><th>attempts</th>"
    head += "<th>message</th></tr>"
    return f"<table class='steps'>{head}{''.join(rows)}</table>"


# --- parameters, metrics, catalog ----------------------------------------------------------------------------


def _parameters_table(run_log: RunLog) -> str:
    names = list(run_log.initial_parameters) + [n for n in run_log.parameters if n not in run_log.initial_parameters]
    if not names:
        return "<p class='muted'>No parameters.</p>"
    rows = []
    for name in names:
        initial, final = run_log.initial_parameters.get(name), run_log.parameters.get(name)
        kind = (final or initial).kind  # type: ignore[union-attr]
        rows.append(
            f"<tr><td><code>{escape(name)}</code></td><td>{escape(kind)}</td>"
            f"{_parameter_cell(initial)}{_parameter_cell(final)}</tr>"
        )
    head = "<tr><th>name</th><th>kind</th><th>initial</th><th>final</th></tr>"
    return f"<table class='parameters'>{head}{''.join(rows)}</table>"


def _metric_series(run_log: RunLog) -> dict[str, list[tuple[str, float]]]:
    """Each metric's values in run order: one point per step record (map items, loop iterations), and a
    list-valued metric (a loss curve) contributes its items."""
    series: dict[str, list[tuple[str, float]]] = {}
    for step in _shown_steps(run_log):
        if not step.attempts:
            continue
        where = display_name(run_log, step.internal_name)
        for name, value in step.attempts[-1].user_defined_metrics.items():
            if isinstance(value, list):
                points = [(f"{where}[{i}]", v) for i, v in enumerate(value) if isinstance(v, (int, float))]
                series.setdefault(name, []).extend(points)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(name, []).append((where, float(value)))
    return series


def metric_chart_svg(name: str, points: list[tuple[str, float]], w: int = 560, h: int = 170) -> str:
    """A line chart of one metric over steps/iterations, with its minimum and maximum marked."""
    left, right, top, bottom = 54, 12, 22, 26
    values = [v for _, v in points]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    plot_w, plot_h = w - left - right, h - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)
        return x, top + plot_h - (v - low) / spread * plot_h

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = ""
    if len(points) <= 60:
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1a73e8"><title>{escape(label)}: {value:g}</title></circle>'
            for (x, y), (label, value) in zip(coords, points, strict=True)
        )
    frame = (
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#dadce0"/>'
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#dadce0"/>'
        f'<text x="{left - 6}" y="{top + 4}" font-size="10.5" fill="#5f6368" text-anchor="end">{high:.4g}</text>'
        f'<text x="{left - 6}" y="{top + plot_h + 4}" font-size="10.5" fill="#5f6368" '
        f'text-anchor="end">{low:.4g}</text>'
        f'<text x="{left}" y="{h - 8}" font-size="10.5" fill="#5f6368">{escape(shorten(points[0][0], 40))}</text>'
        f'<text x="{left + plot_w}" y="{h - 8}" font-size="10.5" fill="#5f6368" text-anchor="end">'
        f"{escape(shorten(points[-1][0], 40))}</text>"
        f'<text x="{left}" y="14" font-size="12.5" font-weight="600" fill="#202124">{escape(name)} '
        f'<tspan font-weight="400" fill="#5f6368">over {len(points)} points</tspan></text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="metric-chart" width="{w}" height="{h}" '
        f'font-family="{escape(FONT)}" role="img" aria-label="metric {escape(name)}">{frame}'
        f'<polyline points="{line}" fill="none" stroke="#1a73e8" stroke-width="2"/>{dots}</svg>'
    )


def _metrics_section(run_log: RunLog) -> str:
    series = _metric_series(run_log)
    charts = "".join(
        f"<div class='chart'>{metric_chart_svg(name, points)}</div>"
        for name, points in series.items()
        if len(points) >= 2
    )
    rows = []
    for step in _shown_steps(run_log):
        if not step.attempts:
            continue
        for name, value in step.attempts[-1].user_defined_metrics.items():
            if len(rows) >= TABLE_ROWS:
                break
            text = _value_text(value)
            rows.append(
                f"<tr><td title='{escape(step.internal_name)}'>{escape(step.internal_name)}</td>"
                f"<td><code>{escape(name)}</code></td><td class='value'>{escape(shorten(text, VALUE_CHARS))}</td></tr>"
            )
    if not rows:
        return "<p class='muted'>No metrics recorded.</p>"
    head = "<tr><th>step</th><th>metric</th><th>value</th></tr>"
    total = sum(len(s.attempts[-1].user_defined_metrics) for s in _shown_steps(run_log) if s.attempts)
    more = f"<p class='muted'>… and {total - len(rows)} more values.</p>" if total > len(rows) else ""
    charts = f"<section class='charts'>{charts}</section>" if charts else ""
    table = f"<table class='metrics'>{head}{''.join(rows)}</table>{more}"
    if len(rows) > FOLDED_ROWS:  # the charts say it at a glance; the numbers are one click away
        table = f"<details><summary>every value ({total})</summary>{table}</details>"
    return f"{charts}{table}"


def _catalog_section(run_log: RunLog) -> str:
    """Files that went through the catalog, with their SHA-256; the steps' captured outputs are counted."""
    rows: list[str] = []
    outputs = 0
    total = 0
    for step in run_log.iter_steps():
        if is_reused(step):
            continue
        for entry in step.data_catalog:
            if entry.name.endswith(".execution.log"):
                outputs += 1
                continue
            total += 1
            if len(rows) >= TABLE_ROWS:
                continue
            digest = entry.data_hash
            rows.append(
                f"<tr><td><code>{escape(entry.name)}</code></td>"
                f"<td title='{escape(step.internal_name)}'>{escape(display_name(run_log, step.internal_name))}</td>"
                f"<td>{escape(entry.stage)}</td><td class='value' title='{escape(digest)}'>{escape(digest[:16])}</td>"
                f"<td class='value'>{escape(catalog_path(entry))}</td></tr>"
            )
    notes = []
    if total > len(rows):
        notes.append(f"… and {total - len(rows)} more files")
    if outputs:
        notes.append(
            f"{outputs} captured step outputs (<code>runnable logs {escape(run_log.run_id)} STEP</code> prints one)"
        )
    note = f"<p class='muted'>{'; '.join(notes)}.</p>" if notes else ""
    if not rows:
        return (note or "") + ("<p class='muted'>No files went through the catalog.</p>" if not outputs else "")
    head = "<tr><th>name</th><th>step</th><th>stage</th><th>sha256</th><th>where</th></tr>"
    return f"<table class='catalog'>{head}{''.join(rows)}</table>{note}"


# --- the page ------------------------------------------------------------------------------------------------


def _failure_box(run_log: RunLog) -> str:
    failure = explain_failure(run_log) if run_log.status != "SUCCESS" else None
    if failure is None:
        return ""
    output = f"<br>its output: <code>{escape(failure.output)}</code>" if failure.output else ""
    return (
        f"<section class='failure'><b>{escape(failure.step)}</b>: {escape(failure.message)}{output}"
        f"<br>to retry: <code>{escape(failure.retry)}</code></section>"
    )


def run_report_html(run_log: RunLog, *, graph: Graph | None = None) -> str:
    """The whole report: header (and why it failed), the pipeline with each step's status (given the
    ``graph`` that ran), timeline, steps (composite steps folded), parameters, metrics with charts, catalog."""
    missing = not_run(run_log, graph) if graph is not None else []
    picture = ""
    if graph is not None:
        from runnable.pictures.status import graph_statuses
        from runnable.pictures.svg import to_svg

        svg = to_svg(graph, heading=False, statuses=graph_statuses(run_log))
        picture = f"<h2>Pipeline</h2><section class='picture'>{svg}</section>"
    body = (
        _header(run_log)
        + _failure_box(run_log)
        + picture
        + "<h2>Timeline</h2>"
        + f"<section class='picture'>{timeline_svg(run_log)}</section>"
        + "<h2>Steps</h2>"
        + _steps_table(run_log, missing)
        + "<h2>Parameters</h2>"
        + _parameters_table(run_log)
        + "<h2>Metrics</h2>"
        + _metrics_section(run_log)
        + "<h2>Catalog</h2>"
        + _catalog_section(run_log)
        + "<p class='muted' style='margin-top:28px'>Written by runnable from the run log "
        f"<code>{escape(run_log.run_id)}</code>.</p>"
    )
    return page(f"run {run_log.run_id} · {run_log.status}", body)
