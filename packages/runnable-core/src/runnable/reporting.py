"""What a person sees while a run goes and when it ends: progress with totals, a summary, why a run failed.

The reporter is just another observer of the lifecycle hooks (``run_started``, ``step_started``,
``step_finished``, ``run_finished``). Two audiences:

* a terminal: a status line (``running fit · pipeline 2/5 · 12.3 s · train 42/100 items``) that rich redraws
  about twelve times a second from the reporter's counters (no cost per step), and a line per finished
  step until :data:`LISTED_STEPS` lines were printed;
* a log file or a pipe (CI): no spinner; the same step lines, then one progress line at most every
  ``RUNNABLE_PROGRESS_SECONDS`` (default 10) seconds, so a 1,000-step chain or a 10,000-item map stays a
  short log. Failed steps are always printed.

Forked worker processes (``enable_parallel``) report map progress through counters shared with the parent.
A closed pipe (``runnable execute ... | head``) silences the output; the run goes on.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runnable.hookspecs import hookimpl
from runnable.records import (
    COMPOSITE_TYPES,
    TERMINAL_TYPES,
    display_name,
    explain_failure,
    is_reused,
    node_at,
    not_run,
    retry_command,
)

if TYPE_CHECKING:
    from rich.console import Console

    from runnable.engine.context import RunContext
    from runnable.models.graph import Graph
    from runnable.models.run_log import RunLog, StepLog

logger = logging.getLogger("runnable")

# Step lines printed in full before the reporter switches to rate-limited progress lines (failures always print).
LISTED_STEPS = 50
# Summary rows before steps are collapsed (failed, composite and not-run steps keep their rows).
SUMMARY_ROWS = 50
PROGRESS_ENV = "RUNNABLE_PROGRESS_SECONDS"
_STYLE = {"SUCCESS": "green", "FAIL": "bold red", "PROCESSING": "yellow", "NOT RUN": "dim", "REUSED": "cyan"}
_MARK = {"SUCCESS": "✓", "FAIL": "✗"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


# --- a stdout that survives `| head` -----------------------------------------------------------------------


class PipeSafeStream:
    """Wraps stdout: once the reader of the pipe is gone, writes go nowhere instead of raising.

    ``runnable execute p.yaml | head -1`` must not kill the run: after ``head`` exits every write raises
    ``BrokenPipeError``, in the reporter and in task code alike (task output is teed to stdout). The first one
    points file descriptor 1 at /dev/null, so even the interpreter's last flush at exit is quiet.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._divert()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._divert()

    def isatty(self) -> bool:
        return False if self.broken else self._stream.isatty()

    def _divert(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Make ``sys.stdout`` pipe-safe when it is a pipe (terminals, files and notebooks are left alone)."""
    stream = sys.stdout
    if stream is None or isinstance(stream, PipeSafeStream):
        return
    try:
        is_pipe = stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return
    if is_pipe:
        sys.stdout = PipeSafeStream(stream)  # type: ignore[assignment]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def make_console() -> Console:
    from rich.console import Console

    guard_stdout()
    return Console(file=sys.stdout, highlight=False)


# --- live progress -----------------------------------------------------------------------------------------


def _happy_path(graph: Graph) -> list[str]:
    """The top-level steps a successful run goes through: ``start_at`` then ``next`` until a terminal step."""
    names: dict[str, None] = {}  # ordered and O(1) membership: chains have thousands of steps
    current = graph.start_at
    while current in graph.nodes and not graph.nodes[current].is_terminal and current not in names:
        names[current] = None
        current = graph.nodes[current].next_node
    return list(names)


@dataclass
class _Group:
    """A running composite step: its branches (map items, loop iterations) done out of ``total``."""

    name: str
    kind: str
    total: int | None
    done: int = 0
    failed: int = 0
    next_print: float = 0.0
    shared: Any = None  # (done, failed, next_print) multiprocessing Values while branches run in workers
    record: Any = None  # the composite's StepLog: the engine plans its branches into it after step_started

    def learn_total(self) -> None:
        """Once the branches are planned (all at once for parallel, map and conditional steps), count them."""
        if self.total is None and self.kind != "loop" and self.record is not None and self.record.branches:
            self.total = len(self.record.branches)

    def branch_done(self, failed: bool) -> tuple[int, int]:
        if self.shared is None:
            self.done += 1
            self.failed += failed
            return self.done, self.failed
        done, fails, _ = self.shared
        with done.get_lock():
            done.value += 1
            fails.value += failed
            return done.value, fails.value

    def due(self, now: float, interval: float) -> bool:
        """Whether a progress line may be printed now (shared between worker processes)."""
        if self.shared is None:
            if now < self.next_print:
                return False
            self.next_print = now + interval
            return True
        next_print = self.shared[2]
        with next_print.get_lock():
            if now < next_print.value:
                return False
            next_print.value = now + interval
            return True

    def text(self) -> str:
        total = f"/{self.total}" if self.total is not None else ""
        unit = {"loop": "iterations", "map": "items"}.get(self.kind, "branches")
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.name} {self.done}{total} {unit}{failed}"


class ConsoleReporter:
    """Observes one run and tells a person about it (see the module docstring)."""

    def __init__(self, context: RunContext, console: Console | None = None) -> None:
        self.context = context
        if console is None:
            guard_stdout()
        # rich only on a terminal: in a pipe or a log file the lines are plain text anyway, and importing and
        # running rich would be most of what the console costs a long run (issue 22).
        self.console = console if console is not None else (make_console() if _isatty(sys.stdout) else None)
        self.live = self.console is not None and self.console.is_terminal
        self.pid = os.getpid()
        self.started = time.monotonic()
        self.path = set(_happy_path(context.graph))
        self.total = len(self.path)
        self.done = 0
        self.listed = 0  # top-level step lines printed
        self.listed_nested = 0  # step lines inside branches printed
        self.quiet_branches = False
        self.groups: dict[str, _Group] = {}
        self.running = ""
        self.status: Any = None
        self.next_progress = 0.0
        self.debug = logger.isEnabledFor(logging.DEBUG)  # read once: a disabled debug log costs nothing per step
        interval = os.environ.get(PROGRESS_ENV, "")
        try:
            self.interval = float(interval) if interval else (1.0 if self.live else 10.0)
        except ValueError:
            self.interval = 10.0

    # --- parallel branches in forked processes ---

    def pause(self) -> None:
        """Called before branches fork: stop the spinner (no thread may hold the console's lock across a fork)
        and share the fanned-out composite's counters with the workers."""
        if self.status is not None:
            self.status.stop()
        group = self._innermost_group()
        if group is not None:
            group.learn_total()  # the workers inherit it
        if group is not None and group.shared is None:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            group.shared = (ctx.Value("i", group.done), ctx.Value("i", group.failed), ctx.Value("d", group.next_print))

    def resume(self) -> None:
        for group in self.groups.values():
            if group.shared is not None:
                group.done, group.failed = group.shared[0].value, group.shared[1].value
                group.shared = None
        if self.status is not None:
            self.status.start()

    def _shown(self, internal_name: str) -> str:
        run_log = self.context.run_log
        return display_name(run_log, internal_name) if run_log is not None else internal_name

    def _in_worker(self) -> bool:
        return os.getpid() != self.pid

    def _innermost_group(self) -> _Group | None:
        return next(reversed(self.groups.values()), None) if self.groups else None

    # --- hooks ---

    @hookimpl
    def run_started(self, run_log: RunLog) -> None:
        name = f" {run_log.pipeline_name}" if run_log.pipeline_name else ""
        total = f" ({self.total} steps)" if self.total else ""
        retry = f", a retry of run {run_log.original_run_id}" if run_log.original_run_id else ""
        self._line([("runnable", "bold"), (" run ", ""), (run_log.run_id, "cyan"), (f"{name}{total}{retry}", "")])
        if self.live:
            self.status = self.console.status(self, spinner="dots")  # type: ignore[arg-type]
            self.status.start()

    @hookimpl
    def step_started(self, run_id: str, step_log: StepLog) -> None:
        kind = step_log.step_type
        if kind in TERMINAL_TYPES:
            return
        name = step_log.internal_name
        if "." not in name and name not in self.path:  # an on_failure path: it counts from now on
            self.path.add(name)
            self.total += 1
        elif "." in name:  # a step of a branch: its composite has planned its branches by now
            parent = self.groups.get(name.rsplit(".", 2)[0])
            if parent is not None and parent.total is None:
                parent.learn_total()
        if kind in COMPOSITE_TYPES:
            total = self._branch_total(step_log)
            group = self.groups[name] = _Group(self._shown(name), kind, total, record=step_log)
            group.next_print = time.monotonic() + self.interval
        if self.debug:
            logger.debug("step %r started (%s)", self._shown(name), kind)
        self.running = name

    @hookimpl
    def step_finished(
        self, run_id: str, step_log: StepLog, parameters: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        kind = step_log.step_type
        name = step_log.internal_name
        if kind in TERMINAL_TYPES:
            if "." in name:  # a branch reached its end: one more item/branch/iteration of its composite
                group = self.groups.get(name.rsplit(".", 2)[0])
                if group is not None:
                    group.learn_total()
                    group.done, group.failed = group.branch_done(kind == "fail")
                    self._group_progress(group)
            return
        if self.debug:
            logger.debug("step %r ended %s in %s", self._shown(name), step_log.status, _duration(step_log.duration))
        nested = "." in name
        group = self.groups.pop(name, None) if kind in COMPOSITE_TYPES else None
        if not nested:
            self.done += 1
        self._step_line(step_log, group)

    @hookimpl
    def run_finished(self, run_log: RunLog) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        failed = any(s.status == "FAIL" for s in run_log.iter_steps())
        graph = self.context.graph if failed and not self.context.job else None
        store = self.context.run_log_store.masked_config()
        if self.console is not None:
            print_summary(self.console, run_log, store, graph=graph)
        else:
            sys.stdout.write(summary_text(run_log, store, graph=graph))
            sys.stdout.flush()

    # --- output ---

    def _line(self, segments: list[tuple[str, str]]) -> None:
        """One line of (text, style) pieces: styled on a terminal, plain text everywhere else."""
        if self.console is not None:
            from rich.text import Text

            # Styled Text, not markup: rich renders it at about half the cost, and a name or message holding
            # brackets cannot be taken for markup. soft_wrap keeps a step on one line of a CI log.
            self.console.print(Text.assemble(*segments), soft_wrap=True)
        else:
            sys.stdout.write("".join(text for text, _ in segments) + "\n")

    def _step_line(self, step_log: StepLog, group: _Group | None) -> None:
        nested = "." in step_log.internal_name
        failed = step_log.status == "FAIL"
        now = time.monotonic()
        if not failed:
            if nested and (self.listed_nested >= LISTED_STEPS or self._in_worker()):
                if not self.quiet_branches and not self._in_worker():
                    self.quiet_branches = True
                    self._line([("  … steps inside branches: progress only from here on", "dim")])
                return
            if not nested and self.listed >= LISTED_STEPS:
                if now >= self.next_progress or self.done == self.total:
                    self.next_progress = now + self.interval
                    self._line([(f"  … {self._pipeline_progress(now)}", "dim")])
                return
        if nested:
            self.listed_nested += 1
        else:
            self.listed += 1
        style = _STYLE.get(step_log.status, "")
        mark = _MARK.get(step_log.status, "·")
        if is_reused(step_log):
            style, mark = _STYLE["REUSED"], "↺"
        shown = display_name(self.context.run_log, step_log.internal_name) if nested and self.context.run_log else None
        line = [("  ", ""), (mark, style), (f" {shown or step_log.internal_name}  ", "")]
        line.append(("reused" if is_reused(step_log) else _duration(step_log.duration), "dim"))
        if group is not None:
            line.append((f"  {group.text().split(' ', 1)[1]}", "dim"))
        if not nested:
            line.append((f"  [{self._pipeline_progress(now)}]", "dim"))
        if failed and step_log.message:
            line.append((f"\n    {step_log.message}", "red"))
        self._line(line)

    def _group_progress(self, group: _Group) -> None:
        if self.live and not self._in_worker():
            return
        now = time.monotonic()
        finished = group.total is not None and group.done >= group.total
        if finished or not group.due(now, self.interval):
            return  # the composite's own line says how it ended
        self._line([(f"  … {group.text()} · {_elapsed(now - self.started)}", "dim")])

    def _pipeline_progress(self, now: float) -> str:
        return f"{self.done}/{self.total} · {_elapsed(now - self.started)}"

    def __rich__(self) -> str:
        """The terminal's status line, rendered by rich's refresh thread (about 12 times a second)."""
        run_log = self.context.run_log
        running = display_name(run_log, self.running) if run_log is not None else self.running
        parts = [f"running [bold]{_escape(running)}[/bold]", f"pipeline {self._pipeline_progress(time.monotonic())}"]
        parts += [g.text() for g in list(self.groups.values())]
        return " · ".join(parts)

    def _branch_total(self, step_log: StepLog) -> int | None:
        """How many branches a composite step will run, when it can be known as it starts.

        Best: the engine created the branch records before telling the observers. Else from the graph
        (parallel branches; a conditional runs one) or, for a top-level map, from the run's parameters.
        """
        if step_log.branches:
            return len(step_log.branches)
        from runnable.models.graph import ConditionalNode, MapNode, ParallelNode

        node = node_at(self.context.graph, step_log.internal_name)
        if isinstance(node, ParallelNode):
            return len(node.branches)
        if isinstance(node, ConditionalNode):
            return 1
        if isinstance(node, MapNode) and "." not in step_log.internal_name:
            parameter = self.context.parameters.get(node.iterate_on)
            if parameter is not None and parameter.kind == "json" and isinstance(parameter.value, list):
                return len(parameter.value)
        return None


# --- the end-of-run summary ----------------------------------------------------------------------------------


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _branch_counts(step: StepLog) -> tuple[int, int, int]:
    """Branches, steps inside them (at any depth) and how many of those failed."""
    from runnable.models.run_log import walk_steps

    inner = failed = 0
    walk = walk_steps({step.internal_name: step})  # one walk over every branch, not a walk per branch
    next(walk)  # the composite step itself
    for inside in walk:
        if inside.step_type not in TERMINAL_TYPES:
            inner += 1
            failed += inside.status == "FAIL"
    return len(step.branches), inner, failed


def step_note(step: StepLog, run_log: RunLog) -> str:
    """The ``notes`` cell: what a composite ran, retries, reuse, mocking."""
    if step.mock:
        return "mocked"
    if is_reused(step):
        return f"reused from {run_log.original_run_id or 'the original run'}"
    if step.branches:
        branches, inner, failed = _branch_counts(step)
        one, many = {"map": ("item", "items"), "loop": ("iteration", "iterations")}.get(
            step.step_type, ("branch", "branches")
        )
        note = f"{_count(branches, one, many)}, {_count(inner, 'step', 'steps')}"
        return note + (f", {failed} failed" if failed else "")
    if len(step.attempts) > 1:
        return f"{len(step.attempts)} attempts"
    return ""


def summary_rows(run_log: RunLog, graph: Graph | None = None, *, max_rows: int = SUMMARY_ROWS) -> list[tuple[str, ...]]:
    """(step, status, duration, notes) rows: every step up to ``max_rows``; beyond, successful steps inside
    branches are counted on their composite's row, and a last row counts the successful steps left out.

    Steps of ``graph`` that never ran (after a handled failure) get a ``NOT RUN`` row.
    """
    steps = [s for s in run_log.iter_steps() if s.step_type not in TERMINAL_TYPES]
    missing = not_run(run_log, graph) if graph is not None else []
    collapse = len(steps) + len(missing) > max_rows
    rows: list[tuple[str, ...]] = []
    left_out = 0
    for step in steps:
        reused = is_reused(step)  # once per step: a 10,000-item map's summary asks for each item
        keep = step.status == "FAIL" or step.step_type in COMPOSITE_TYPES or reused
        if collapse and not keep and ("." in step.internal_name or len(rows) >= max_rows):
            left_out += 1
            continue
        duration = "-" if reused else _duration(step.duration)
        status = "REUSED" if reused else step.status
        rows.append((display_name(run_log, step.internal_name), status, duration, step_note(step, run_log)))
    for name in missing:
        rows.append((display_name(run_log, name), "NOT RUN", "-", "after a failure, this step never started"))
    if left_out:
        rows.append((f"… {left_out} more", "SUCCESS", "", "not listed: runs show --json"))
    return rows


def _footer(run_log: RunLog, store: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The lines under the table: status, duration, where the record is, whose retry; for a failed run which
    step failed and why, where its output is and how to retry."""
    total = None
    if run_log.start_time and run_log.end_time:
        total = (run_log.end_time - run_log.start_time).total_seconds()
    config = store.get("config", {})
    location = config.get("log_folder") or config.get("location") or ""
    where = f"{store.get('type')}: {location}" if location else str(store.get("type"))
    first = [(run_log.status, _STYLE.get(run_log.status, "")), (f" in {_duration(total)} · run log ", "")]
    first += [(run_log.run_id, "cyan"), (f" ({where})", "")]
    if run_log.original_run_id:
        first += [(" · retry of run ", ""), (run_log.original_run_id, "cyan")]
    lines = [first]
    if run_log.status != "SUCCESS":
        failure = explain_failure(run_log)
        if failure is not None:
            lines += [[(line, "red" if line.startswith("failed step") else "")] for line in failure.lines()]
        elif run_log.job is None:
            lines.append([(f"to retry: {retry_command(run_log)}", "")])
    return lines


_HEADINGS = ("step", "status", "duration", "notes")


def summary_text(
    run_log: RunLog, store: dict[str, Any], *, graph: Graph | None = None, max_rows: int = SUMMARY_ROWS
) -> str:
    """The summary as plain text (a log file, a pipe): the same rows and lines as :func:`print_summary`."""
    rows = [_HEADINGS, *summary_rows(run_log, graph, max_rows=max_rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]

    def cells(row: tuple[str, ...]) -> str:
        padded = [row[i].rjust(widths[i]) if i == 2 else row[i].ljust(widths[i]) for i in range(4)]
        return (" " + " │ ".join(padded)).rstrip()

    out = [cells(rows[0]), "─" + "─┼─".join("─" * w for w in widths) + "─"]
    out += [cells(row) for row in rows[1:]]
    out += ["".join(text for text, _ in line) for line in _footer(run_log, store)]
    return "\n".join(out) + "\n"


def print_summary(
    console: Console,
    run_log: RunLog,
    store: dict[str, Any],
    *,
    graph: Graph | None = None,
    max_rows: int = SUMMARY_ROWS,
) -> None:
    """The table of steps, the run's status and where its record is, and for a failed run: which step, why,
    where its output is and how to retry."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False)
    for column, justify in zip(_HEADINGS, ("left", "left", "right", "left"), strict=True):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, status, duration, note in summary_rows(run_log, graph, max_rows=max_rows):
        # Text cells skip markup parsing, and a step name with brackets shows as written.
        table.add_row(Text(name), Text(status, style=_STYLE.get(status, "")), Text(duration), Text(note, "dim"))
    console.print(table)
    for line in _footer(run_log, store):
        console.print(Text.assemble(*line), soft_wrap=True)
