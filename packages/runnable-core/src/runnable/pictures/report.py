"""A run as one standalone HTML page: what ran, when, for how long, with which parameters and metrics.

``runnable runs show`` answers in a terminal; this page is for the moments a terminal is the wrong place:
attaching a run to a ticket or a review, archiving it next to a model, looking at a long run's timeline.
Everything shown comes from the run log (whose configuration already has secrets masked), and every piece
of user text is escaped, so a step message or a parameter value cannot inject markup.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from runnable.models.parameters import ObjectParameter
from runnable.models.run_log import RunLog, StepAttempt, StepLog
from runnable.pictures._common import shorten
from runnable.pictures._page import page

BAR_COLOURS = {"SUCCESS": "#34a853", "FAIL": "#ea4335", "PROCESSING": "#f9ab00", "CREATED": "#9aa0a6"}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', 'Liberation Sans', sans-serif"
ROW_H, BAR_H = 24, 14
LABEL_MAX_W, BARS_W = 340, 720
VALUE_CHARS = 160  # longer parameter values are cut in the tables (the full value is in the cell's tooltip)
COMPOSITE_TYPES = ("parallel", "map", "conditional", "loop")


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


def timeline_svg(run_log: RunLog) -> str:
    """A Gantt chart of every step (branch steps indented under their composite step), bars by status."""
    steps = _shown_steps(run_log)
    moments = [m for s in steps for a in s.attempts for m in (a.start_time, a.end_time) if m is not None]
    moments += [m for m in (run_log.start_time, run_log.end_time) if m is not None]
    if not steps or not moments:
        return "<p class='muted'>No step recorded a start time.</p>"
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 0.001)
    label_w = min(LABEL_MAX_W, max(14 * _depth(s) + len(_label(s)) * 7.5 for s in steps) + 24)
    duration_w = 110  # room right of the bars for the duration text of the latest bar
    width = label_w + BARS_W + duration_w
    top = 28
    height = top + ROW_H * len(steps) + 8
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
    for row, step in enumerate(steps):
        y = top + row * ROW_H
        if row % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="#f8f9fa"/>')
        depth = _depth(step)
        composite = step.step_type in COMPOSITE_TYPES
        label = shorten(_label(step), int((label_w - 16 - 14 * depth) / 7.5))
        weight = ' font-weight="600"' if depth == 0 else ""
        parts.append(
            f'<text x="{8 + 14 * depth}" y="{y + 16}" font-size="12.5"{weight} fill="#202124">{escape(label)}</text>'
        )
        bar_end = label_w
        for attempt in step.attempts:
            bounds = _attempt_bounds(attempt)
            if bounds is None:
                continue
            x1, x2 = x_at(bounds[0]), x_at(bounds[1])
            colour = BAR_COLOURS.get(attempt.status, BAR_COLOURS["CREATED"])
            style = f'fill="{colour}" fill-opacity="0.3" stroke="{colour}"' if composite else f'fill="{colour}"'
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
        text = duration_text(step.duration) if step.attempts else "not run"
        if len(step.attempts) > 1:
            text += f" · {len(step.attempts)} attempts"
        parts.append(f'<text x="{bar_end + 6:.1f}" y="{y + 16}" font-size="11" fill="#5f6368">{escape(text)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="{escape(FONT)}" role="img" '
        f'aria-label="timeline of run {escape(run_log.run_id)}">' + "".join(parts) + "</svg>"
    )


# --- tables ----------------------------------------------------------------------------------------------


def _steps_table(run_log: RunLog) -> str:
    rows = []
    for step in _shown_steps(run_log):
        indent = 14 * _depth(step)
        message = step.message or (step.attempts[-1].message if step.attempts else "")
        message_cell = escape(shorten(message, 200)) if message else ""
        started = step.attempts[0].start_time if step.attempts else None
        rows.append(
            f"<tr><td style='padding-left:{10 + indent}px' title='{escape(step.internal_name)}'>"
            f"{escape(_label(step))}</td><td>{escape(step.step_type)}</td>"
            f"<td><span class='badge {escape(step.status)}'>{escape(step.status)}</span></td>"
            f"<td class='num'>{escape(_time(started)[11:] if started else '-')}</td>"
            f"<td class='num'>{escape(duration_text(step.duration))}</td>"
            f"<td class='num'>{len(step.attempts)}</td><td title='{escape(message)}'>{message_cell}</td></tr>"
        )
    head = "<tr><th>step</th><th>type</th><th>status</th><th>started</th><th>duration</th><th>attempts</th>"
    head += "<th>message</th></tr>"
    return f"<table class='steps'>{head}{''.join(rows)}</table>"


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


def _metrics_table(run_log: RunLog) -> str:
    rows = []
    for step in _shown_steps(run_log):
        if not step.attempts:
            continue
        for name, value in step.attempts[-1].user_defined_metrics.items():
            text = _value_text(value)
            rows.append(
                f"<tr><td title='{escape(step.internal_name)}'>{escape(step.internal_name)}</td>"
                f"<td><code>{escape(name)}</code></td><td class='value'>{escape(shorten(text, VALUE_CHARS))}</td></tr>"
            )
    if not rows:
        return "<p class='muted'>No metrics recorded.</p>"
    head = "<tr><th>step</th><th>metric</th><th>value</th></tr>"
    return f"<table class='metrics'>{head}{''.join(rows)}</table>"


def run_report_html(run_log: RunLog) -> str:
    """The whole report: header, timeline, steps, parameters (initial and final) and metrics per step."""
    body = (
        _header(run_log)
        + "<h2>Timeline</h2>"
        + f"<section class='picture'>{timeline_svg(run_log)}</section>"
        + "<h2>Steps</h2>"
        + _steps_table(run_log)
        + "<h2>Parameters</h2>"
        + _parameters_table(run_log)
        + "<h2>Metrics</h2>"
        + _metrics_table(run_log)
        + "<p class='muted' style='margin-top:28px'>Written by runnable from the run log "
        f"<code>{escape(run_log.run_id)}</code>.</p>"
    )
    return page(f"run {run_log.run_id} · {run_log.status}", body)
